/** The deploy action's inputs, checked and turned into a DeployConfig (every problem reported at once). */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import path from 'node:path';
import type { Problem, Parsed } from '../inputs/schema.js';
import { IMAGE_REF, envFileSecrets, lowercaseRepository } from '../inputs/common.js';
import { resolveSshInto, type SshSetup } from '../inputs/ssh.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets } from '../health/spec.js';
import type { LockSite } from '../host/lock.js';
import type { schema } from '../schemas/deploy.js';
import type { Caller } from './caller.js';
import type { DeployConfig } from './deploy.js';
import { runMigration } from '../deploy/migration.js';
import { confirmPolicy } from '../deploy/switch.js';
import { stackVars } from '../deploy/swarm.js';

export interface PreparedDeploy {
  cfg: DeployConfig;
  ssh: SshSetup;
  version: string;
}

/** Volumes a compose file's services use that belong to the project (not external, not a host path). */
export function namedVolumes(text: string): string[] {
  let doc: { services?: Record<string, { volumes?: unknown[] }>; volumes?: Record<string, { external?: unknown } | null> };
  try {
    doc = (parseYaml(text) ?? {}) as typeof doc;
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const svc of Object.values(doc.services ?? {})) {
    for (const v of svc?.volumes ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : typeof v === 'object' && v && 'source' in v ? String((v as { source: unknown }).source) : '';
      const type = typeof v === 'object' && v && 'type' in v ? String((v as { type: unknown }).type) : 'volume';
      if (!source || type !== 'volume' || /^[./~$]/.test(source)) continue;
      if (doc.volumes?.[source]?.external) continue;
      out.add(source);
    }
  }
  return [...out];
}

