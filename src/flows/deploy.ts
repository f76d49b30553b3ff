import { statSync } from 'node:fs';
/**
 * A deploy, as data flowing through:
 * targets → read every host's state → lock every host (canonical order) → stage the
 * release on every host → [migrate once] → per host (max-parallel, canary): pre-deploy
 * hook → switch → health gate → on failure: back to the previous release (same path),
 * mark the new one bad → record history → prune → post-deploy → unlock.
 * A failure before switching changes nothing that serves traffic; a lost lock stops the
 * run at the next phase boundary. Every failure is a result (with a line per host), not
 * an exception, so the action can always write outputs and the summary.
 */
import type { Target } from '../host/target.js';
import { forEachHost, type HostResult } from '../fleet/run.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { SshPool } from '../host/pool.js';
import { checkHealth, type HealthResult } from '../health/check.js';
import type { HealthSpec } from '../health/spec.js';
import { LockLostError, type HeldLocks, type LockSite } from '../host/lock.js';
import { newReleaseId } from '../host/layout.js';
import { planPrune, type BlueGreen, type ReleaseManifest } from '../host/state.js';
import { Timeline } from '../host/timeline.js';
import { formatDuration } from '../text.js';
import { containerProblems, readContainers, stageCompose, type ComposeSource } from '../deploy/compose.js';
import { stageFiles, type FilesSource } from '../deploy/files.js';
import { lastStatus, readStack, rollbackSwarm, stackProblems, stageSwarm } from '../deploy/swarm.js';
import { swarmRoleCommand } from '../commands/index.js';
import { activate, armSwitch, revertNotices, type ConfirmPolicy } from '../deploy/switch.js';
import type { Watchdog } from '../host/watchdog.js';
import { diagnoseHost, type DiagnosticsSpec } from '../deploy/diagnostics.js';
import { checkSource } from '../deploy/source.js';
import type { Tree } from '../deploy/tree.js';
import { removeImagesCommand, removeReleasesCommand } from '../commands/index.js';
import { connectHosts, hookEnv, lockAndRefresh, record, step, type HostCtx, type HostOutcome, type RunInfo } from '../deploy/context.js';
import { hookCommand } from '../commands/index.js';

export interface Gate {
  spec: HealthSpec;
  /** Roll a host back when its gate fails. */
  autoRollback: boolean;
}

export interface DeployConfig {
  run: RunInfo;
  appDir: string;
  strategy: 'compose' | 'release' | 'swarm';
  /** compose and swarm: the files, env and image. */
  compose?: ComposeSource & { image?: string };
  /** swarm: how long to wait for the stack to converge. */
  swarm?: { convergeTimeoutMs: number };
  /** compose with zero-downtime: blue-green behind the host's proxy. */
  blueGreen?: BlueGreen;
  files?: FilesSource & { restartCommand?: string };
  keepReleases: number;
  hooks: { preDeploy?: string; postDeploy?: string; onFailure?: string };
  gate?: Gate;
  fleet: { maxParallel: number; canary: number; onHostFailure: 'halt' | 'rollback-all' };
  lock: { timeoutMs: number; ttlMs: number };
  /** The host's watchdog: a switch not confirmed in time is undone on the host (timeout 0: off). */
  confirm: ConfirmPolicy;
  /** What is collected from a host that fails its switch or gate. */
  diagnostics: DiagnosticsSpec;
  commandTimeoutMs: number;
  /** Runs once, after staging and before any switch (migrations). */
  beforeSwitch?: (hosts: HostCtx[], release: ReleaseManifest) => Promise<void>;
  /** Called each time one more host's lock is held (the action saves them for its post step). */
  onLocked?: (held: LockSite[], ownerId: string) => void;
}

export interface DeployResult {
  ok: boolean;
  release: ReleaseManifest;
  previous?: string;
  hosts: HostOutcome[];
  rolledBack: boolean;
  error?: string;
  timeline: Timeline;
  /** What happened on the hosts since the last run that this run reports (a watchdog's revert). */
  notices?: string[];
}

export { activate } from '../deploy/switch.js';

/**
 * The health gate for one host (through its tunnel by default). After a compose switch
 * the release's containers must also be running, before and after the probes, without
 * restarting: an old process still answering on the port must not pass the gate.
 */
