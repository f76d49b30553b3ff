/**
 * Backup throughput, side by side with pg_dump itself in the same run, on a pgbench database
 * (BENCH_SCALE, default 70: about 1 GB) on a sandbox host:
 *   baseline: `pg_dump -Fc` to /dev/null on the host (nothing stored, nothing encrypted);
 *   the backup action through its bundle (Node 24): pg_dump on the host, streamed over SSH,
 *   age-encrypted on the runner, stored to file:// and to an S3-compatible store (s3rver),
 *   with the action's peak RSS and CPU time.
 * BENCH_RUNS interleaved runs (default 5): medians, min and max; throughput as a ratio of
 * the baseline's time (target ≥ 0.9×, peak RSS ≤ 200 MB). Asserts nothing.
 * Run: npm run bench -- backup (as root).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startS3 } from '../test/fixtures/s3.js';
import { runAction } from '../test/harness.js';
import { SCALE, startPgBench, time, watchProcess } from './pg.js';
import { median, writeResults } from './results.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const b = await startPgBench();
const s3 = await startS3('bench');
const vault = mkdtempSync(path.join(os.tmpdir(), 'bench-vault-'));
try {
  const stores: Record<string, Record<string, string>> = {
    'file://': { storage: `file://${vault}` },
    S3: { storage: `s3://${s3.bucket}/ops`, 's3-endpoint': s3.endpoint, 's3-force-path-style': 'true', 's3-access-key-id': s3.accessKeyId, 's3-secret-access-key': s3.secretAccessKey },
  };
  // Warm the page cache the same way for everyone.
  await b.onHost(`pg_dump -Fc -Z0 ${b.conn} -d bench > /dev/null`);
  const raw: number[] = [];
  const ours: Record<string, { ms: number[]; rss: number[]; cpu: number[]; bytes: number }> = Object.fromEntries(Object.keys(stores).map((k) => [k, { ms: [], rss: [], cpu: [], bytes: 0 }]));
  for (let i = 0; i < RUNS; i++) {
    raw.push((await time(() => b.onHost(`pg_dump -Fc ${b.conn} -d bench > /dev/null`)))[0]);
    for (const [name, store] of Object.entries(stores)) {
      const w = watchProcess();
      const [ms, r] = await time(() => runAction('backup', { onSpawn: w.onSpawn, inputs: { ...b.inputs, ...store, 'encrypt-to': b.recipient } }).then((x) => x.main));
      if (r.exitCode !== 0) throw new Error(`backup to ${name} failed: ${r.errors.join('\n')}`);
      const p = w.done();
      ours[name]!.ms.push(ms);
      ours[name]!.rss.push(p.peakRssMb);
      ours[name]!.cpu.push(p.cpuMs);
      ours[name]!.bytes = Number(r.outputs['size-bytes']);
    }
  }
  const f = (xs: number[]) => `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)})`;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
  const table = [
    '| backup of the database | time, median (min–max) | throughput ÷ baseline | target | stored | peak RSS of the action | its CPU time |',
    '|---|---|---|---|---|---|---|',
    `| \`pg_dump -Fc > /dev/null\` on the host (baseline) | ${f(raw)} | 1× | | | | |`,
    ...Object.entries(ours).map(
      ([name, o]) =>
        `| backup action to ${name} (age-encrypted) | ${f(o.ms)} | ${(median(raw) / median(o.ms)).toFixed(2)}× | ≥ 0.9×, ≤ 200 MB | ${mb(o.bytes)} | ${median(o.rss).toFixed(0)} MB (max ${Math.max(...o.rss).toFixed(0)}) | ${(median(o.cpu) / 1000).toFixed(2)} s |`,
    ),
  ].join('\n');
  console.log(table);
  writeResults(
    'backup',
    { runs: RUNS, scale: SCALE, databaseBytes: b.sizeBytes, rawMs: raw, ours },
    `## backup\n\nA PostgreSQL database of ${mb(b.sizeBytes)} (pgbench scale ${SCALE}) on a sandbox host, backed up through the backup bundle (Node 24): \`pg_dump -Fc\` on the host, streamed over SSH, age-encrypted on the runner, stored; ${RUNS} interleaved runs. The baseline, \`pg_dump -Fc\` to /dev/null on the host, stores and encrypts nothing. Runner and database server share the machine's two cores.\n\n${table}`,
  );
} finally {
  rmSync(vault, { recursive: true, force: true });
  await s3.close();
  await b.sb.stop();
}
