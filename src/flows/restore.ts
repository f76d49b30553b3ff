/**
 * A restore (and the DR drill), as phases: pick the backup (latest complete, or an id) →
 * verify: download, check the ciphertext's sha256 and size, decrypt, decompress, check the
 * plaintext's sha256 and size, and check its format on the target host (pg_restore -f
 * /dev/null, tar -t, the SQL dump's completion marker, sqlite's integrity_check) → stop here
 * for `validation-only` → lock the target app → check the target is empty (or recreate it
 * with `drop-existing`) → restore, streaming the same way again → health gate → record
 * `restore-completed`. Nothing touches the target before the backup is proven whole.
 */
import type { Phase, RestoreResult } from '../backup/results.js';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkHealth } from '../health/check.js';
import type { HealthSpec } from '../health/spec.js';
import { loadHost, lockAndRefresh, record, type HostCtx } from '../deploy/context.js';
import { errorMessage, type Logger } from '../log.js';
import type { SshPool } from '../host/pool.js';
import type { Target } from '../host/target.js';
import { Timeline } from '../host/timeline.js';
import type { HeldLocks } from '../host/lock.js';
import { formatDuration } from '../text.js';
import type { Storage } from '../storage/index.js';
import { backupDir, listBackups, setPrefix, type Manifest } from '../backup/manifest.js';
import { decompressor, decrypt, tap, type Decryption } from '../backup/pipeline.js';
import { describe, restorePlan, type SourceSpec } from '../backup/sources.js';
import { drainStdinAfter } from '../commands/backup.js';
import { runnerFor } from './backup.js';

export type RestoreMode = 'validation-only' | 'database-only' | 'full';

export interface RestoreConfig {
  run: { app: string; environment: string; actor: string; runUrl: string; runId: string };
  /** The backup set: whose backups (app, environment, name) to restore. */
  from: { app: string; environment: string; name: string };
  backup: string;
  decryption: Decryption;
  mode: RestoreMode;
  dropExisting: boolean;
  /** Where to restore to (a database, files, a volume) on the target host. */
  target: SourceSpec;
  appDir: string;
  gate?: HealthSpec;
  rtoTargetMs: number;
  rpoTargetMs: number;
  lock: { timeoutMs: number; ttlMs: number };
  commandTimeoutMs: number;
  timeoutMs: number;
}

export type { Phase, RestoreResult } from '../backup/results.js';

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

/** The backup to restore: the newest complete one, or the one with this id. */
export async function pickBackup(storage: Storage, from: RestoreConfig['from'], wanted: string): Promise<Manifest> {
  const listing = await listBackups(storage, setPrefix(from.app, from.environment, from.name));
  const where = `${storage.url}/${setPrefix(from.app, from.environment, from.name)}`;
  if (wanted === 'latest') {
    const m = listing.complete[listing.complete.length - 1];
    if (!m) throw new Error(`there is no complete backup in ${where}${listing.incomplete.size ? ` (${listing.incomplete.size} incomplete one(s) without a manifest are ignored)` : ''}`);
    return m;
  }
  const m = listing.complete.find((b) => b.id === wanted);
  if (!m) {
    const why = listing.incomplete.has(wanted) ? 'it is incomplete (no manifest): it was never finished' : 'there is no such backup';
    throw new Error(`backup ${wanted} cannot be restored from ${where}: ${why}. Complete backups: ${listing.complete.map((b) => b.id).join(', ') || 'none'}`);
  }
  return m;
}