export async function gateHost(h: HostCtx, m: ReleaseManifest, spec: HealthSpec, pool: SshPool, logger: Logger): Promise<HealthResult> {
  const before = m.strategy === 'compose' ? await readContainers(h, m) : undefined;
  const health = await checkHealth(spec, { logger, pool, targets: [h.target], maxParallel: 1 });
  if (m.strategy === 'swarm') {
    // Swarm may still roll the update back (its monitor period) or lose a task during the probes.
    const problems = await stackProblems(h, m);
    return problems.length ? { ...health, healthy: false, failures: [...health.failures, `the stack is not healthy: ${problems.join('; ')}`] } : health;
  }
  if (!before) return health;
  const after = await readContainers(h, m);
  const problems = containerProblems(m, before, after);
  if (!problems.length) return health;
  return { ...health, healthy: false, failures: [...health.failures, `the release's containers are not healthy: ${problems.join('; ')}`] };
}

function manifestFor(cfg: DeployConfig): ReleaseManifest {
  const { run } = cfg;
  return {
    id: newReleaseId(run.version),
    app: run.app,
    environment: run.environment,
    version: run.version,
    sha: run.sha,
    strategy: cfg.strategy,
    created: new Date().toISOString(),
    actor: run.actor,
    run_url: run.runUrl,
    ...(cfg.strategy === 'compose'
      ? {
          image: cfg.compose!.image,
          project: `${run.app}-${run.environment}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-'),
          compose_files: cfg.compose!.files.map((f) => f.name),
          services: cfg.compose!.services,
          ...(cfg.blueGreen ? { blue_green: cfg.blueGreen } : {}),
        }
      : cfg.strategy === 'swarm'
        ? {
            image: cfg.compose!.image,
            project: `${run.app}-${run.environment}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-'),
            compose_files: cfg.compose!.files.map((f) => f.name),
            swarm: { converge_timeout_s: Math.ceil((cfg.swarm?.convergeTimeoutMs ?? 600_000) / 1000) },
          }
        : { restart_command: cfg.files!.restartCommand }),
  };
}

/**
 * Why a host cannot move from the release it serves to `next` by this run's switch, or
 * undefined when it can: another strategy in the same app directory, in place against
 * blue-green, or blue-green behind other proxy settings (the old color would be drained on
 * ports it does not use, or its site file left beside the new one).
 */
export function switchMismatch(h: HostCtx, next: Pick<ReleaseManifest, 'strategy' | 'blue_green'>): string | undefined {
  const cur = h.state.current ? h.state.manifests.get(h.state.current) : undefined;
  if (!cur) return undefined;
  if (cur.strategy !== next.strategy) {
    return `its app directory serves ${cur.id}, a ${cur.strategy} release: a ${next.strategy} release needs an app directory of its own (app-dir), or remove the ${cur.strategy} release first`;
  }
  if (cur.strategy !== 'compose') return undefined;
  if (next.blue_green && !cur.blue_green) {
    return `it serves ${cur.id}, deployed in place (without zero-downtime): stop that release's project first (docker compose -p ${cur.project} down, a short outage) so the proxy can take its port, then deploy with zero-downtime`;
  }
  if (!next.blue_green && cur.blue_green) {
    return `it serves ${cur.id} blue-green (color ${h.state.color ?? '?'}, behind the proxy): deploy with zero-downtime: true (and the same proxy settings)`;
  }
  if (next.blue_green && cur.blue_green) {
    const [a, b] = [cur.blue_green, next.blue_green];
    const changed = [
      a.base_port !== b.base_port ? `app-port ${a.base_port} → ${b.base_port}` : '',
      a.listen !== b.listen ? `proxy-port ${a.listen} → ${b.listen}` : '',
      a.config !== b.config ? `proxy-config ${a.config} → ${b.config}` : '',
      a.upstream !== b.upstream ? `upstream ${a.upstream} → ${b.upstream}` : '',
    ].filter(Boolean);
    if (changed.length) {
      return `it serves ${cur.id} blue-green with other proxy settings (${changed.join(', ')}): a switch would drain the old color on ports it does not use, or leave its site beside the new one. Deploy with the settings it serves with; to change them, stop both colors' projects and remove ${a.config} (a short outage), then deploy`;
    }
  }
  return undefined;
}

