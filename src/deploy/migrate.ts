/**
 * Migrations, once, before traffic moves: in a one-off container of the release's image
 * (`compose run --rm`), inside the running service (`compose exec`), or as a shell command
 * in the release directory (file releases). Recorded in history with the release.
 */
import type { Logger } from '../log.js';
import { formatDuration } from '../inputs/schema.js';
import { tail } from '../ssh/errors.js';
import type { ReleaseManifest } from '../state/releases.js';
import { composeArgs } from './compose.js';
import { hookCommand, record, step, type HostCtx } from './host.js';
import type { RunInfo } from './run.js';
import { hookEnv } from './run.js';
import type { Command } from '../shell/index.js';
import type { HistoryEvent } from '../state/history.js';

export type MigrateMode = 'compose-run' | 'exec' | 'host';

export interface MigrateSpec {
  command: string;
  mode: MigrateMode;
  service: string;
  timeoutMs: number;
}

export interface MigrationResult {
  host: string;
  exitCode: number | null;
  durationMs: number;
  /** The last 100 lines of output (stdout and stderr). */
  output: string;
  timedOut: boolean;
}

export function migrationCommand(h: HostCtx, m: ReleaseManifest, spec: MigrateSpec, env: Record<string, string>): Command {
  if (spec.mode === 'host') return hookCommand(h.layout.release(m.id), spec.command, env);
  if (m.strategy !== 'compose') throw new Error(`mode '${spec.mode}' needs a compose release, but ${m.id} is a file release; use mode 'host'`);
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const verb = spec.mode === 'compose-run' ? ['run', '--rm', '-T', ...envArgs] : ['exec', '-T', ...envArgs];
  return [...composeArgs(h, m), ...verb, spec.service, 'sh', '-c', spec.command];
}

/** Run the migration on one host; throws (after recording) unless it exits 0. */
export async function runMigration(h: HostCtx, m: ReleaseManifest, spec: MigrateSpec, run: RunInfo, logger: Logger): Promise<MigrationResult> {
  const env = hookEnv({ ...run, version: m.version }, m.id, h.target.name);
  logger.info(`host ${h.target.name}: migrating with release ${m.id} (${spec.mode}): ${spec.command}`);
  const r = await step(h, 'migrate', () => h.session.exec(migrationCommand(h, m, spec, env), { timeoutMs: spec.timeoutMs, stream: true }));
  const output = tail([r.stdout, r.stderr].filter(Boolean).join('\n'), 100);
  const result: MigrationResult = { host: h.target.name, exitCode: r.code, durationMs: r.durationMs, output, timedOut: r.timedOut };
  await record(h, {
    type: 'migration',
    release: m.id,
    version: m.version,
    command: spec.command,
    mode: spec.mode,
    exit_code: r.code,
    duration_ms: r.durationMs,
    timed_out: r.timedOut,
    actor: run.actor,
    run_url: run.runUrl,
  } as Omit<HistoryEvent, 'time' | 'host'>);
  if (r.timedOut) {
    throw Object.assign(new Error(`host ${h.target.name}: the migration timed out after ${formatDuration(spec.timeoutMs)} and was killed; raise 'timeout' if it needs longer. Last output:\n${tail(output, 20)}`), { result });
  }
  if (r.code !== 0) {
    throw Object.assign(new Error(`host ${h.target.name}: the migration exited with code ${r.code}; last output:\n${tail(output, 20)}`), { result });
  }
  return result;
}

/** The newest release with a manifest: the one a pipeline just staged or deployed. */
export function newestRelease(h: HostCtx, wanted?: string): ReleaseManifest {
  const ids = h.state.releases.filter((r) => h.state.manifests.has(r));
  if (wanted) {
    const byId = h.state.manifests.get(wanted) ?? ids.map((r) => h.state.manifests.get(r)!).filter((m) => m.version === wanted).pop();
    if (!byId) throw new Error(`host ${h.target.name}: no release with id or version '${wanted}' (releases: ${ids.join(', ') || 'none'})`);
    return byId;
  }
  const id = ids[ids.length - 1];
  if (!id) throw new Error(`host ${h.target.name}: no release is staged or deployed under ${h.layout.appDir}; deploy (or stage) one first`);
  return h.state.manifests.get(id)!;
}

/**
 * Refuse unless a complete backup of this app and environment is recorded newer than
 * `withinMs` (backups append `backup-completed` to history.jsonl when their manifest is written).
 */
export function checkRecentBackup(h: HostCtx, withinMs: number, app: string, environment: string): string {
  const done = h.state.history.filter((e) => e.type === 'backup-completed' && e.complete !== false);
  const newest = done[done.length - 1];
  if (!newest) {
    throw new Error(
      `require-backup-within ${formatDuration(withinMs)}: no complete backup of ${app}/${environment} is recorded on ${h.target.name} (its history.jsonl has no backup-completed event). Run the backup action first, or remove require-backup-within.`,
    );
  }
  const age = Date.now() - Date.parse(newest.time);
  if (!(age <= withinMs)) {
    throw new Error(`require-backup-within ${formatDuration(withinMs)}: the newest complete backup of ${app}/${environment} is ${formatDuration(age)} old (${newest.time}). Run the backup action first.`);
  }
  return newest.time;
}

export function migrationErrorResult(e: unknown): MigrationResult | undefined {
  return (e as { result?: MigrationResult }).result;
}
