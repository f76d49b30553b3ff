/**
 * Restore time, side by side with pg_restore itself in the same run: a backup of a pgbench
 * database (BENCH_SCALE, default 70: about 1 GB) made once through the backup bundle
 * (file://, age-encrypted), then restored into a fresh database through the restore bundle
 * (download, decrypt, verify the whole backup, restore: two passes over the data), against
 * `pg_restore` of a local dump file on the host. BENCH_RUNS interleaved runs (default 5);
 * target ≤ 1.3×. Asserts nothing. Run: npm run bench -- restore (as root).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction } from '../test/harness.js';
import { SCALE, startPgBench, time, watchProcess } from './pg.js';
import { median, writeResults } from './results.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const b = await startPgBench();
const vault = mkdtempSync(path.join(os.tmpdir(), 'bench-vault-'));
try {
  const pg = b.sb.postgres!;
  const storage = { storage: `file://${vault}` };
  const made = await runAction('backup', { inputs: { ...b.inputs, ...storage, 'encrypt-to': b.recipient } }).then((x) => x.main);
  if (made.exitCode !== 0) throw new Error(`backup failed: ${made.errors.join('\n')}`);
  const file = `${b.sb.hosts[0]!.home}/bench.pgdump`;
  await b.onHost(`pg_dump -Fc ${b.conn} -d bench > "$1"`, file);
  const raw: number[] = [];
  const ours: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await pg.psql(['-c', `drop database if exists raw${i}`, '-c', `create database raw${i}`]);
    raw.push((await time(() => b.onHost(`pg_restore --no-owner ${b.conn} -d raw${i} "$1"`, file)))[0]);
    await pg.psql(['-c', `drop database if exists ours${i}`, '-c', `create database ours${i}`]);
    const w = watchProcess();
    const [ms, r] = await time(() =>
      runAction('restore', { onSpawn: w.onSpawn, inputs: { ...b.inputs, ...storage, database: `ours${i}`, name: 'postgres-bench', identity: b.identity, mode: 'database-only' } }).then((x) => x.main),
    );
    if (r.exitCode !== 0) throw new Error(`restore failed: ${r.errors.join('\n')}`);
    ours.push(ms);
    rss.push(w.done().peakRssMb);
    await pg.psql(['-c', `drop database raw${i}`, '-c', `drop database ours${i}`]);
  }
  const f = (xs: number[]) => `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)})`;
  const table = [
    '| restore into a fresh database | time, median (min–max) | ÷ baseline | target | peak RSS of the action |',
    '|---|---|---|---|---|',
    `| \`pg_restore\` of a local dump file on the host (baseline) | ${f(raw)} | 1× | | |`,
    `| restore action (download, decrypt, verify the whole backup, then restore) | ${f(ours)} | ${(median(ours) / median(raw)).toFixed(2)}× | ≤ 1.3× | ${median(rss).toFixed(0)} MB |`,
  ].join('\n');
  console.log(table);
  writeResults(
    'restore',
    { runs: RUNS, scale: SCALE, databaseBytes: b.sizeBytes, rawMs: raw, oursMs: ours, peakRssMb: rss },
    `## restore\n\nA backup of a ${(b.sizeBytes / 1024 / 1024).toFixed(0)} MiB PostgreSQL database (pgbench scale ${SCALE}), made once through the backup bundle (file://, age), restored into a fresh database through the restore bundle (Node 24); ${RUNS} interleaved runs against \`pg_restore\` of a local dump file on the host. The restore reads the backup twice on purpose: nothing touches the target until the whole backup is proven intact (downloaded, decrypted and verified in full).\n\n${table}`,
  );
} finally {
  rmSync(vault, { recursive: true, force: true });
  await b.sb.stop();
}