/** A deploy that stopped before any host was touched: one line per host. */
function untouched(manifest: ReleaseManifest, timeline: Timeline, targets: Target[], error: string, failed: Map<string, string> = new Map()): DeployResult {
  return {
    ok: false,
    release: manifest,
    hosts: targets.map((t) => ({ host: t.name, result: failed.has(t.name) ? 'failed' : 'skipped', error: failed.get(t.name), durationMs: 0 })),
    rolledBack: false,
    error,
    timeline,
  };
}

export async function deploy(cfg: DeployConfig, pool: SshPool, targets: Target[], logger: Logger): Promise<DeployResult> {
  const timeline = new Timeline();
  const manifest = manifestFor(cfg);
  let tree: Tree | undefined;
  if (cfg.strategy === 'release') {
    try {
      tree = await checkSource(cfg.files!.source);
      if (!tree && statSync(cfg.files!.source).isDirectory()) logger.info(`${cfg.files!.source} has file names that are not UTF-8: every file is sent, none reused`);
    } catch (e) {
      return untouched(manifest, timeline, targets, `${errorMessage(e)}\nNothing was changed.`);
    }
  }
  const reached = await connectHosts(pool, targets, cfg.appDir, { logger, timeline, commandTimeoutMs: cfg.commandTimeoutMs, maxParallel: cfg.fleet.maxParallel });
  const unreachable = reached.filter((r) => r.status === 'failed');
  if (unreachable.length) {
    return untouched(
      manifest,
      timeline,
      targets,
      `cannot reach every host; nothing was changed:\n${unreachable.map((r) => r.error).join('\n')}`,
      new Map(unreachable.map((r) => [r.target.name, r.error!])),
    );
  }
  const hosts = reached.map((r) => r.value!);
  if (cfg.strategy === 'compose') {
    const none = hosts.filter((h) => h.state.compose === 'none');
    if (none.length) {
      const why = "neither 'docker compose' nor 'docker-compose' is installed";
      return untouched(manifest, timeline, targets, `${why} on ${none.map((h) => h.target.name).join(', ')}; nothing was changed`, new Map(none.map((h) => [h.target.name, why])));
    }
  }
  if (cfg.strategy === 'swarm') {
    const roles = await Promise.all(hosts.map((h) => h.session.exec(swarmRoleCommand(), { step: 'swarm role' }).catch((e: unknown) => ({ code: 1, stdout: '', stderr: errorMessage(e) }))));
    const notManager = hosts.map((h, i) => [h, roles[i]!] as const).filter(([, r]) => r.code !== 0 || r.stdout.trim() !== 'active true');
    if (notManager.length) {
      const why = (r: { code: number | null; stdout: string; stderr: string }) =>
        r.code !== 0
          ? `'docker info' failed there (${(r.stderr || r.stdout).trim().slice(-200)})`
          : `it is not a Swarm manager (node state '${r.stdout.trim().split(' ')[0] || 'unknown'}'): run 'docker swarm init' there, or name a manager in hosts`;
      return untouched(
        manifest,
        timeline,
        targets,
        `${notManager.map(([h, r]) => `host ${h.target.name}: ${why(r)}`).join('\n')}\nNothing was changed.`,
        new Map(notManager.map(([h, r]) => [h.target.name, why(r)])),
      );
    }
    // A first deploy into a stack that already exists would take over (and --prune) another app's services.
    const taken: [HostCtx, string][] = [];
    for (const h of hosts.filter((x) => !x.state.current)) {
      const st = await readStack(h, manifest.project!).catch(() => undefined);
      if (st?.services.length) {
        taken.push([
          h,
          `stack ${manifest.project} already exists on the swarm (${st.services.map((s) => s.name).join(', ')}) and this app directory has no release of it: it is another app's, or was deployed by hand. Remove it (docker stack rm ${manifest.project}) or pick another app/environment`,
        ]);
      }
    }
    if (taken.length)
      return untouched(
        manifest,
        timeline,
        targets,
        `${taken.map(([h, why]) => `host ${h.target.name}: ${why}`).join('\n')}\nNothing was changed.`,
        new Map(taken.map(([h, why]) => [h.target.name, why])),
      );
  }
  const mixed = hosts.map((h) => [h, switchMismatch(h, { strategy: cfg.strategy, blue_green: cfg.blueGreen })] as const).filter(([, why]) => why);
  if (mixed.length) {
    return untouched(
      manifest,
      timeline,
      targets,
      `${mixed.map(([h, why]) => `host ${h.target.name}: ${why}`).join('\n')}\nNothing was changed.`,
      new Map(mixed.map(([h, why]) => [h.target.name, why!])),
    );
  }
  let locks: HeldLocks;
  try {
    locks = await lockAndRefresh(hosts, cfg.appDir, cfg.run, 'deploy', { ...cfg.lock, logger, onAcquired: (held, owner) => cfg.onLocked?.(held, owner.id) });
  } catch (e) {
    return untouched(manifest, timeline, targets, `${errorMessage(e)}\nNothing was changed.`);
  }
  try {
    const notices = revertNotices(hosts);
    for (const n of notices) logger.warning(n);
    // The id is taken under the lock: release ids sort by time, so a run that waited for
    // another one's lock must get the later id.
    const r = await deployLocked(cfg, pool, hosts, logger, timeline, locks, manifestFor(cfg), tree);
    return notices.length ? { ...r, notices } : r;
  } finally {
    await locks.release();
  }
}

