/** The migrate action's flow: reach every host, lock them all, pick the release, migrate where asked. */
import type { Target } from '../host/target.js';
import { forEachHost } from '../fleet/run.js';
import { errorMessage, type Logger } from '../log.js';
import type { SshPool } from '../host/pool.js';
import type { ReleaseManifest } from '../host/state.js';
import type { HeldLocks, LockSite } from '../host/lock.js';
import { Timeline } from '../host/timeline.js';
import { connectHosts, lockAndRefresh, type RunInfo } from '../deploy/context.js';
import { checkRecentBackup, migrationErrorResult, newestRelease, runMigration, type MigrateSpec, type MigrationResult } from '../deploy/migration.js';

export interface MigrateConfig {
  run: RunInfo;
  appDir: string;
  spec: MigrateSpec;
  /** A release id or version; default: the newest staged or deployed. */
  release?: string;
  runOn: 'first' | 'all';
  requireBackupWithinMs?: number;
  maxParallel: number;
  lock: { timeoutMs: number; ttlMs: number };
  commandTimeoutMs: number;
  onLocked?: (held: LockSite[], ownerId: string) => void;
}

export interface MigrateHost {
  host: string;
  status: 'succeeded' | 'failed' | 'skipped';
  error?: string;
}

export interface MigrateOutcome {
  ok: boolean;
  results: MigrationResult[];
  hosts: MigrateHost[];
  error?: string;
  durationMs: number;
}

/** The migrate action's flow: reach every host, lock them all, pick the release, migrate where asked. */
export async function migrate(cfg: MigrateConfig, pool: SshPool, targets: Target[], logger: Logger): Promise<MigrateOutcome> {
  const started = Date.now();
  const untouched = (error: string, failed: Map<string, string> = new Map()): MigrateOutcome => ({
    ok: false,
    results: [],
    hosts: targets.map((t) => ({ host: t.name, status: failed.has(t.name) ? 'failed' : 'skipped', error: failed.get(t.name) })),
    error,
    durationMs: Date.now() - started,
  });
  const reached = await connectHosts(pool, targets, cfg.appDir, { logger, timeline: new Timeline(), commandTimeoutMs: cfg.commandTimeoutMs, maxParallel: cfg.maxParallel });
  const unreachable = reached.filter((r) => r.status === 'failed');
  if (unreachable.length) {
    return untouched(`cannot reach every host; nothing was run:\n${unreachable.map((r) => r.error).join('\n')}`, new Map(unreachable.map((r) => [r.target.name, r.error!])));
  }
  const hosts = reached.map((r) => r.value!);
  if (cfg.requireBackupWithinMs !== undefined) {
    try {
      logger.info(`newest complete backup: ${checkRecentBackup(hosts[0]!, cfg.requireBackupWithinMs, cfg.run.app, cfg.run.environment)}`);
    } catch (e) {
      return untouched(errorMessage(e));
    }
  }
  let lock: HeldLocks;
  try {
    lock = await lockAndRefresh(hosts, cfg.appDir, cfg.run, 'deploy', { ...cfg.lock, logger, onAcquired: (held, owner) => cfg.onLocked?.(held, owner.id) });
  } catch (e) {
    return untouched(`${errorMessage(e)}\nNothing was run.`);
  }
  try {
    const chosen = cfg.runOn === 'all' ? hosts : [hosts[0]!];
    // Chosen under the lock: a deploy that held it may just have staged a newer release.
    let releases: ReleaseManifest[];
    try {
      releases = chosen.map((h) => newestRelease(h, cfg.release));
    } catch (e) {
      return untouched(errorMessage(e));
    }
    const rs = await forEachHost(
      chosen.map((h) => h.target),
      async (_t, i) => {
        await lock.verify([chosen[i]!.target.name]);
        return runMigration(chosen[i]!, releases[i]!, cfg.spec, cfg.run, logger);
      },
      { maxParallel: cfg.maxParallel, onFailure: 'halt', logger },
    );
    const results: MigrationResult[] = [];
    for (const r of rs) {
      const res = r.value ?? migrationErrorResult(r.cause);
      if (res) results.push(res);
    }
    const failed = rs.filter((r) => r.status !== 'succeeded');
    return {
      ok: failed.length === 0,
      results,
      hosts: targets.map((t) => {
        const r = rs.find((x) => x.target.name === t.name);
        return { host: t.name, status: r ? r.status : 'skipped', error: r?.error };
      }),
      error: failed.length ? failed.map((r) => r.error ?? `${r.target.name}: not run (an earlier host failed)`).join('\n') : undefined,
      durationMs: Date.now() - started,
    };
  } finally {
    await lock.release();
  }
}