export function prepareDeploy(v: Parsed<typeof schema>, problems: Problem[], c: Caller, onLocked: (held: LockSite[], id: string) => void): PreparedDeploy | undefined {
  const spec = healthSpec(v, 'health-', problems);
  maskHealthSecrets(spec, c.mask);
  const tlsWarning = insecureTlsWarning(spec, 'health-');
  if (tlsWarning) c.logger.warning(tlsWarning);
  // Each value of the env file, too: a tool that prints just the value must not show it.
  for (const value of envFileSecrets(v['env-file'] ?? '')) c.mask(value);
  const ssh = resolveSshInto(v, problems, { workspace: c.workspace, logger: c.logger });
  const ws = c.workspace;

  let compose: DeployConfig['compose'];
  let files: DeployConfig['files'];
  if (v.strategy === 'compose' || v.strategy === 'swarm') {
    const names = new Set<string>();
    const read = v['compose-file'].flatMap((f) => {
      const p = path.resolve(ws, f);
      if (!existsSync(p)) {
        problems.push({ input: 'compose-file', message: `'${f}' does not exist in the workspace (${p}); check out the repository first or fix the path` });
        return [];
      }
      const name = path.basename(p);
      if (names.has(name)) problems.push({ input: 'compose-file', message: `two compose files are named '${name}'` });
      names.add(name);
      return [{ name, content: readFileSync(p) }];
    });
    const image = v.image ? lowercaseRepository(v.image) : undefined;
    if (image && image !== v.image) c.logger.info(`image ${v.image} is used as ${image} (registries take lowercase repository names)`);
    if (image && !IMAGE_REF.test(image)) problems.push({ input: 'image', message: `'${v.image}' is not an image reference (e.g. ghcr.io/acme/shop:1.2.3 or ghcr.io/acme/shop@sha256:...)` });
    compose = { files: read, env: v['env-file'] ?? '', services: v.services, image };
  } else {
    if (!v.source) problems.push({ input: 'source', message: "is required for strategy 'release' (a directory or tarball in the workspace)" });
    else if (!existsSync(path.resolve(ws, v.source))) problems.push({ input: 'source', message: `'${v.source}' does not exist in the workspace` });
    // Hard links are shared with older releases: only when nothing of this deploy runs inside the release.
    const writers = [v['build-command'], v['restart-command'], v['pre-deploy'], v['post-deploy'], v['migrate-command'] && v['migrate-mode'] === 'host' ? v['migrate-command'] : undefined];
    const reuse = v['unchanged-files'] === 'auto' ? (writers.some(Boolean) ? 'copy' : 'link') : v['unchanged-files'];
    files = { source: path.resolve(ws, v.source ?? '.'), sharedPaths: v['shared-paths'], buildCommand: v['build-command'], restartCommand: v['restart-command'], reuse };
  }
  if (v.strategy === 'swarm') {
    const where = (input: string, message: string) => problems.push({ input, message });
    if (v.services.length) where('services', "cannot be used with strategy 'swarm': 'docker stack deploy' updates every service of the stack (leave it empty)");
    if (v['zero-downtime'])
      where('zero-downtime', "is for strategy 'compose'; with 'swarm', Swarm rolls the tasks itself: set deploy.update_config (order: start-first, failure_action: rollback) in the stack file");
    if (v['migrate-command'] && v['migrate-mode'] !== 'host') {
      where(
        'migrate-mode',
        `'${v['migrate-mode']}' needs the compose strategy; with 'swarm' use 'host' (the command runs on the manager in the release directory, e.g. docker run --rm --env-file stack.env ...)`,
      );
    }
    if (compose) {
      try {
        // The values as the stack gets them (quotes and escapes removed) are masked too.
        const vars = stackVars(compose.env);
        for (const value of envFileSecrets([...vars].map(([k, val]) => `${k}=${val}`).join('\n'))) c.mask(value);
      } catch (e) {
        where('env-file', (e as Error).message.replace(/^env-file /, ''));
      }
    }
  }
  let blueGreen: DeployConfig['blueGreen'];
  if (v['zero-downtime']) {
    const where = (input: string, message: string) => problems.push({ input, message });
    if (v.strategy !== 'compose') where('zero-downtime', "needs strategy 'compose' (two colors of the app's containers behind a proxy)");
    if (!v['proxy-port']) where('proxy-port', 'is required with zero-downtime: where the proxy listens for the app, e.g. 80 or 127.0.0.1:8080');
    if (!spec.urls?.length) where('health-url', 'is required with zero-downtime: a color gets traffic only once it answers on the health path');
    const proxyPort = Number((v['proxy-port'] ?? '').split(':').pop());
    if (v['proxy-port'] && !(proxyPort >= 1 && proxyPort <= 65535)) where('proxy-port', `'${v['proxy-port']}' is not a port (1-65535)`);
    if (v['migrate-command'] && v['migrate-mode'] === 'exec') {
      where('migrate-mode', "exec runs in the release's running container, which zero-downtime boots only at the switch: use compose-run (a one-off container of the new release) or host");
    }
    for (const f of compose?.files ?? []) {
      const named = namedVolumes(f.content.toString('utf8'));
      if (named.length) {
        where(
          'compose-file',
          `${f.name}: with zero-downtime each color is its own compose project, so the project-scoped volume(s) ${named.join(', ')} would be a separate copy per color (a database would start empty). Both colors run side by side during a switch, so a database must not be a service of this file: run it as a compose project of its own (or outside compose) and reach it from the app; keep here only volumes two copies of the app may share, declared external (external: true, created once) or as a host path`,
        );
      }
    }
    const base = v['app-port'];
    if (proxyPort === base || proxyPort === base + 1) {
      where('app-port', `the colors use ports ${base} (blue) and ${base + 1} (green), and the proxy listens on ${proxyPort}: pick ports that do not clash`);
    }
    if (v.strategy === 'compose' && compose?.files.length && !compose.files.some((f) => /\$\{?OPS_PORT\b/.test(f.content.toString('utf8')))) {
      where(
        'compose-file',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's own ${...} syntax, shown to the user
        "has no service that listens on ${OPS_PORT}: with zero-downtime each color runs on its own port, e.g. ports: ['127.0.0.1:${OPS_PORT}:8000'] or environment: { PORT: '${OPS_PORT}' } with network_mode: host",
      );
    }
    const url = spec.urls?.[0];
    const readyPath = url ? `${url.pathname}${url.search}` : '/';
    const slug = `${v.app}_${v.environment}`.replace(/[^A-Za-z0-9_]/g, '_');
    blueGreen = {
      base_port: base,
      proxy: v.proxy,
      listen: v['proxy-port'] ?? '',
      config: v['proxy-config'] || `/etc/nginx/conf.d/ops-${v.app}-${v.environment}.conf`,
      test_command: v['proxy-test-command'],
      reload_command: v['proxy-reload-command'],
      upstream: `ops_${slug}`,
      ready_path: readyPath,
      ready_timeout_s: Math.max(1, Math.ceil(spec.timeoutMs / 1000)),
      drain_s: Math.ceil(v['drain-timeout'] / 1000),
    };
  }
  if (v['auto-rollback'] === true && !spec.urls?.length) problems.push({ input: 'auto-rollback', message: "is true but there is no 'health-url' to decide when to roll back" });
  const autoRollback = v['auto-rollback'] ?? true;
  // The switch's own time beyond a plain switch: blue-green waits for the color (up to
  // health-timeout) and drains the old one; a swarm waits for the stack to converge.
  const switchMs = (blueGreen ? spec.timeoutMs + v['drain-timeout'] : 0) + (v.strategy === 'swarm' ? v['converge-timeout'] : 0);
  const confirm = confirmPolicy(
    {
      confirmTimeoutMs: v['confirm-timeout'],
      gateTimeoutMs: spec.urls.length ? spec.timeoutMs + switchMs : switchMs || undefined,
      lockTimeoutMs: v['lock-timeout'],
      autoRollback: autoRollback || !spec.urls.length,
    },
    problems,
    (m) => c.logger.warning(m),
  );
  if (v.strategy === 'swarm' && ssh && ssh.targets.length !== 1) {
    problems.push({
      input: 'hosts',
      message: `strategy 'swarm' deploys through one Swarm manager, but ${ssh.targets.length} hosts are listed: name one manager (Swarm spreads the tasks over its nodes); the release history and lock live there`,
    });
  }
  if (problems.length || !ssh) return undefined;

  const version = v.version || c.sha.slice(0, 7) || 'manual';
  const run = { app: v.app, environment: v.environment, version, sha: c.sha, actor: c.actor, runUrl: c.runUrl, runId: c.runId };
  const cfg: DeployConfig = {
    run,
    appDir: v['app-dir'] || `~/apps/${v.app}-${v.environment}`,
    strategy: v.strategy,
    compose,
    files,
    blueGreen,
    ...(v.strategy === 'swarm' ? { swarm: { convergeTimeoutMs: v['converge-timeout'] } } : {}),
    keepReleases: v['keep-releases'],
    hooks: { preDeploy: v['pre-deploy'], postDeploy: v['post-deploy'], onFailure: v['on-failure'] },
    gate: spec.urls.length ? { spec, autoRollback } : undefined,
    fleet: { maxParallel: ssh.maxParallel, canary: v.canary, onHostFailure: v['on-host-failure'] },
    lock: { timeoutMs: v['lock-timeout'], ttlMs: v['lock-ttl'] },
    confirm,
    diagnostics: { lines: v['diagnostics-lines'], command: v['diagnostics-command'] },
    commandTimeoutMs: ssh.options.commandTimeoutMs,
    beforeSwitch: v['migrate-command']
      ? async (hosts, release) => {
          if (v['migrate-mode'] !== 'host' && release.strategy !== 'compose') throw new Error(`migrate-mode '${v['migrate-mode']}' needs the compose strategy; use 'host'`);
          await runMigration(hosts[0]!, release, { command: v['migrate-command']!, mode: v['migrate-mode'], service: v['migrate-service'], timeoutMs: v['migrate-timeout'] }, run, c.logger);
        }
      : undefined,
    onLocked,
  };
  return { cfg, ssh, version };
}
