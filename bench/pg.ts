/**
 * What the backup and restore benchmarks share: a sandbox host with a pgbench database
 * (BENCH_SCALE, default 70: about 1 GB), OpenSSH onto the host for the
 * baselines, the action's inputs, and a watch of an action's process (CPU time, peak RSS)
 * read from /proc while it runs.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const run = promisify(execFile);
export const SCALE = Number(process.env.BENCH_SCALE ?? 70);

export interface PgBench {
  sb: Sandbox;
  /** Run a script on the host with OpenSSH (PGPASSWORD set), as a shell-script backup would. */
  onHost(script: string, ...args: string[]): Promise<void>;
  /** psql connection options on the host. */
  conn: string;
  /** backup/restore inputs for the database `bench`. */
  inputs: Record<string, string>;
  identity: string;
  recipient: string;
  sizeBytes: number;
}

export async function startPgBench(): Promise<PgBench> {
  const sb = await startSandbox({ hosts: 1, postgres: true });
  const pg = sb.postgres!;
  const h = sb.hosts[0]!;
  const key = path.join(sb.root, 'client', 'id_ed25519');
  const kh = path.join(sb.root, 'known_hosts');
  writeFileSync(kh, sb.knownHosts());
  const onHost = async (script: string, ...args: string[]) => {
    await run(
      'ssh',
      ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${kh}`, '-i', key, '-p', String(h.port), `${h.user}@${h.address}`, `PGPASSWORD='${pg.password}' sh -c '${script}' bench ${args.join(' ')}`],
      { maxBuffer: 64 * 1024 * 1024 },
    );
  };
  await pg.psql(['-c', 'create database bench']);
  await run(path.join(pg.bin, 'pgbench'), ['-i', '-q', '-s', String(SCALE), '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'bench'], {
    env: { ...process.env, PGPASSWORD: pg.password },
  });
  const sizeBytes = Number((await pg.psql(['-tAc', "select pg_database_size('bench')"])).trim());
  const ageOut = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return {
    sb,
    onHost,
    conn: `-U postgres -h 127.0.0.1 -p ${pg.port}`,
    inputs: {
      app: 'bench',
      ...sb.sshInputs([h]),
      source: 'postgres',
      database: 'bench',
      'db-user': 'postgres',
      'db-password': pg.password,
      'db-host': '127.0.0.1',
      'db-port': String(pg.port),
    },
    identity: ageOut.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!,
    recipient: /public key: (age1\S+)/.exec(ageOut)![1]!,
    sizeBytes,
  };
}

/** An action process's CPU time and peak RSS, read from /proc every 20 ms while it runs. */
export function watchProcess(): { onSpawn: (pid: number) => void; done: () => { cpuMs: number; peakRssMb: number } } {
  let cpuMs = 0;
  let peakKb = 0;
  let timer: NodeJS.Timeout | undefined;
  return {
    onSpawn: (pid) => {
      timer = setInterval(() => {
        try {
          const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
          cpuMs = (Number(f[11]) + Number(f[12])) * 10;
          const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
          if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
        } catch {
          /* exited */
        }
      }, 20);
    },
    done: () => {
      clearInterval(timer);
      return { cpuMs, peakRssMb: peakKb / 1024 };
    },
  };
}

export const time = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, v];
};
