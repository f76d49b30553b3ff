/**
 * A backup, as phases: reach the host and read its state → write the database password to a
 * 0600 file there → dump on the host, streamed over SSH through hash → compression → age
 * encryption → hash into storage → judge the dump (exit code, completion marker, size) →
 * write manifest.json LAST → record `backup-completed` in the host's history → retention →
 * clean orphans. A failed dump stores nothing as a backup: its data object is deleted and no
 * manifest is written, so retention never counts it.
 */
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { removeFilesCommand } from '../commands/host.js';
import { mkdirCommand } from '../commands/files.js';
import { composeArgs } from '../commands/compose.js';
import { composeCall } from '../deploy/compose.js';
import { loadHost, record, type HostCtx } from '../deploy/context.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { SshPool } from '../host/pool.js';
import type { Target } from '../host/target.js';
import { Timeline } from '../host/timeline.js';
import { formatDuration } from '../text.js';
import type { Storage } from '../storage/index.js';
import type { BackupResult } from '../backup/results.js';
import { backupDir, listBackups, MANIFEST_FORMAT, newBackupId, setPrefix, type Compression, type Manifest } from '../backup/manifest.js';
import { applyRetention, type Retention } from '../backup/retention.js';
import { compressor, encrypt, tap, type Encryption } from '../backup/pipeline.js';
import { describe, dumpCommand, extension, judgeDump, versionCommand, type Runner, type SourceSpec } from '../backup/sources.js';

export interface BackupConfig {
  run: { app: string; environment: string; actor: string; runUrl: string; runId: string };
  /** The backup set's name. */
  name: string;
  source: SourceSpec;
  compression: Compression;
  /** PostgreSQL: pg_dump compresses its custom format itself (and `compression` is none). */
  dumpCompresses: boolean;
  encryption: Encryption;
  retention?: Retention;
  /** The app directory on the host (its history gets `backup-completed`). */
  appDir: string;
  commandTimeoutMs: number;
  /** How long the dump may take. */
  timeoutMs: number;
}

export type { BackupResult } from '../backup/results.js';

