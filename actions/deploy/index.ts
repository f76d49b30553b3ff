import '../../src/action/esm-shim.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { IMAGE_REF } from '../../src/inputs/common.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets } from '../../src/health/spec.js';
import { SshPool } from '../../src/host/pool.js';
import { deploy, type DeployConfig } from '../../src/flows/deploy.js';
import { clearLocks, releaseSavedLocks, saveLocks } from '../../src/action/locks.js';
import { envFileSecrets } from '../../src/inputs/common.js';
import { deploySummary } from '../../src/report/deploy.js';
import { startDeployment } from '../../src/report/github.js';
import { runMigration } from '../../src/flows/migrate.js';
import { schema } from './schema.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  const spec = healthSpec(v, 'health-', problems);
  maskHealthSecrets(spec, ctx.inputs.mask);
  const tlsWarning = insecureTlsWarning(spec, 'health-');
  if (tlsWarning) ctx.logger.warning(tlsWarning);
  // Each value of the env file, too: a tool that prints just the value must not show it.
  for (const value of envFileSecrets(v['env-file'] ?? '')) ctx.inputs.mask(value);
  const ssh = resolveSshInto(v, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  const ws = ctx.run.workspace;

  let compose: DeployConfig['compose'];
  let files: DeployConfig['files'];
  if (v.strategy === 'compose') {
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
    if (v.image && !IMAGE_REF.test(v.image)) problems.push({ input: 'image', message: `'${v.image}' is not an image reference (e.g. ghcr.io/acme/shop:1.2.3 or ghcr.io/acme/shop@sha256:...)` });
    compose = { files: read, env: v['env-file'] ?? '', services: v.services, image: v.image };
  } else {
    if (!v.source) problems.push({ input: 'source', message: "is required for strategy 'release' (a directory or tarball in the workspace)" });
    else if (!existsSync(path.resolve(ws, v.source))) problems.push({ input: 'source', message: `'${v.source}' does not exist in the workspace` });
    files = { source: path.resolve(ws, v.source ?? '.'), sharedPaths: v['shared-paths'], buildCommand: v['build-command'], restartCommand: v['restart-command'] };
  }
  if (v['auto-rollback'] === true && !spec.urls?.length) problems.push({ input: 'auto-rollback', message: "is true but there is no 'health-url' to decide when to roll back" });
  if (problems.length) throw new InputError(problems);

  const version = v.version || ctx.run.sha.slice(0, 7) || 'manual';
  const run = { app: v.app, environment: v.environment, version, sha: ctx.run.sha, actor: ctx.run.actor, runUrl: ctx.run.runUrl, runId: ctx.run.runId };
  const appDir = v['app-dir'] || `~/apps/${v.app}-${v.environment}`;
  const cfg: DeployConfig = {
    run,
    appDir,
    strategy: v.strategy,
    compose,
    files,
    keepReleases: v['keep-releases'],
    hooks: { preDeploy: v['pre-deploy'], postDeploy: v['post-deploy'], onFailure: v['on-failure'] },
    gate: spec.urls.length ? { spec, autoRollback: v['auto-rollback'] ?? true } : undefined,
    fleet: { maxParallel: ssh!.maxParallel, canary: v.canary, onHostFailure: v['on-host-failure'] },
    lock: { timeoutMs: v['lock-timeout'], ttlMs: v['lock-ttl'] },
    commandTimeoutMs: ssh!.options.commandTimeoutMs,
    beforeSwitch: v['migrate-command']
      ? async (hosts, release) => {
          if (v['migrate-mode'] !== 'host' && release.strategy !== 'compose') throw new Error(`migrate-mode '${v['migrate-mode']}' needs the compose strategy; use 'host'`);
          await runMigration(hosts[0]!, release, { command: v['migrate-command']!, mode: v['migrate-mode'], service: v['migrate-service'], timeoutMs: v['migrate-timeout'] }, run, ctx.logger);
        }
      : undefined,
    onLocked: (held, id) => saveLocks(ctx, held, id),
  };
  const gh = v['github-deployment']
    ? await startDeployment({
        token: v['github-token'] || process.env.GITHUB_TOKEN,
        repository: ctx.run.repository,
        ref: ctx.run.sha,
        environment: v.environment,
        environmentUrl: v['environment-url'],
        logUrl: ctx.run.runUrl,
        description: `${v.app} ${version}`,
        payload: { app: v.app, version },
        logger: ctx.logger,
      })
    : undefined;

  const pool = new SshPool(ssh!.options);
  let result;
  try {
    result = await deploy(cfg, pool, ssh!.targets, ctx.logger);
    clearLocks(ctx);
  } catch (e) {
    await gh?.setStatus('failure', (e as Error).message.split('\n')[0]!);
    throw e;
  } finally {
    await pool.closeAll();
  }
  const by = (r: string) => result.hosts.filter((h) => h.result === r).map((h) => h.host);
  ctx.setOutput('release-id', result.release.id);
  ctx.setOutput('previous-release-id', result.previous ?? '');
  ctx.setOutput('version', version);
  ctx.setOutput('image-digest', result.release.image_digest ?? '');
  ctx.setOutput('hosts-succeeded', by('succeeded').join(','));
  ctx.setOutput('hosts-failed', [...by('failed'), ...by('rolled-back')].join(','));
  ctx.setOutput('rolled-back', result.rolledBack);
  await ctx.summary(deploySummary(result, `Deploy ${v.app} to ${v.environment}`));
  await gh?.setStatus(result.ok ? 'success' : 'failure', result.ok ? `${version} is live` : (result.error ?? 'failed').split('\n')[0]!);
  if (!result.ok) throw new Error(result.error);
  ctx.logger.info(`release ${result.release.id} is live on ${result.hosts.length} host(s)`);
}

/** The post step: if the main step died holding locks, release them. */
async function post(ctx: ActionContext) {
  await releaseSavedLocks(ctx, schema);
}

runAction(main, post);