async function deployLocked(cfg: DeployConfig, pool: SshPool, hosts: HostCtx[], logger: Logger, timeline: Timeline, locks: HeldLocks, manifest: ReleaseManifest, tree?: Tree): Promise<DeployResult> {
  const { run } = cfg;
  const id = manifest.id;
  const previous = new Map(hosts.map((h) => [h.target.name, h.state.current]));
  const ident = { release: id, version: run.version, image: manifest.image, sha: run.sha, actor: run.actor, run_url: run.runUrl };
  const fail = (error: string, outcomes: HostOutcome[], rolledBack = false): DeployResult => ({
    ok: false,
    release: manifest,
    previous: previous.get(hosts[0]!.target.name),
    hosts: outcomes,
    rolledBack,
    error,
    timeline,
  });
  const stopped = (e: unknown): DeployResult =>
    fail(
      errorMessage(e),
      hosts.map((h) => outcome(h, 'skipped', previous.get(h.target.name))),
    );

  // 1. Stage on every host. Nothing serves the new release yet.
  try {
    locks.assertHeld();
  } catch (e) {
    return stopped(e);
  }
  logger.info(`release ${id}: staging on ${hosts.length} host(s)`);
  let staged: ReleaseManifest = manifest;
  const stageResults = await forEachHost(
    hosts.map((h) => h.target),
    async (_t, i) => {
      const h = hosts[i]!;
      await record(h, { type: 'deploy-started', ...ident });
      const m = await step(h, 'stage', () =>
        cfg.strategy === 'compose'
          ? stageCompose(h, manifest, cfg.compose!)
          : cfg.strategy === 'swarm'
            ? stageSwarm(h, manifest, cfg.compose!)
            : stageFiles(h, manifest, cfg.files!, hookEnv(run, id, h.target.name), tree),
      );
      if (m.image_digest) staged = { ...staged, image_digest: m.image_digest };
      await record(h, { type: 'staged', ...ident, image_digest: m.image_digest });
      return m;
    },
    { maxParallel: Math.max(cfg.fleet.maxParallel, 5), onFailure: 'continue' },
  );
  const stageFailed = stageResults.filter((r) => r.status === 'failed');
  if (stageFailed.length) {
    await cleanupStaged(hosts, id, stageFailed.map((r) => r.error!).join('; '), ident);
    return fail(
      `staging release ${id} failed; no host was switched, the previous release keeps serving:\n${stageFailed.map((r) => r.error).join('\n')}`,
      hosts.map((h, i) => outcome(h, stageResults[i]!.status === 'failed' ? 'failed' : 'skipped', previous.get(h.target.name), stageResults[i]!.error)),
    );
  }

  // 2. Before any switch (migrations run here, once), with every lock checked first.
  try {
    await locks.verify();
  } catch (e) {
    return stopped(e);
  }
  if (cfg.beforeSwitch) {
    try {
      await cfg.beforeSwitch(hosts, staged);
    } catch (e) {
      await cleanupStaged(hosts, id, errorMessage(e), ident, 'migrate');
      return fail(
        `${errorMessage(e)}\nNo host was switched; the previous release keeps serving.`,
        hosts.map((h) => outcome(h, 'skipped', previous.get(h.target.name))),
      );
    }
  }

  // 3. Switch and gate, host by host (max-parallel, canary); stop at the first failure.
  const switched = await forEachHost(
    hosts.map((h) => h.target),
    (_t, i) => switchHost(cfg, hosts[i]!, staged, previous.get(hosts[i]!.target.name), pool, logger, locks),
    { maxParallel: cfg.fleet.maxParallel, canary: cfg.fleet.canary, onFailure: 'halt', mode: 'batch', logger },
  );
  const outcomes = hosts.map((h, i) => fromSwitch(h, switched[i]!, previous.get(h.target.name), id));
  const failed = outcomes.filter((o) => o.result === 'failed' || o.result === 'rolled-back');
  if (failed.length) {
    let rolledBack = outcomes.some((o) => o.result === 'rolled-back');
    const lockLost = switched.some((r) => r.cause instanceof LockLostError);
    if (cfg.fleet.onHostFailure === 'rollback-all' && !lockLost) {
      await forEachHost(
        hosts.map((h) => h.target),
        async (_t, i) => {
          const o = outcomes[i]!;
          if (o.result !== 'succeeded') return;
          const h = hosts[i]!;
          await locks.verify([h.target.name]);
          await backTo(cfg, h, staged, o.previous, 'rollback-all: another host failed', logger);
          o.result = 'rolled-back';
          o.serving = o.previous;
          rolledBack = true;
        },
        { maxParallel: cfg.fleet.maxParallel, onFailure: 'continue' },
      );
    }
    for (const [i, h] of hosts.entries()) {
      if (outcomes[i]!.result === 'skipped') continue;
      await record(h, { type: 'deploy-failed', ...ident, error: failed[0]!.error }).catch(() => {});
    }
    const serving = outcomes.map((o) => `${o.host}: ${o.serving ?? 'nothing'} (${o.result})`).join('\n');
    return fail(`deploy of ${id} failed on ${failed.map((o) => o.host).join(', ')}:\n${failed.map((o) => o.error).join('\n')}\nHosts now serve:\n${serving}`, outcomes, rolledBack);
  }

  // 4. Success everywhere: record, prune, post-deploy. A failing post-deploy hook fails the
  // step, but the release stays live.
  const after = await forEachHost(
    hosts.map((h) => h.target),
    async (_t, i) => {
      const h = hosts[i]!;
      await record(h, { type: 'deploy-succeeded', ...ident, image_digest: staged.image_digest, from: previous.get(h.target.name) });
      // Pruning and the hook change the host: only while the lock is still this run's.
      await locks.verify([h.target.name]);
      await prune(h, cfg.keepReleases, staged, logger).catch((e) => logger.warning(`host ${h.target.name}: pruning old releases failed (the deploy stands): ${errorMessage(e)}`));
      if (cfg.hooks.postDeploy) {
        await step(h, 'post-deploy', () => h.session.run(hookCommand(h.layout.release(id), cfg.hooks.postDeploy!, hookEnv(run, id, h.target.name)), { step: 'post-deploy', stream: true }));
      }
    },
    { maxParallel: Math.max(cfg.fleet.maxParallel, 5), onFailure: 'continue' },
  );
  const afterFailed = after.filter((r) => r.status === 'failed');
  for (const r of afterFailed) outcomes.find((o) => o.host === r.target.name)!.after = r.error;
  if (afterFailed.length) {
    return {
      ok: false,
      release: staged,
      previous: previous.get(hosts[0]!.target.name),
      hosts: outcomes,
      rolledBack: false,
      error: `release ${id} is live on every host, but after the switch:\n${afterFailed.map((r) => r.error).join('\n')}`,
      timeline,
    };
  }
  return { ok: true, release: staged, previous: previous.get(hosts[0]!.target.name), hosts: outcomes, rolledBack: false, timeline };
}

