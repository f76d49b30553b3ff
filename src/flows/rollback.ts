/**
 * Return to a previous release: by default the last release marked good before the
 * current one (skipping releases marked bad), or a release id or version. The target must
 * exist on every host before any host is touched; the switch goes through the same path as
 * a deploy (including the health gate); the release left is marked bad.
 * Database migrations are not reverted.
 */
import type { Target } from '../host/target.js';
import { forEachHost } from '../fleet/run.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { SshPool } from '../host/pool.js';
import { releaseStates } from '../host/history.js';
import type { HostState } from '../host/state.js';
import { Timeline } from '../host/timeline.js';
import type { HeldLocks, LockSite } from '../host/lock.js';
import { gateHost, switchMismatch, type Gate } from './deploy.js';
import { activate, armSwitch, policyFor, revertNotices, type ConfirmPolicy } from '../deploy/switch.js';
import type { Watchdog } from '../host/watchdog.js';
import { formatDuration } from '../text.js';
import type { HostOutcome, RunInfo } from '../deploy/context.js';
import { connectHosts, lockAndRefresh, record, step } from '../deploy/context.js';
import { DiagnosedFailure, diagnoseHost, type DiagnosticsSpec } from '../deploy/diagnostics.js';

export interface RollbackConfig {
  run: Omit<RunInfo, 'version'>;
  appDir: string;
  to?: string;
  gate?: Gate;
  maxParallel: number;
  lock: { timeoutMs: number; ttlMs: number };
  /** The host's watchdog: a switch not confirmed in time is undone on the host (timeout 0: off). */
  confirm: ConfirmPolicy;
  commandTimeoutMs: number;
  /** What to collect from a host whose switch or health gate fails (lines 0: nothing). */
  diagnostics: DiagnosticsSpec;
  /** Called each time one more host's lock is held (the action saves them for its post step). */
  onLocked?: (held: LockSite[], ownerId: string) => void;
}

export interface RollbackResult {
  ok: boolean;
  to: string;
  /** The version of the release returned to. */
  version: string;
  from?: string;
  hosts: HostOutcome[];
  error?: string;
  timeline: Timeline;
  /** What happened on the hosts since the last run that this run reports (a watchdog's revert). */
  notices?: string[];
}

/** Which release to return to, as the history of this host says. */
export function chooseTarget(s: HostState, to: string | undefined): string {
  const listing = s.releases.length ? s.releases.map((r) => `${r}${s.manifests.get(r)?.version ? ` (${s.manifests.get(r)!.version})` : ''}`).join(', ') : 'none';
  if (to) {
    if (s.releases.includes(to)) return to;
    const byVersion = s.releases.filter((r) => s.manifests.get(r)?.version === to);
    if (byVersion.length) return byVersion[byVersion.length - 1]!;
    throw new Error(`no release with id or version '${to}'; releases on the host: ${listing}`);
  }
  if (!s.current) throw new Error('nothing is deployed here yet (no current release)');
  const states = releaseStates(s.history);
  const candidates = s.releases.filter((r) => r < s.current! && states.get(r)?.good && !states.get(r)?.bad && s.manifests.has(r));
  const pick = candidates[candidates.length - 1];
  if (!pick) throw new Error(`there is no release marked good before the current one (${s.current}); releases on the host: ${listing}. Name one with 'to'.`);
  return pick;
}

