/**
 * backup and restore throughput, side by side with raw PostgreSQL tools in the same run, on
 * a pgbench database (BENCH_SCALE, default 70: about 1 GB) on a sandbox host:
 *   A. `pg_dump -Fc` to /dev/null on the host (the baseline: nothing stored, nothing
 *      encrypted) vs the backup action (pg_dump -Fc -Z0 on the host, zstd and age on the
 *      runner, stored on the runner's disk), end to end through the bundle.
 *   B. `pg_restore` of a local dump file on the host vs the restore action (download,
 *      verify the whole backup on the host, then restore it: two passes).
 * Prints times, sizes and ratios; asserts nothing. Run: npm run bench:backup (as root).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSandbox } from '../sandbox/index.js';
import { runAction } from '../test/harness.js';

const run = promisify(execFile);
const SCALE = Number(process.env.BENCH_SCALE ?? 70);
const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, v];
};
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

const sb = await startSandbox({ hosts: 1, postgres: true });
const vault = mkdtempSync(path.join(os.tmpdir(), 'bench-vault-'));
try {
  const pg = sb.postgres!;
  const h = sb.hosts[0]!;
  const key = path.join(sb.root, 'client', 'id_ed25519');
  const kh = path.join(sb.root, 'known_hosts');
  writeFileSync(kh, sb.knownHosts());
  const onHost = (script: string, ...args: string[]) =>
    run(
      'ssh',
      ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${kh}`, '-i', key, '-p', String(h.port), `${h.user}@${h.address}`, `PGPASSWORD='${pg.password}' sh -c '${script}' bench ${args.join(' ')}`],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  const conn = `-U postgres -h 127.0.0.1 -p ${pg.port}`;

  await pg.psql(['-c', 'create database bench']);
  const [initMs] = await time(() =>
    run(path.join(pg.bin, 'pgbench'), ['-i', '-q', '-s', String(SCALE), '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'bench'], { env: { ...process.env, PGPASSWORD: pg.password } }),
  );
  const size = Number((await pg.psql(['-tAc', "select pg_database_size('bench')"])).trim());
  console.log(`pgbench scale ${SCALE}: database of ${mb(size)} (created in ${s(initMs)})`);

  const identityOut = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const identity = identityOut.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  const recipient = /public key: (age1\S+)/.exec(identityOut)![1]!;
  const inputs = {
    app: 'bench',
    ...sb.sshInputs([h]),
    source: 'postgres',
    database: 'bench',
    'db-user': 'postgres',
    'db-password': pg.password,
    'db-host': '127.0.0.1',
    'db-port': String(pg.port),
    storage: `file://${vault}`,
  };

  // Warm the page cache the same way for everyone.
  await onHost(`pg_dump -Fc -Z0 ${conn} -d bench > /dev/null`);
  const [rawMs] = await time(() => onHost(`pg_dump -Fc ${conn} -d bench > /dev/null`));
  const [oursMs, b] = await time(() => runAction('backup', { inputs: { ...inputs, 'encrypt-to': recipient } }).then((r) => r.main));
  if (b.exitCode !== 0) throw new Error(`backup failed: ${b.errors.join('\n')}`);
  const [plainMs, bp] = await time(() => runAction('backup', { inputs: { ...inputs, name: 'plain', compression: 'none', encryption: 'none' } }).then((r) => r.main));
  if (bp.exitCode !== 0) throw new Error(`backup failed: ${bp.errors.join('\n')}`);
  console.log('A. backup');
  console.log(`   pg_dump -Fc > /dev/null on the host (baseline):     ${s(rawMs)}`);
  console.log(`   backup action, zstd + age, stored:                  ${s(oursMs)}   ${mb(Number(b.outputs['size-bytes']))} stored   throughput ${(rawMs / oursMs).toFixed(2)}x the baseline's`);
  console.log(`   backup action, no compression, no encryption:       ${s(plainMs)}   ${mb(Number(bp.outputs['size-bytes']))} stored   throughput ${(rawMs / plainMs).toFixed(2)}x`);

  const file = `${h.home}/bench.pgdump`;
  await onHost(`pg_dump -Fc ${conn} -d bench > "$1"`, file);
  await pg.psql(['-c', 'create database bench_raw']);
  const [rawRestoreMs] = await time(() => onHost(`pg_restore --no-owner ${conn} -d bench_raw "$1"`, file));
  await pg.psql(['-c', 'create database bench_ours']);
  const [oursRestoreMs, r] = await time(() => runAction('restore', { inputs: { ...inputs, database: 'bench_ours', name: 'postgres-bench', identity, mode: 'database-only' } }).then((x) => x.main));
  if (r.exitCode !== 0) throw new Error(`restore failed: ${r.errors.join('\n')}`);
  const [validateMs] = await time(() => runAction('restore', { inputs: { ...inputs, database: 'bench_ours', name: 'postgres-bench', identity } }).then((x) => x.main));
  console.log('B. restore');
  console.log(`   pg_restore of a local dump file (baseline):          ${s(rawRestoreMs)}`);
  console.log(`   restore action (download, verify, restore):          ${s(oursRestoreMs)}   ratio ${(oursRestoreMs / rawRestoreMs).toFixed(2)}x the baseline's time`);
  console.log(`   restore action, validation-only:                     ${s(validateMs)}`);
} finally {
  rmSync(vault, { recursive: true, force: true });
  await sb.stop();
}