/** Stream the backup's plaintext into `command` on the host; check hashes and sizes on the way. */
async function streamInto(
  h: HostCtx,
  storage: Storage,
  m: Manifest,
  d: Decryption,
  command: Parameters<HostCtx['session']['stream']>[0],
  step: string,
  timeoutMs: number,
): Promise<{ problems: string[]; exit: number | null; stderr: string; tail: Buffer }> {
  const key = `${backupDir(m.app, m.environment, m.name, m.id)}/${m.object}`;
  const cipher = tap();
  const plain = tap();
  const source = await storage.get(key);
  // A pipeline, not pipe(): a failure downstream (a bad tag) cancels the tap, and its error
  // must have a listener. Errors of the download reach the decryption through the tap.
  const fetched = pipeline(source, cipher.stream);
  fetched.catch(() => {});
  const decrypted = await decrypt(cipher.stream, d).catch((e) => {
    throw new Error(`cannot decrypt backup ${m.id}: ${errorMessage(e)}${'identities' in d ? ' (is the identity the one for its recipients?)' : ''}`);
  });
  const decompressed = decompressor(m.compression);
  const front = pipeline(decrypted, decompressed, plain.stream);
  // Awaited below; a failure while the command starts must not be "unhandled".
  front.catch(() => {});
  // The tool may stop reading at its format's end (tar's end-of-archive blocks come before
  // the record padding): the host reads the rest after it succeeds, so every byte is hashed.
  const remote = await h.session.stream(drainStdinAfter(command), { stdin: plain.stream, step, timeoutMs });
  const out = pipeline(remote.stdout, sink());
  out.catch(() => {});
  const problems: string[] = [];
  const [f] = await Promise.allSettled([front, out]);
  if (f.status === 'rejected') remote.stdout.destroy();
  const done = await remote.done.catch((e) => ({ code: null, stderrTail: errorMessage(e), bytes: 0, durationMs: 0, timedOut: false }));
  // A command that failed stops reading, which breaks the stream feeding it: that is the
  // command's failure (reported by the caller from the exit code), not the backup's.
  if (f.status === 'rejected') {
    const brokenByCommand = done.code !== 0 && /premature close|EPIPE|write after end|destroyed/i.test(errorMessage(f.reason));
    if (!brokenByCommand) problems.push(`the backup does not decrypt or decompress cleanly: ${errorMessage(f.reason)}`);
  }
  const c = cipher.result();
  const p = plain.result();
  if (f.status === 'fulfilled') {
    if (c.bytes !== m.ciphertext.bytes || c.sha256 !== m.ciphertext.sha256)
      problems.push(
        `the stored data is not what was backed up (${c.bytes} bytes, sha256 ${c.sha256}; the manifest says ${m.ciphertext.bytes} bytes, ${m.ciphertext.sha256}): it is corrupted or truncated`,
      );
    else if (p.bytes !== m.plaintext.bytes || p.sha256 !== m.plaintext.sha256) problems.push(`the decrypted data does not match the manifest's plaintext sha256`);
  }
  return { problems, exit: done.code, stderr: done.stderrTail, tail: p.tail };
}

