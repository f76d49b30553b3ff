/**
 * Migrations, once, before traffic moves: in a one-off container of the release's image
 * (`compose run --rm`), inside the running service (`compose exec`), or as a shell command
 * in the release directory (file releases). Every mode runs the command fail-fast (bash
 * `-euo pipefail` when the container has bash, `sh -eu` with pipefail where the shell
 * has it). Recorded in history with the release.
 */
import path from 'node:path';
import type { Logger } from '../log.js';
import { formatDuration, tail } from '../text.js';
import type { ReleaseManifest } from '../host/state.js';
import { eventsOf, releaseStates } from '../host/history.js';
import { execInServiceCommand, hookCommand, removeFilesCommand, oneOffOverride, resolvedConfigCommand, runOneOffCommand, runOneOffCopyCommand } from '../commands/index.js';
import type { Command } from '../shell/index.js';
import type { ExecResult } from '../host/session.js';
import { composeCall } from './compose.js';
import { hookEnv, record, step, type HostCtx, type RunInfo } from './context.js';

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

/**
 * compose v1 cannot `run` a one-off container of a service that is running with
 * `network_mode: host` ("host type networking can't be used with links": v1 links a
 * one-off to its own service's containers). So on v1 the service is copied under another
 * name (`extends` of the fully resolved config, same project: same volumes, networks, env)
 * and the copy is run. These are the two files that does it, in the release directory.
 */
export function oneOffFiles(h: HostCtx, m: ReleaseManifest): { config: string; override: string } {
  const dir = h.layout.release(m.id);
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  return { config: path.posix.join(dir, `.ops-oneoff-config.${tag}.yml`), override: path.posix.join(dir, `.ops-oneoff.${tag}.yml`) };
}

export function migrationCommand(h: HostCtx, m: ReleaseManifest, spec: MigrateSpec, env: Record<string, string>, oneOff?: { config: string; override: string }): Command {
  if (spec.mode === 'host') return hookCommand(h.layout.release(m.id), spec.command, env);
  if (m.strategy !== 'compose') throw new Error(`mode '${spec.mode}' needs a compose release, but ${m.id} is a ${m.strategy === 'swarm' ? 'swarm' : 'file'} release; use mode 'host'`);
  const c = composeCall(h, m);
  if (spec.mode === 'exec') return execInServiceCommand(c, spec.service, spec.command, env);
  return oneOff ? runOneOffCopyCommand(c, oneOff, spec.service, spec.command, env) : runOneOffCommand(c, spec.service, spec.command, env);
}

/** Run the migration on one host; throws (after recording) unless it exits 0. */
export async function runMigration(h: HostCtx, m: ReleaseManifest, spec: MigrateSpec, run: RunInfo, logger: Logger): Promise<MigrationResult> {
  const env = hookEnv({ ...run, version: m.version }, m.id, h.target.name);
  logger.info(`host ${h.target.name}: migrating with release ${m.id} (${spec.mode}): ${spec.command}`);
  const oneOff = spec.mode === 'compose-run' && m.strategy === 'compose' && h.state.compose === 'v1' ? oneOffFiles(h, m) : undefined;
  let r: ExecResult;
  try {
    if (oneOff) {
      await h.session.run(resolvedConfigCommand(composeCall(h, m), oneOff.config), { step: 'migrate (compose config)' });
      await h.session.writeFile(oneOff.override, oneOffOverride(oneOff.config, spec.service), 0o600, { exclusive: true });
    }
    r = await step(h, 'migrate', () => h.session.exec(migrationCommand(h, m, spec, env, oneOff), { timeoutMs: spec.timeoutMs, stream: true }));
  } finally {
    if (oneOff) await h.session.exec(removeFilesCommand([oneOff.config, oneOff.override])).catch(() => {});
  }
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
  });
  if (r.timedOut) {
    throw Object.assign(
      new Error(
        `host ${h.target.name}: the migration timed out after ${formatDuration(spec.timeoutMs)}${r.mayStillRun ? '; the host has no timeout command, so it may still be running there' : ' and was killed'}; raise 'timeout' if it needs longer. Last output:\n${tail(output, 20)}`,
      ),
      { result },
    );
  }
  if (r.code !== 0) {
    throw Object.assign(new Error(`host ${h.target.name}: the migration exited with code ${r.code}; last output:\n${tail(output, 20)}`), { result });
  }
  return result;
}

/**
 * The newest release with a manifest that is not marked bad: the one a pipeline just
 * staged or deployed (after a rollback, not the release rolled back from). A release named
 * by id or version is taken as it is.
 */
export function newestRelease(h: HostCtx, wanted?: string): ReleaseManifest {
  const ids = h.state.releases.filter((r) => h.state.manifests.has(r));
  if (wanted) {
    const byId =
      h.state.manifests.get(wanted) ??
      ids
        .map((r) => h.state.manifests.get(r)!)
        .filter((m) => m.version === wanted)
        .pop();
    if (!byId) throw new Error(`host ${h.target.name}: no release with id or version '${wanted}' (releases: ${ids.join(', ') || 'none'})`);
    return byId;
  }
  const states = releaseStates(h.state.history);
  const id = ids.filter((r) => !states.get(r)?.bad).pop();
  if (!id)
    throw new Error(
      `host ${h.target.name}: no release${ids.length ? ' that is not marked bad' : ''} is staged or deployed under ${h.layout.appDir}; deploy (or stage) one first, or name one with 'release'`,
    );
  return h.state.manifests.get(id)!;
}

/**
 * Refuse unless a complete backup of this app and environment is recorded newer than
 * `withinMs` (backups append `backup-completed` to history.jsonl when their manifest is written).
 */
export function checkRecentBackup(h: HostCtx, withinMs: number, app: string, environment: string): string {
  const done = eventsOf(h.state.history, 'backup-completed').filter((e) => e.complete !== false);
  const newest = done[done.length - 1];
  if (!newest) {
    throw new Error(
      `require-backup-within ${formatDuration(withinMs)}: no complete backup of ${app}/${environment} is recorded on ${h.target.name} (its history.jsonl has no backup-completed event). Run the backup action first, or remove require-backup-within.`,
    );
  }
  const age = Date.now() - Date.parse(newest.time);
  if (!(age <= withinMs)) {
    throw new Error(
      `require-backup-within ${formatDuration(withinMs)}: the newest complete backup of ${app}/${environment} is ${formatDuration(age)} old (${newest.time}). Run the backup action first.`,
    );
  }
  return newest.time;
}

export function migrationErrorResult(e: unknown): MigrationResult | undefined {
  return (e as { result?: MigrationResult }).result;
}