/** A message about a host, named once at the front. */
function onHost(h: HostCtx, msg: string): string {
  const prefix = `host ${h.target.name}: `;
  return msg.startsWith(prefix) ? msg : prefix + msg;
}

function outcome(h: HostCtx, result: HostOutcome['result'], previous?: string, error?: string): HostOutcome {
  return { host: h.target.name, result, serving: h.state.current ?? previous, previous, error, durationMs: 0 };
}

interface SwitchValue {
  health?: HealthResult;
}

class HostFailure extends Error {
  constructor(
    message: string,
    readonly rolledBack: boolean,
    readonly health?: HealthResult,
    readonly diagnostics?: string,
  ) {
    super(message);
  }
}

/** Collect the failed release's diagnostics on the host (before it is returned) and print them in a log group. */
function diagnose(cfg: DeployConfig, h: HostCtx, m: ReleaseManifest, logger: Logger): Promise<string | undefined> {
  return diagnoseHost(h, m, cfg.diagnostics, cfg.run, logger);
}

function fromSwitch(h: HostCtx, r: HostResult<SwitchValue>, previous: string | undefined, id: string): HostOutcome {
  const stack = lastStatus.get(h);
  const base = { host: h.target.name, previous, durationMs: r.durationMs, serving: h.state.current, ...(stack ? { swarm: stack.services } : {}) };
  if (r.status === 'succeeded') return { ...base, result: 'succeeded', serving: id, health: r.value?.health };
  if (r.status === 'skipped') return { ...base, result: 'skipped', serving: previous };
  const f = r.cause instanceof HostFailure ? r.cause : undefined;
  return { ...base, result: f?.rolledBack ? 'rolled-back' : 'failed', error: r.error, health: f?.health, diagnostics: f?.diagnostics };
}