export async function rollback(cfg: RollbackConfig, pool: SshPool, targets: Target[], logger: Logger): Promise<RollbackResult> {
  const timeline = new Timeline();
  const untouched = (error: string, failed: Map<string, string> = new Map()): RollbackResult => ({
    ok: false,
    to: cfg.to ?? '',
    version: '',
    hosts: targets.map((t) => ({ host: t.name, result: failed.has(t.name) ? 'failed' : 'skipped', error: failed.get(t.name), durationMs: 0 })),
    error,
    timeline,
  });
  const reached = await connectHosts(pool, targets, cfg.appDir, { logger, timeline, commandTimeoutMs: cfg.commandTimeoutMs, maxParallel: cfg.maxParallel });
  const unreachable = reached.filter((r) => r.status === 'failed');
  if (unreachable.length) {
    return untouched(`cannot reach every host; nothing was changed:\n${unreachable.map((r) => r.error).join('\n')}`, new Map(unreachable.map((r) => [r.target.name, r.error!])));
  }
  const hosts = reached.map((r) => r.value!);
  const first = hosts[0]!;
  let lock: HeldLocks;
  try {
    lock = await lockAndRefresh(hosts, cfg.appDir, cfg.run, 'deploy', { ...cfg.lock, logger, onAcquired: (held, owner) => cfg.onLocked?.(held, owner.id) });
  } catch (e) {
    return untouched(`${errorMessage(e)}\nNothing was changed.`);
  }
  const notices = revertNotices(hosts);
  for (const n of notices) logger.warning(n);
  try {
    // Chosen under the lock, from the state as it is now.
    let to: string;
    try {
      to = chooseTarget(first.state, cfg.to);
    } catch (e) {
      return untouched(errorMessage(e));
    }
    const missing = hosts.filter((h) => !h.state.releases.includes(to) || !h.state.manifests.has(to));
    if (missing.length) {
      return untouched(`release ${to} is not on every host (missing on ${missing.map((h) => h.target.name).join(', ')}); no host was changed`);
    }
    const mixed = hosts.map((h) => [h, switchMismatch(h, h.state.manifests.get(to)!)] as const).filter(([, why]) => why);
    if (mixed.length) {
      return untouched(
        `release ${to} cannot replace the release serving by a rollback:\n${mixed.map(([h, why]) => `host ${h.target.name}: ${why}`).join('\n')}\nDeploy the version instead; no host was changed`,
      );
    }
    const from = first.state.current;
    const rs = await forEachHost(
      hosts.map((h) => h.target),
      async (_t, i) => {
        const h = hosts[i]!;
        const left = h.state.current;
        const m = h.state.manifests.get(to)!;
        const run = { ...cfg.run, version: m.version };
        if (left === to) {
          logger.info(`host ${h.target.name}: already on ${to}`);
          return { left, health: undefined };
        }
        logger.info(`host ${h.target.name}: rolling back ${left ?? '(nothing)'} → ${to} (${m.version})`);
        const leftManifest = left ? h.state.manifests.get(left) : undefined;
        // The host's watchdog: if this run dies before the switch is proven, the host
        // returns to what it served before this rollback.
        const watchdog: Watchdog | undefined =
          cfg.confirm.timeoutMs > 0 && leftManifest ? await step(h, 'arm watchdog', () => armSwitch(h, m, leftManifest, run, policyFor(cfg.confirm, m), lock.owner)) : undefined;
        const confirm = async (what: 'confirmed' | 'kept') => {
          if (watchdog && (await watchdog.decide(what)) === 'reverting') {
            throw new Error(
              `host ${h.target.name}: the switch to ${to} was not confirmed within confirm-timeout (${formatDuration(watchdog.timeoutMs)}); the host's watchdog is returning it to ${left}`,
            );
          }
        };
        try {
          await lock.verify([h.target.name]);
        } catch (e) {
          await watchdog?.decide('rolled-back').catch(() => {});
          throw e;
        }
        try {
          try {
            await step(h, 'switch', () => activate(h, m, run));
          } catch (e) {
            // Decided first, so the diagnostics show the host as it stays (or as its watchdog returns it).
            const d = await watchdog?.decide('kept').catch(() => undefined);
            const reverting = d === 'reverting' ? `; the host's watchdog is returning it to ${left}` : '';
            throw new DiagnosedFailure(`${errorMessage(e)}${reverting}`, await diagnoseHost(h, m, cfg.diagnostics, run, logger));
          }
          await record(h, { type: 'rollback', release: to, from: left, reason: 'manual', version: m.version, actor: run.actor, run_url: run.runUrl });
          if (left) await record(h, { type: 'marked-bad', release: left, reason: `rolled back to ${to}` });
          if (!cfg.gate) {
            await confirm('confirmed');
            return { left, health: undefined };
          }
          const health = await step(h, 'health', () => gateHost(h, m, cfg.gate!.spec, pool, logger));
          await record(h, { type: health.healthy ? 'health-passed' : 'health-failed', release: to, health: { attempts: health.attempts, p50: health.p50, p95: health.p95 } });
          // A failed gate leaves the release live (this run decides so; the watchdog stands down).
          await confirm(health.healthy ? 'confirmed' : 'kept');
          if (!health.healthy) {
            throw new DiagnosedFailure(
              `host ${h.target.name}: release ${to} is live again but failed its health gate: ${health.failures.join('; ')}`,
              await diagnoseHost(h, m, cfg.diagnostics, run, logger),
            );
          }
          return { left, health };
        } catch (e) {
          // This run is alive and reports the failure: the host stays as it is (the watchdog stands down).
          await watchdog?.decide('kept').catch(() => {});
          throw e;
        }
      },
      { maxParallel: cfg.maxParallel, onFailure: 'halt', mode: 'batch', logger },
    );
    const outcomes: HostOutcome[] = rs.map((r, i) => ({
      host: r.target.name,
      result: r.status === 'succeeded' ? 'succeeded' : r.status === 'failed' ? 'failed' : 'skipped',
      serving: hosts[i]!.state.current,
      previous: r.value?.left ?? (r.status === 'skipped' ? undefined : hosts[i]!.state.current),
      error: r.error,
      health: r.value?.health,
      diagnostics: r.cause instanceof DiagnosedFailure ? r.cause.diagnostics : undefined,
      durationMs: r.durationMs,
    }));
    const failed = outcomes.filter((o) => o.result !== 'succeeded');
    return {
      ...(notices.length ? { notices } : {}),
      ok: failed.length === 0,
      to,
      version: first.state.manifests.get(to)?.version ?? '',
      from,
      hosts: outcomes,
      timeline,
      error: failed.length ? `rollback to ${to} did not complete:\n${failed.map((o) => o.error ?? `${o.host}: not reached (halted)`).join('\n')}` : undefined,
    };
  } finally {
    await lock.release();
  }
}