/** A 0600 file with a secret in the user's ~/.ops-actions/tmp, removed afterwards. */
async function secretFile(h: HostCtx, value: string): Promise<string> {
  const dir = path.posix.join(h.state.home, '.ops-actions', 'tmp');
  await h.session.run(mkdirCommand(dir), { step: 'secret file' });
  const f = path.posix.join(dir, `secret-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
  await h.session.writeFile(f, value, 0o600, { exclusive: true });
  return f;
}

/** How to reach the source's tools on this host (its password file, its compose release). */
export async function runnerFor(h: HostCtx, source: SourceSpec): Promise<{ runner: Runner; cleanup: () => Promise<void> }> {
  const runner: Runner = {};
  if ((source.kind === 'postgres' || source.kind === 'mysql') && source.place.kind === 'compose') {
    const id = h.state.current;
    const m = id ? h.state.manifests.get(id) : undefined;
    if (m?.strategy === 'compose') runner.composeArgs = composeArgs(composeCall(h, m));
  }
  if ((source.kind === 'postgres' || source.kind === 'mysql') && source.password) runner.passwordFile = await secretFile(h, source.password);
  return {
    runner,
    cleanup: async () => {
      if (runner.passwordFile) await h.session.exec(removeFilesCommand([runner.passwordFile])).catch(() => {});
    },
  };
}

export async function backup(cfg: BackupConfig, pool: SshPool, target: Target, storage: Storage, logger: Logger): Promise<BackupResult> {
  const started = Date.now();
  const result: BackupResult = { ok: false, durationMs: 0, deleted: [], kept: [], orphansRemoved: [], warnings: [] };
  const fail = (error: string): BackupResult => ({ ...result, ok: false, error, durationMs: Date.now() - started });
  let h: HostCtx;
  try {
    h = await loadHost(target, await pool.get(target), cfg.appDir, { logger, timeline: new Timeline(), commandTimeoutMs: cfg.commandTimeoutMs });
  } catch (e) {
    return fail(`cannot reach ${target.name}; nothing was backed up: ${errorMessage(e)}`);
  }
  const id = newBackupId();
  const dir = backupDir(cfg.run.app, cfg.run.environment, cfg.name, id);
  const object = `data.${extension(cfg.source.kind)}${cfg.compression === 'zstd' ? '.zst' : cfg.compression === 'gzip' ? '.gz' : ''}${'none' in cfg.encryption ? '' : '.age'}`;
  const { runner, cleanup } = await runnerFor(h, cfg.source);
  const startedAt = new Date().toISOString();
  let tool = '';
  try {
    const v = await h.session.exec(versionCommand(cfg.source, runner), { timeoutMs: 60_000 });
    tool = (v.stdout || v.stderr).trim().split('\n')[0] ?? '';
    logger.info(`host ${target.name}: backing up ${describe(cfg.source)} (${tool || 'tool version unknown'}) to ${storage.url}/${dir}`);
    const plain = tap();
    const cipher = tap();
    const remote = await h.session.stream(dumpCommand(cfg.source, runner, !cfg.dumpCompresses), { step: 'dump', timeoutMs: cfg.timeoutMs });
    // plaintext → hash → compress → encrypt → hash → storage, with backpressure all the way;
    // an error anywhere tears the whole chain down.
    const compressed = compressor(cfg.compression);
    const front = pipeline(remote.stdout, plain.stream, compressed);
    // Awaited below; a failure while something else is awaited must not be "unhandled".
    front.catch(() => {});
    const encrypted = await encrypt(compressed, cfg.encryption);
    const back = pipeline(encrypted, cipher.stream);
    back.catch(() => {});
    let stored = 0;
    let storeError: unknown;
    try {
      stored = await storage.put(`${dir}/${object}`, cipher.stream);
      await Promise.all([front, back]);
    } catch (e) {
      storeError = e;
      remote.stdout.destroy();
      await Promise.allSettled([front, back]);
    }
    const done = await remote.done.catch((e) => ({ code: null, stderrTail: errorMessage(e), bytes: 0, durationMs: 0, timedOut: false }) as Awaited<typeof remote.done>);
    const p = plain.result();
    const c = cipher.result();
    const verdict = storeError
      ? { warnings: [], error: `storing ${storage.url}/${dir}/${object} failed: ${errorMessage(storeError)}` }
      : judgeDump(cfg.source.kind, done.timedOut ? null : done.code, p.tail, p.bytes);
    if (!verdict.error && stored !== c.bytes) verdict.error = `storage reports ${stored} bytes written, but ${c.bytes} were sent`;
    if (verdict.error) {
      await storage.remove([`${dir}/${object}`]).catch(() => {});
      const why = done.timedOut ? `the dump timed out after ${formatDuration(cfg.timeoutMs)}` : verdict.error;
      return fail(
        `backup of ${describe(cfg.source)} on ${target.name} failed: ${why}${done.stderrTail ? `; last output:\n${done.stderrTail}` : ''}\nNothing was recorded as a backup; earlier backups are untouched.`,
      );
    }
    result.warnings.push(...verdict.warnings);
    for (const w of verdict.warnings) logger.warning(`host ${target.name}: ${w}`);
    // The size as stored, read back: what the manifest says must be what is there.
    const listed = (await storage.list(dir)).find((o) => o.key === `${dir}/${object}`);
    if (!listed || listed.size !== c.bytes) {
      await storage.remove([`${dir}/${object}`]).catch(() => {});
      return fail(
        `backup of ${describe(cfg.source)} on ${target.name} failed: ${storage.url}/${dir}/${object} holds ${listed ? `${listed.size} bytes` : 'nothing'} after storing ${c.bytes}; nothing was recorded as a backup`,
      );
    }
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      id,
      app: cfg.run.app,
      environment: cfg.run.environment,
      name: cfg.name,
      host: target.name,
      source: sourceRecord(cfg.source),
      tool,
      object,
      compression: cfg.compression,
      dump_compression: cfg.dumpCompresses ? 'pg_dump' : undefined,
      encryption: 'none' in cfg.encryption ? { kind: 'none' } : 'passphrase' in cfg.encryption ? { kind: 'age-passphrase' } : { kind: 'age-recipients', recipients: cfg.encryption.recipients },
      plaintext: { bytes: p.bytes, sha256: p.sha256 },
      ciphertext: { bytes: c.bytes, sha256: c.sha256 },
      started: startedAt,
      finished: new Date().toISOString(),
      exit_code: done.code ?? -1,
      warnings: verdict.warnings,
      run_url: cfg.run.runUrl || undefined,
    };
    // Written last: only now is this a backup.
    await storage.put(`${dir}/manifest.json`, Readable.from([Buffer.from(JSON.stringify(manifest, null, 2) + '\n')]));
    result.manifest = manifest;
    result.location = `${storage.url}/${dir}`;
    logger.info(`host ${target.name}: backup ${id} complete: ${p.bytes} bytes of data, ${c.bytes} stored (${formatDuration(Date.now() - started)})`);
  } catch (e) {
    await storage.remove([`${dir}/${object}`]).catch(() => {});
    return fail(`backup of ${describe(cfg.source)} on ${target.name} failed: ${errorMessage(e)}\nNothing was recorded as a backup; earlier backups are untouched.`);
  } finally {
    await cleanup();
  }
  const m = result.manifest!;
  await record(h, {
    type: 'backup-completed',
    release: h.state.current ?? '',
    backup_id: m.id,
    location: result.location!,
    size_bytes: m.ciphertext.bytes,
    source: m.source.kind,
    complete: true,
    actor: cfg.run.actor,
    run_url: cfg.run.runUrl,
  }).catch((e) => logger.warning(`host ${target.name}: could not record the backup in its history (migrate's require-backup-within will not see it): ${errorMessage(e)}`));
  // Retention and clean-up only after a complete backup, over complete backups only.
  try {
    const prefix = setPrefix(cfg.run.app, cfg.run.environment, cfg.name);
    const listing = await listBackups(storage, prefix);
    if (cfg.retention) {
      const plan = applyRetention(
        listing.complete.map((b) => ({ id: b.id, time: b.finished })),
        cfg.retention,
      );
      result.kept = plan.keep.map((k) => ({ id: k.backup.id, reasons: k.reasons }));
      const removeIds = plan.remove.map((b) => b.id).filter((x) => x !== m.id);
      if (removeIds.length) {
        const keys = (await storage.list(prefix)).filter((o) => removeIds.includes(o.key.slice(prefix.length + 1).split('/')[0]!));
        // The manifest goes first: a half-deleted backup is never listed as complete.
        await storage.remove(keys.filter((k) => k.key.endsWith('/manifest.json')).map((k) => k.key));
        await storage.remove(keys.filter((k) => !k.key.endsWith('/manifest.json')).map((k) => k.key));
        result.deleted = removeIds;
        logger.info(`retention: deleted ${removeIds.length} backup(s): ${removeIds.join(', ')}`);
      }
    }
    const dayAgo = Date.now() - 86_400_000;
    for (const [oid, objs] of listing.incomplete) {
      if (oid === id || objs.some((o) => o.modified.getTime() > dayAgo)) continue;
      await storage.remove(objs.map((o) => o.key));
      result.orphansRemoved.push(oid);
    }
    if (result.orphansRemoved.length) logger.info(`removed ${result.orphansRemoved.length} incomplete backup(s) older than a day: ${result.orphansRemoved.join(', ')}`);
  } catch (e) {
    result.warnings.push(`retention did not run: ${errorMessage(e)}`);
    logger.warning(`backup ${m.id} is complete, but retention did not run: ${errorMessage(e)}`);
  }
  return { ...result, ok: true, durationMs: Date.now() - started };
}

function sourceRecord(s: SourceSpec): Manifest['source'] {
  switch (s.kind) {
    case 'postgres':
    case 'mysql':
      return {
        kind: s.kind,
        database: s.conn.database,
        place: s.place.kind === 'host' ? 'host' : s.place.kind === 'container' ? `container ${s.place.container}` : `compose service ${s.place.service}`,
      };
    case 'sqlite':
      return { kind: s.kind, path: s.path };
    case 'files':
      return { kind: s.kind, paths: s.paths };
    case 'volume':
      return { kind: s.kind, volume: s.volume };
  }
}