async function switchHost(cfg: DeployConfig, h: HostCtx, m: ReleaseManifest, previous: string | undefined, pool: SshPool, logger: Logger, locks: HeldLocks): Promise<SwitchValue> {
  const { run } = cfg;
  const ident = { release: m.id, version: run.version, image: m.image, sha: run.sha, actor: run.actor, run_url: run.runUrl };
  const env = hookEnv(run, m.id, h.target.name);
  if (cfg.hooks.preDeploy) {
    // Nothing was switched yet: a failing hook leaves the host as it was.
    try {
      await step(h, 'pre-deploy', () => h.session.run(hookCommand(h.layout.release(m.id), cfg.hooks.preDeploy!, env), { step: 'pre-deploy', stream: true }));
    } catch (e) {
      await runOnFailure(cfg, h, m, logger, locks);
      throw new HostFailure(`${onHost(h, errorMessage(e))}; nothing was switched on this host`, false);
    }
  }
  const watchdog = await armFor(cfg, h, m, previous, logger, locks);
  // The last moment to find the lock gone: after this the host changes.
  try {
    await locks.verify([h.target.name]);
  } catch (e) {
    await watchdog?.decide('rolled-back').catch(() => {});
    throw e;
  }
  try {
    await step(h, 'switch', () => activate(h, m, run));
    // A watchdog whose deadline passed during the switch has taken the lock over.
    if (watchdog) await locks.verify([h.target.name]);
    await record(h, { type: 'switched', ...ident, from: previous });
  } catch (e) {
    // The switch itself failed: put the previous release back.
    const diagnostics = await diagnose(cfg, h, m, logger);
    const rolledBack = await failHost(cfg, h, m, previous, `switch failed: ${errorMessage(e)}`, logger, locks, watchdog);
    throw new HostFailure(`${onHost(h, errorMessage(e))}${rolledBack ? `; rolled back to ${previous}` : ''}`, rolledBack, undefined, diagnostics);
  }
  if (!cfg.gate) {
    await confirmHost(h, m, previous, watchdog);
    return {};
  }
  let health: HealthResult;
  try {
    health = await step(h, 'health', () => gateHost(h, m, cfg.gate!.spec, pool, logger));
  } catch (e) {
    // The gate could not even run (the connection dropped): the release is not proven.
    const diagnostics = await diagnose(cfg, h, m, logger);
    const rolledBack = cfg.gate.autoRollback ? await failHost(cfg, h, m, previous, `health gate error: ${errorMessage(e)}`, logger, locks, watchdog) : false;
    throw new HostFailure(
      `host ${h.target.name}: the health gate of ${m.id} could not run: ${errorMessage(e).replace(`host ${h.target.name}: `, '')}${rolledBack ? `; rolled back to ${previous}` : ''}`,
      rolledBack,
      undefined,
      diagnostics,
    );
  }
  const stats = { attempts: health.attempts, p50: health.p50, p95: health.p95 };
  if (health.healthy) {
    await record(h, { type: 'health-passed', ...ident, health: stats });
    await confirmHost(h, m, previous, watchdog, health);
    return { health };
  }
  // The gate names the host in each failure; here the host is named once, up front.
  const why = health.failures.map((f) => f.replace(`host ${h.target.name}: `, '')).join('; ');
  await record(h, { type: 'health-failed', ...ident, health: stats, error: why }).catch(() => {});
  const diagnostics = await diagnose(cfg, h, m, logger);
  const rolledBack = cfg.gate.autoRollback ? await failHost(cfg, h, m, previous, 'health gate failed', logger, locks, watchdog) : false;
  throw new HostFailure(
    `host ${h.target.name}: release ${m.id} failed its health gate: ${why}${rolledBack ? `; rolled back to ${previous}` : cfg.gate.autoRollback ? '' : ' (auto-rollback is off: the failing release stays live)'}`,
    rolledBack,
    health,
    diagnostics,
  );
}