export async function restore(cfg: RestoreConfig, pool: SshPool, target: Target, storage: Storage, logger: Logger): Promise<RestoreResult> {
  const started = Date.now();
  const phases: Phase[] = [];
  const result: RestoreResult = { ok: false, phases, durationMs: 0, restored: false };
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    logger.info(`▸ ${name}`);
    try {
      const v = await fn();
      phases.push({ name, ms: Date.now() - t, ok: true });
      return v;
    } catch (e) {
      phases.push({ name, ms: Date.now() - t, ok: false });
      throw e;
    }
  };
  const finish = (error?: string): RestoreResult => {
    const durationMs = Date.now() - started;
    const rtoMet = durationMs <= cfg.rtoTargetMs;
    return {
      ...result,
      ok: !error && rtoMet && result.rpoMet !== false,
      error: error ?? (!rtoMet ? `the restore took ${formatDuration(durationMs)}, over the RTO target of ${formatDuration(cfg.rtoTargetMs)}` : result.rpoMet === false ? result.error : undefined),
      durationMs,
      rtoMet,
    };
  };
  let h: HostCtx;
  let m: Manifest;
  try {
    m = await phase('find the backup', () => pickBackup(storage, cfg.from, cfg.backup));
    result.manifest = m;
    result.backupAgeS = Math.round((Date.now() - Date.parse(m.finished)) / 1000);
    result.rpoMet = result.backupAgeS * 1000 <= cfg.rpoTargetMs;
    if (!result.rpoMet) {
      result.error = `backup ${m.id} is ${formatDuration(result.backupAgeS * 1000)} old (finished ${m.finished}), over the RPO target of ${formatDuration(cfg.rpoTargetMs)} by ${formatDuration(result.backupAgeS * 1000 - cfg.rpoTargetMs)}: backups are not running often enough`;
      logger.warning(result.error);
    }
    if (m.source.kind !== cfg.target.kind) throw new Error(`backup ${m.id} is a ${m.source.kind} backup; the target is ${cfg.target.kind}`);
    if (cfg.mode === 'database-only' && (m.source.kind === 'files' || m.source.kind === 'volume')) throw new Error(`mode database-only does not restore ${m.source.kind} backups; use mode full`);
    logger.info(`backup ${m.id} of ${m.app}/${m.environment}/${m.name}: ${m.source.kind} from ${m.host}, ${m.ciphertext.bytes} bytes stored, finished ${m.finished}`);
    h = await loadHost(target, await pool.get(target), cfg.appDir, { logger, timeline: new Timeline(), commandTimeoutMs: cfg.commandTimeoutMs });
  } catch (e) {
    return finish(errorMessage(e));
  }
  const { runner, cleanup } = await runnerFor(h, cfg.target);
  let locks: HeldLocks | undefined;
  try {
    const plan = restorePlan(cfg.target, runner);
    // 1. Prove the backup whole before anything touches the target.
    const v = await phase('verify (download, decrypt, check)', async () => {
      const r = await streamInto(h, storage, m, cfg.decryption, plan.validate, 'validate', cfg.timeoutMs);
      if (!r.problems.length && m.source.kind === 'mysql' && !/-- Dump completed( on [^\n]*)?\s*$/.test(r.tail.toString('utf8'))) r.problems.push("the SQL dump does not end with '-- Dump completed'");
      if (!r.problems.length && r.exit !== 0) r.problems.push(`the backup's format check failed on ${target.name} (exit ${r.exit})${r.stderr ? `: ${r.stderr}` : ''}`);
      if (r.problems.length) throw new Error(`backup ${m.id} cannot be restored: ${r.problems.join('; ')}. The target was not touched.`);
      return r;
    });
    void v;
    if (cfg.mode === 'validation-only') {
      logger.info(`backup ${m.id} is valid: it decrypts, decompresses, matches its hashes and reads as a complete ${m.source.kind} backup`);
      return finish();
    }
    // 2. The target: locked against deploys, empty (or recreated).
    await phase('lock and check the target', async () => {
      locks = await lockAndRefresh([h], cfg.appDir, cfg.run, 'deploy', { ...cfg.lock, logger });
      if (plan.probe) {
        const p = await h.session.run(plan.probe, { step: 'check target' });
        if (!plan.isEmpty(p.stdout)) {
          if (!cfg.dropExisting) throw new Error(`the target ${describe(cfg.target)} on ${target.name} is not empty; restoring into it needs drop-existing: true (which recreates it first)`);
          for (const c of plan.clear) await h.session.run(c, { step: 'drop existing' });
          logger.warning(`host ${target.name}: dropped and recreated ${describe(cfg.target)} (drop-existing)`);
        }
      }
    });
    // 3. Restore, streaming it again (the same checks on the way).
    await phase('restore', async () => {
      const r = await streamInto(h, storage, m, cfg.decryption, plan.restore, 'restore', cfg.timeoutMs);
      if (r.problems.length || r.exit !== 0)
        throw new Error(
          `restoring backup ${m.id} into ${describe(cfg.target)} on ${target.name} failed: ${[...r.problems, r.exit !== 0 ? `exit ${r.exit}${r.stderr ? `: ${r.stderr}` : ''}` : ''].filter(Boolean).join('; ')}`,
        );
    });
    result.restored = true;
    if (cfg.gate) {
      await phase('health', async () => {
        const health = await checkHealth(cfg.gate!, { logger, pool, targets: [target], maxParallel: 1 });
        if (!health.healthy) throw new Error(`the restored ${describe(cfg.target)} is in place, but the health gate failed: ${health.failures.join('; ')}`);
      });
    }
    await record(h, {
      type: 'restore-completed',
      release: h.state.current ?? '',
      backup_id: m.id,
      mode: cfg.mode,
      duration_ms: Date.now() - started,
      actor: cfg.run.actor,
      run_url: cfg.run.runUrl,
    }).catch((e) => logger.warning(`host ${target.name}: could not record the restore in its history: ${errorMessage(e)}`));
    return finish();
  } catch (e) {
    return finish(errorMessage(e));
  } finally {
    await cleanup();
    await (locks as HeldLocks | undefined)?.release();
  }
}
