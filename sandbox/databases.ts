/** PostgreSQL and MariaDB servers for the sandbox, each in its own directory and port. */
import { appendFileSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { daemon, ensurePackages, freePort, must, run, stopPid, waitForPort } from './procs.js';

export const DB_PACKAGES = ['postgresql', 'mariadb-server', 'mariadb-client', 'sqlite3'];

export interface Postgres {
  pid: number;
  host: string;
  /** The address the sandbox hosts reach it on (the bridge, for isolated hosts). */
  hostsAddress: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  bin: string;
  /** `postgresql://user:password@host:port/db` */
  url(db?: string): string;
  /** Run psql as the superuser (argv after the connection options). */
  psql(args: string[], input?: string): Promise<string>;
}

function pgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  return path.join(base, versions[0]!, 'bin');
}

/** `extra`: another address to listen on (the sandbox bridge), and the subnet allowed from there. */
export async function startPostgres(dir: string, extra?: { address: string; subnet: string }): Promise<Postgres> {
  ensurePackages(['postgresql']);
  const bin = pgBin();
  const data = path.join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  const uid = Number((await must('id', ['-u', 'postgres'])).trim());
  const gid = Number((await must('id', ['-g', 'postgres'])).trim());
  chownSync(dir, uid, gid);
  const password = randomBytes(12).toString('hex');
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  chownSync(pwfile, uid, gid);
  await must(
    'runuser',
    ['-u', 'postgres', '--', path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync'],
    { cwd: dir },
  );
  const port = await freePort();
  const log = path.join(dir, 'postgres.log');
  if (extra) appendFileSync(path.join(data, 'pg_hba.conf'), `host all all ${extra.subnet} scram-sha-256\n`);
  const listen = ['127.0.0.1', ...(extra ? [extra.address] : [])].join(',');
  const pid = daemon(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', `listen_addresses=${listen}`, '-c', 'fsync=off'], { log, uid, gid, cwd: dir });
  await waitForPort('127.0.0.1', port, { pid, log, timeoutMs: 60_000 });
  const pg: Postgres = {
    pid,
    host: '127.0.0.1',
    hostsAddress: extra?.address ?? '127.0.0.1',
    port,
    user: 'postgres',
    password,
    dir,
    bin,
    url: (db = 'postgres') => `postgresql://postgres:${password}@127.0.0.1:${port}/${db}`,
    psql: (args, input) =>
      must(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-X', '-q', ...args], { input, env: { ...process.env, PGPASSWORD: password } }),
  };
  return pg;
}

export async function stopPostgres(pg: Postgres | undefined): Promise<void> {
  if (pg) await stopPid(pg.pid, 15_000);
}

export interface MariaDB {
  pid: number;
  host: string;
  port: number;
  user: string;
  password: string;
  socket: string;
  dir: string;
  /** Run the mariadb client as the admin user over TCP. */
  sql(args: string[], input?: string): Promise<string>;
}

export async function startMariaDB(dir: string): Promise<MariaDB> {
  ensurePackages(['mariadb-server', 'mariadb-client']);
  const data = path.join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const uid = Number((await must('id', ['-u', 'mysql'])).trim());
  const gid = Number((await must('id', ['-g', 'mysql'])).trim());
  chownSync(dir, uid, gid);
  chownSync(data, uid, gid);
  await must('mariadb-install-db', ['--user=mysql', `--datadir=${data}`, '--skip-test-db', '--auth-root-authentication-method=socket'], { cwd: dir });
  const port = await freePort();
  const socket = path.join(dir, 'mysqld.sock');
  const log = path.join(dir, 'mariadb.log');
  const pid = daemon(
    'mariadbd',
    [
      `--datadir=${data}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${socket}`,
      `--pid-file=${path.join(dir, 'mariadbd.pid')}`,
      '--skip-log-bin',
      '--innodb-flush-log-at-trx-commit=0',
      `--log-error=${log}`,
      '--user=mysql',
    ],
    { log: path.join(dir, 'mariadbd.out'), cwd: dir },
  );
  await waitForPort('127.0.0.1', port, { pid, log, timeoutMs: 60_000 });
  const password = randomBytes(12).toString('hex');
  await must('mariadb', ['-S', socket, '-u', 'root', '-e', `CREATE USER 'ops'@'%' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO 'ops'@'%' WITH GRANT OPTION; FLUSH PRIVILEGES;`]);
  const db: MariaDB = {
    pid,
    host: '127.0.0.1',
    port,
    user: 'ops',
    password,
    socket,
    dir,
    sql: (args, input) => must('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-u', 'ops', ...args], { input, env: { ...process.env, MYSQL_PWD: password } }),
  };
  return db;
}

export async function stopMariaDB(db: MariaDB | undefined): Promise<void> {
  if (db) await stopPid(db.pid, 20_000);
}

/** SQLite needs no server; this checks the CLI is there. */
export async function sqliteVersion(): Promise<string> {
  ensurePackages(['sqlite3']);
  return (await run('sqlite3', ['--version'])).stdout.trim();
}