/**
 * Arm the host's watchdog before its switch, when there is a release to return to and
 * failures are rolled back (auto-rollback off means a failing release stays live, so
 * nothing undoes it either). A watchdog that cannot start fails the host before it is
 * switched.
 */
async function armFor(cfg: DeployConfig, h: HostCtx, m: ReleaseManifest, previous: string | undefined, logger: Logger, locks: HeldLocks): Promise<Watchdog | undefined> {
  if (cfg.confirm.timeoutMs <= 0 || cfg.gate?.autoRollback === false || !previous) return undefined;
  const prev = h.state.manifests.get(previous);
  if (!prev) {
    logger.warning(`host ${h.target.name}: release ${previous} has no release.json, so no watchdog can return to it; switching without one`);
    return undefined;
  }
  try {
    return await step(h, 'arm watchdog', () => armSwitch(h, m, prev, cfg.run, cfg.confirm, locks.owner));
  } catch (e) {
    throw new HostFailure(
      `host ${h.target.name}: could not start the watchdog that returns it to ${previous} if this run dies (${errorMessage(e).replace(`host ${h.target.name}: `, '')}); nothing was switched on this host. Set confirm-timeout: 0 to deploy without it.`,
      false,
    );
  }
}

/** Confirm the switch: the watchdog stands down. One that was first (the run was too slow) is returning the host. */
async function confirmHost(h: HostCtx, m: ReleaseManifest, previous: string | undefined, watchdog: Watchdog | undefined, health?: HealthResult): Promise<void> {
  if (!watchdog) return;
  let d: Awaited<ReturnType<Watchdog['decide']>>;
  try {
    d = await watchdog.decide('confirmed');
  } catch (e) {
    throw new HostFailure(
      `host ${h.target.name}: release ${m.id} is live but its switch could not be confirmed (${errorMessage(e).replace(`host ${h.target.name}: `, '')}); unless confirmed, the host's watchdog returns it to ${previous} ${formatDuration(watchdog.timeoutMs)} after the switch`,
      false,
      health,
    );
  }
  if (d === 'reverting') {
    throw new HostFailure(
      `host ${h.target.name}: release ${m.id} was not confirmed within confirm-timeout (${formatDuration(watchdog.timeoutMs)}); the host's watchdog is returning it to ${previous}. Raise confirm-timeout above the switch and health gate's time.`,
      true,
      health,
    );
  }
}

/**
 * Whether this run may still change the host: its lock there is checked (and renewed) now.
 * A run whose lock was taken leaves the host to the new holder.
 */
async function mayChange(locks: HeldLocks, h: HostCtx, what: string, logger: Logger): Promise<boolean> {
  try {
    await locks.verify([h.target.name]);
    return true;
  } catch (e) {
    logger.error(`host ${h.target.name}: not ${what}: ${errorMessage(e)}`);
    return false;
  }
}

async function runOnFailure(cfg: DeployConfig, h: HostCtx, m: ReleaseManifest, logger: Logger, locks: HeldLocks): Promise<void> {
  if (!cfg.hooks.onFailure || !(await mayChange(locks, h, 'running the on-failure hook', logger))) return;
  await h.session
    .run(hookCommand(h.layout.appDir, cfg.hooks.onFailure, hookEnv(cfg.run, m.id, h.target.name)), { step: 'on-failure', stream: true })
    .catch((e) => logger.warning(`host ${h.target.name}: on-failure hook: ${errorMessage(e)}`));
}

/** On a failed host: back to the previous release (if there is one), mark the new one bad, run on-failure. */
async function failHost(cfg: DeployConfig, h: HostCtx, m: ReleaseManifest, previous: string | undefined, reason: string, logger: Logger, locks: HeldLocks, watchdog?: Watchdog): Promise<boolean> {
  let rolledBack = false;
  if (!(await mayChange(locks, h, `returning to ${previous ?? 'the previous release'}`, logger))) return false;
  // The run returns the host itself: the watchdog stands down (unless it was first).
  if (watchdog && (await watchdog.decide('rolled-back').catch(() => 'gone' as const)) === 'reverting') {
    logger.warning(`host ${h.target.name}: its watchdog is already returning it to ${previous} (confirm-timeout ran out)`);
    await runOnFailure(cfg, h, m, logger, locks);
    return true;
  }
  if (cfg.gate?.autoRollback !== false && previous) {
    try {
      await backTo(cfg, h, m, previous, reason, logger);
      rolledBack = true;
    } catch (e) {
      logger.error(`host ${h.target.name}: rolling back to ${previous} failed too: ${errorMessage(e)}`);
    }
  } else {
    await record(h, { type: 'marked-bad', release: m.id, reason }).catch(() => {});
  }
  await runOnFailure(cfg, h, m, logger, locks);
  return rolledBack;
}

/** Return a host to `to` through the same path as a deploy, marking `from` bad. */
async function backTo(cfg: DeployConfig, h: HostCtx, from: ReleaseManifest, to: string | undefined, reason: string, logger: Logger): Promise<void> {
  if (!to) throw new Error(`host ${h.target.name}: there is no previous release to return to`);
  const target = h.state.manifests.get(to);
  if (!target) throw new Error(`host ${h.target.name}: release ${to} has no release.json; cannot return to it`);
  logger.warning(`host ${h.target.name}: returning to ${to} (${reason})`);
  await step(h, 'rollback', async () => {
    if (from.strategy === 'swarm' && target.strategy === 'swarm') {
      const how = await rollbackSwarm(h, from, target);
      h.state.current = to;
      const by = {
        unchanged: 'the stack never changed: nothing to roll back',
        swarm: 'Swarm had rolled the update back itself',
        'service-rollback': 'docker service rollback',
        'stack-deploy': `${to}'s stack deployed again`,
      }[how];
      logger.info(`host ${h.target.name}: back on ${to} (${by})`);
    } else await activate(h, target, cfg.run);
  });
  await record(h, { type: 'rollback', release: to, from: from.id, reason, actor: cfg.run.actor, run_url: cfg.run.runUrl, version: target.version });
  await record(h, { type: 'marked-bad', release: from.id, reason });
}

async function cleanupStaged(hosts: HostCtx[], id: string, error: string, ident: Record<string, unknown>, stepName = 'stage'): Promise<void> {
  await Promise.all(
    hosts.map(async (h) => {
      await h.session.run(removeReleasesCommand(h.layout.appDir, [id])).catch(() => {});
      await record(h, { type: 'deploy-failed', ...(ident as { release: string }), step: stepName, error }).catch(() => {});
    }),
  );
}

/** Keep `keep` releases plus the current and the last good one before it; remove the rest (and their images). */
async function prune(h: HostCtx, keep: number, live: ReleaseManifest, logger: Logger): Promise<void> {
  const { remove, images } = planPrune(h.state, live, keep);
  if (!remove.length) return;
  await h.session.run(removeReleasesCommand(h.layout.appDir, remove), { step: 'prune' });
  // A swarm's images are on its nodes, which prune their own; the manager keeps its copies.
  if (images.length && live.strategy !== 'swarm') await h.session.exec(removeImagesCommand(images));
  await record(h, { type: 'pruned', release: live.id, removed: remove });
  logger.info(`host ${h.target.name}: pruned ${remove.length} old release(s)`);
}
