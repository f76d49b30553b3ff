/**
 * backup and restore against real servers: PostgreSQL, MariaDB and SQLite on sandbox hosts,
 * storage in an S3-compatible server (s3rver), on a backup host over SSH, and on the
 * runner's disk; age encryption checked against the age CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { sleep } from '../../sandbox/procs.js';
import { ROOT, runAction, secretLeaks } from '../harness.js';
import { startS3, type S3Fixture } from '../fixtures/s3.js';
import { historyOf, inspector, onHost } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';

let sb: Sandbox;
let pool: SshPool;
let s3: S3Fixture;
let db: SandboxHost;
let vault: SandboxHost;
let identity: string;
let recipient: string;
let keyFile: string;
const PASSPHRASE = 'correct horse battery staple 42';

beforeAll(async () => {
  sb = await startSandbox({ hosts: 2, postgres: true, mariadb: true });
  [db, vault] = sb.hosts as [SandboxHost, SandboxHost];
  pool = inspector(sb);
  s3 = await startS3();
  const out = execFileSync('age-keygen', { encoding: 'utf8' });
  identity = out.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  recipient = /public key: (age1\S+)/.exec(out)![1]!;
  keyFile = path.join(sb.root, 'age.key');
  writeFileSync(keyFile, out, { mode: 0o600 });
  const pg = sb.postgres!;
  await pg.psql(['-c', 'create database shop']);
  await pg.psql(
    ['-d', 'shop'],
    `create table items (id int primary key, name text, price numeric(10, 2));
     insert into items select g, 'item ' || g || ' — grüße ☃ 日本', g * 1.5 from generate_series(1, 120000) g;
     create table orders (id serial primary key, item int references items(id), at timestamptz default now());
     insert into orders (item) select (g % 1000) + 1 from generate_series(1, 5000) g;
     create table docs (id int primary key, blob oid);
     insert into docs values (1, lo_from_bytea(0, decode(repeat('0123456789abcdef', 4096), 'hex')));`,
  );
});
afterAll(async () => {
  await s3?.close();
  await pool?.closeAll();
  await sb?.stop();
});

const s3Inputs = () => ({
  storage: `s3://${s3.bucket}/ops`,
  's3-endpoint': s3.endpoint,
  's3-force-path-style': 'true',
  's3-access-key-id': s3.accessKeyId,
  's3-secret-access-key': s3.secretAccessKey,
});
const pgInputs = (database: string) => ({ source: 'postgres', database, 'db-user': 'postgres', 'db-password': sb.postgres!.password, 'db-host': '127.0.0.1', 'db-port': String(sb.postgres!.port) });
const secrets = () => [sb.postgres!.password, sb.mariadb!.password, PASSPHRASE, identity, sb.keys.ed25519.privateKey, s3.secretAccessKey];

// The known_hosts of both hosts: the database host, and the backup host sftp:// storage reaches.
const hostInputs = () => ({ ...sb.sshInputs([db]), 'known-hosts': sb.knownHosts() });
function backup(inputs: Record<string, string>, o: { env?: Record<string, string> } = {}) {
  return runAction('backup', { env: o.env, inputs: { app: 'shop', ...hostInputs(), ...inputs } }).then((r) => r.main);
}
function restore(inputs: Record<string, string>) {
  return runAction('restore', { inputs: { app: 'shop', ...hostInputs(), ...inputs } }).then((r) => r.main);
}

/** Per-table checksums of a database (content, in key order), and the large object's md5. */
async function pgFingerprint(database: string): Promise<string> {
  return sb.postgres!.psql([
    '-d',
    database,
    '-tAc',
    "select (select md5(string_agg(id || ':' || name || ':' || price, ',' order by id)) from items), (select count(*) from orders), (select md5(lo_get(blob)) from docs where id = 1)",
  ]);
}

describe('postgres', () => {
  it('round trip through S3: backup → restore into a fresh database → identical; the backup decrypts with the age CLI', async () => {
    // -Z0 on the host and zstd here (the default, auto, lets pg_dump compress: below).
    const b = await backup({ ...pgInputs('shop'), ...s3Inputs(), 'encrypt-to': recipient, compression: 'zstd' });
    expect(b.errors).toEqual([]);
    expect(b.outputs['backup-id']).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    const prefix = `ops/shop/production/postgres-shop/${b.outputs['backup-id']}`;
    expect(b.outputs.location).toBe(`s3://${s3.bucket}/${prefix}`);
    const keys = (await s3.keys(prefix)).map((k) => k.key);
    expect(keys.sort()).toEqual([`${prefix}/data.pgdump.zst.age`, `${prefix}/manifest.json`]);
    const manifest = JSON.parse((await s3.get(`${prefix}/manifest.json`)).toString());
    expect(manifest).toMatchObject({
      format: 'ops-actions-backup/1',
      app: 'shop',
      environment: 'production',
      compression: 'zstd',
      encryption: { kind: 'age-recipients', recipients: [recipient] },
      exit_code: 0,
    });
    expect(manifest.tool).toMatch(/^pg_dump \(PostgreSQL\) 15/);
    expect(manifest.ciphertext.bytes).toBe(Number(b.outputs['size-bytes']));
    expect(manifest.ciphertext.sha256).toBe(b.outputs.sha256);

    // Interop: the stored object decrypts with the age CLI and the identity, and is the pg_dump archive.
    const data = path.join(sb.root, 'data.zst.age');
    writeFileSync(data, await s3.get(`${prefix}/data.pgdump.zst.age`));
    execFileSync('sh', ['-c', 'age -d -i "$1" "$2" | zstd -d -q -c > "$2.plain"', 'sh', keyFile, data]);
    const plain = readFileSync(`${data}.plain`);
    expect(plain.subarray(0, 5).toString()).toBe('PGDMP');
    expect(execFileSync('sha256sum', [`${data}.plain`], { encoding: 'utf8' }).split(' ')[0]).toBe(manifest.plaintext.sha256);

    await sb.postgres!.psql(['-c', 'create database shop_restored']);
    const r = await restore({ ...pgInputs('shop_restored'), ...s3Inputs(), name: 'postgres-shop', identity, mode: 'database-only', 'report-path': path.join(sb.root, 'dr-report.md') });
    expect(r.errors).toEqual([]);
    expect(r.outputs['backup-id']).toBe(b.outputs['backup-id']);
    expect(r.outputs['rto-met']).toBe('true');
    expect(await pgFingerprint('shop_restored')).toBe(await pgFingerprint('shop'));
    expect(r.summary).toContain('RTO (time to restore)');
    expect(readFileSync(r.outputs['report-path']!, 'utf8')).toContain('verify \\(download, decrypt, check\\)');
    for (const x of [b, r]) expect(secretLeaks(x, secrets())).toEqual([]);
  });

  it('restoring into a database that holds data needs drop-existing; with it, the database is recreated', async () => {
    const base = { ...pgInputs('shop_restored'), ...s3Inputs(), name: 'postgres-shop', identity, mode: 'database-only' };
    const refused = await restore(base);
    expect(refused.exitCode).toBe(1);
    expect(refused.errors[0]).toContain('is not empty; restoring into it needs drop-existing: true');
    await sb.postgres!.psql(['-d', 'shop_restored', '-c', "update items set name = 'changed' where id = 1"]);
    const r = await restore({ ...base, 'drop-existing': 'true' });
    expect(r.errors).toEqual([]);
    expect(await pgFingerprint('shop_restored')).toBe(await pgFingerprint('shop'));
  });

  it('a dump killed halfway, a wrong password: the step fails, no manifest is written, earlier backups stay', async () => {
    const before = (await s3.keys('ops/shop/production/postgres-shop/')).map((k) => k.key);
    const wrong = await backup({ ...pgInputs('shop'), 'db-password': 'not-the-password', ...s3Inputs(), 'encrypt-to': recipient });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.errors[0]).toMatch(/backup of postgres database shop on .* failed: the dump exited with code 1; last output:\n.*password authentication failed/);
    expect(wrong.errors[0]).toContain('Nothing was recorded as a backup; earlier backups are untouched.');
    // Slow the dump down (a lock it waits for), then kill pg_dump on the host while it streams.
    const killer = (async () => {
      for (let i = 0; i < 100; i++) {
        await sleep(100);
        // The dump itself (pg_dump -Fc), never the version probe that runs just before it.
        const r = await onHost(pool, db, 'pkill -f "[p]g_dump -Fc " && echo killed || true');
        if (r.includes('killed')) return true;
      }
      return false;
    })();
    const slow = { ...pgInputs('shop'), ...s3Inputs(), 'encrypt-to': recipient, compression: 'none' };
    const lockTable = sb.postgres!.psql(['-d', 'shop', '-c', 'begin; lock table orders in access exclusive mode; select pg_sleep(3); commit;']);
    const killed = await backup(slow);
    expect(await killer).toBe(true);
    await lockTable;
    expect(killed.exitCode).toBe(1);
    expect(killed.errors[0]).toMatch(/the dump exited with code|the dump produced no data/);
    expect((await s3.keys('ops/shop/production/postgres-shop/')).map((k) => k.key)).toEqual(before);
  });

  it('a corrupted or truncated backup, or the wrong identity: restore refuses before touching the target', async () => {
    const b = await backup({ ...pgInputs('shop'), ...s3Inputs(), name: 'corrupt-me', 'encrypt-to': recipient });
    expect(b.errors).toEqual([]);
    expect(b.summary).toMatch(/compressed by pg\\?_dump/);
    const key = `ops/shop/production/corrupt-me/${b.outputs['backup-id']}/data.pgdump.age`; // compression auto: inside pg_dump
    const good = await s3.get(key);
    await sb.postgres!.psql(['-c', 'create database untouched']);
    await sb.postgres!.psql(['-d', 'untouched', '-c', 'create table marker (x int); insert into marker values (42)']);
    const base = { ...pgInputs('untouched'), ...s3Inputs(), name: 'corrupt-me', identity, mode: 'database-only', 'drop-existing': 'true' };
    const flipped = Buffer.from(good);
    const mid = Math.floor(flipped.length / 2);
    flipped[mid] = flipped[mid]! ^ 0xff;
    for (const [label, body] of [
      ['corrupted', flipped],
      ['truncated', good.subarray(0, good.length - 100)],
    ] as const) {
      await s3.put(key, body);
      const r = await restore(base);
      expect(r.errors[0], label).toMatch(/cannot be restored: .*The target was not touched\.|cannot decrypt backup/);
      expect(await sb.postgres!.psql(['-d', 'untouched', '-tAc', 'select x from marker'])).toBe('42\n');
    }
    await s3.put(key, good);
    const other = execFileSync('age-keygen', { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    const wrongId = await restore({ ...base, identity: other });
    expect(wrongId.exitCode).toBe(1);
    expect(wrongId.errors[0]).toMatch(/cannot decrypt backup .*(no identity matched|identity)/i);
    expect(secretLeaks(wrongId, [other, identity])).toEqual([]);
    const valid = await restore({ ...base, mode: 'validation-only' });
    expect(valid.errors).toEqual([]);
    expect(valid.summary).toContain('no (validation only)');
    expect(await sb.postgres!.psql(['-d', 'untouched', '-tAc', 'select x from marker'])).toBe('42\n');
  });

  it('a drill against a backup older than rpo-target fails and says by how much', async () => {
    await sleep(2200);
    const r = await restore({ ...pgInputs('shop_restored'), ...s3Inputs(), name: 'postgres-shop', identity, mode: 'validation-only', 'rpo-target': '1s' });
    expect(r.exitCode).toBe(1);
    expect(r.outputs['rpo-met']).toBe('false');
    expect(Number(r.outputs['backup-age-s'])).toBeGreaterThanOrEqual(2);
    expect(r.errors[0]).toMatch(/over the RPO target of 1\.0s by \d/);
  });
});

describe('mysql, sqlite, files', () => {
  it('mysql: a consistent dump with its completion marker, restored into a fresh database; a passphrase instead of recipients', async () => {
    const m = sb.mariadb!;
    await m.sql([
      '-e',
      "CREATE DATABASE crm; USE crm; CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(200)) CHARSET utf8mb4; INSERT INTO people VALUES (1, 'Zoë ☃'), (2, 'O''Brien'); CREATE DATABASE crm_restored;",
    ]);
    const my = (database: string) => ({ source: 'mysql', database, 'db-user': m.user, 'db-password': m.password, 'db-host': '127.0.0.1', 'db-port': String(m.port) });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
    const b = await backup({ ...my('crm'), storage: `file://${dir}`, passphrase: PASSPHRASE, compression: 'gzip' });
    expect(b.errors).toEqual([]);
    const r = await restore({ ...my('crm_restored'), storage: `file://${dir}`, name: 'mysql-crm', passphrase: PASSPHRASE, mode: 'database-only' });
    expect(r.errors).toEqual([]);
    const sum = (d: string) => m.sql(['--batch', '--skip-column-names', '-e', `CHECKSUM TABLE ${d}.people`]).then((o) => o.split('\t')[1]);
    expect(await sum('crm_restored')).toBe(await sum('crm'));
    for (const x of [b, r]) expect(secretLeaks(x, [m.password, PASSPHRASE])).toEqual([]);
  });

  it('sqlite: a consistent copy under a concurrent writer, restored; stored on a backup host over SSH', async () => {
    const file = `${db.home}/app.db`;
    await onHost(pool, db, 'sqlite3 "$1" "create table log (id integer primary key, at text); insert into log (at) values (datetime())"', file);
    // A writer keeps inserting while the backup runs.
    await onHost(pool, db, 'nohup sh -c \'for i in $(seq 1 300); do sqlite3 "$1" "insert into log (at) values (datetime())"; sleep 0.01; done\' sh "$1" >/dev/null 2>&1 &', file);
    const storage = `sftp://${vault.user}@${vault.address}:${vault.port}${vault.home}/vault`;
    const b = await backup({ source: 'sqlite', 'sqlite-path': file, storage, 'encrypt-to': recipient });
    expect(b.errors).toEqual([]);
    expect((await onHost(pool, vault, 'find "$HOME/vault" -type f -printf "%P %m\\n" | sort')).trim().split('\n')).toEqual([
      `shop/production/sqlite/${b.outputs['backup-id']}/data.sqlite.zst.age 600`,
      `shop/production/sqlite/${b.outputs['backup-id']}/manifest.json 600`,
    ]);
    const target = `${db.home}/restored/app.db`;
    const r = await restore({ source: 'sqlite', 'sqlite-path': target, storage, identity, mode: 'database-only' });
    expect(r.errors).toEqual([]);
    expect((await onHost(pool, db, 'sqlite3 "$1" "pragma integrity_check; select count(*) > 0 from log"', target)).trim()).toBe('ok\n1');
  });

  it('files with modes and symlinks: backup → restore (mode full) → identical; database-only refuses a files backup', async () => {
    const src = `${db.home}/media`;
    await onHost(
      pool,
      db,
      'mkdir -p "$1/sub" && printf a > "$1/a.txt" && printf secret > "$1/sub/key" && chmod 0640 "$1/sub/key" && chmod 0750 "$1/sub" && ln -s sub/key "$1/link" && head -c 300000 /dev/urandom > "$1/blob.bin"',
      src,
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
    const b = await backup({ source: 'files', paths: src, storage: `file://${dir}`, 'encrypt-to': recipient });
    expect(b.errors).toEqual([]);
    const dbOnly = await restore({ source: 'files', paths: src, storage: `file://${dir}`, identity, mode: 'database-only', 'restore-to': `${db.home}/out` });
    expect(dbOnly.errors[0]).toContain('mode database-only does not restore files backups; use mode full');
    const r = await restore({ source: 'files', paths: src, storage: `file://${dir}`, identity, mode: 'full', 'restore-to': `${db.home}/out` });
    expect(r.errors).toEqual([]);
    const listing = (root: string) => onHost(pool, db, 'cd "$1" && find . -printf "%p %m %y %l\\n" | sort && find . -type f -exec sha256sum {} + | sort -k 2', root);
    expect(await listing(`${db.home}/out${src}`)).toBe(await listing(src));
  });

  it('disk full on the file target: the step fails and names the storage, nothing half-written stays, the earlier backup is intact', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    try {
      const small = `${db.home}/small`;
      const large = `${db.home}/large`;
      await onHost(pool, db, 'mkdir -p "$1" "$2" && printf tiny > "$1/a" && head -c 3000000 /dev/urandom > "$2/big"', small, large);
      const ok = await backup({ source: 'files', paths: small, name: 'disk', storage: `file://${dir}`, 'encrypt-to': recipient });
      expect(ok.errors).toEqual([]);
      const before = execFileSync('find', [dir, '-type', 'f'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
      expect(before.some((f) => f.endsWith('/manifest.json'))).toBe(true);
      const full = await backup({ source: 'files', paths: large, name: 'disk', storage: `file://${dir}`, 'encrypt-to': recipient, compression: 'none' });
      expect(full.exitCode).toBe(1);
      expect(full.errors[0]).toContain(`file://${dir}`);
      expect(full.errors[0]).toMatch(/ENOSPC|no space left/i);
      expect(full.errors[0]).toContain('Nothing was recorded as a backup');
      expect(execFileSync('find', [dir, '-type', 'f'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()).toEqual(before);
      const r = await restore({ source: 'files', paths: small, name: 'disk', storage: `file://${dir}`, identity, mode: 'validation-only' });
      expect(r.errors).toEqual([]);
    } finally {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('retention, history and migrate', () => {
  it("100 daily backups → exactly the set restic's rules keep; incomplete ones older than a day are cleaned", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
    const set = path.join(dir, 'shop', 'production', 'files');
    const newest = Date.parse('2026-11-30T02:00:00Z');
    const ids: string[] = [];
    for (let d = 99; d >= 0; d--) {
      const t = new Date(newest - d * 86_400_000);
      const id = `${t
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z')}-${(1000 + d).toString(16)}`;
      ids.push(id);
      mkdirSync(path.join(set, id), { recursive: true });
      writeFileSync(path.join(set, id, 'data.tar.zst.age'), 'x');
      const m = {
        format: 'ops-actions-backup/1',
        id,
        app: 'shop',
        environment: 'production',
        name: 'files',
        host: 'h',
        source: { kind: 'files' },
        tool: '',
        object: 'data.tar.zst.age',
        compression: 'zstd',
        encryption: { kind: 'none' },
        plaintext: { bytes: 1, sha256: 'x' },
        ciphertext: { bytes: 1, sha256: 'x' },
        started: t.toISOString(),
        finished: t.toISOString(),
        exit_code: 0,
        warnings: [],
      };
      writeFileSync(path.join(set, id, 'manifest.json'), JSON.stringify(m));
    }
    // An incomplete backup (no manifest) from two days ago, and one from now: only the old one goes.
    mkdirSync(path.join(set, '20261128T020000Z-dead'), { recursive: true });
    writeFileSync(path.join(set, '20261128T020000Z-dead', 'data.tar.zst.age'), 'partial');
    execFileSync('touch', ['-d', '2 days ago', path.join(set, '20261128T020000Z-dead', 'data.tar.zst.age')]);
    mkdirSync(path.join(set, '29991231T000000Z-live'), { recursive: true });
    writeFileSync(path.join(set, '29991231T000000Z-live', 'data.tar.zst.age'), 'in progress');
    await onHost(pool, db, 'mkdir -p "$HOME/r" && echo x > "$HOME/r/f"');
    const b = await backup({ source: 'files', paths: `${db.home}/r`, storage: `file://${dir}`, 'encrypt-to': recipient, retention: 'keep-last=2,keep-daily=7,keep-weekly=4,keep-monthly=3' });
    expect(b.errors).toEqual([]);
    const left = readdirSync(set).sort();
    const newId = b.outputs['backup-id']!;
    // By hand, from 2026-11-30 back (the new backup is today, 2026-12-01: the newest day):
    // last 2 = new, 11-30; daily 7 = new, 11-30 … 11-25; weekly 4 = new (W49), 11-29 (W48), 11-22 (W47), 11-15 (W46);
    // monthly 3 = new (Dec), 11-30 (Nov), 10-31 (Oct).
    const day = (d: string) => ids.find((i) => i.startsWith(d.replace(/-/g, '')))!;
    const expected = [
      newId,
      ...['2026-11-30', '2026-11-29', '2026-11-28', '2026-11-27', '2026-11-26', '2026-11-25', '2026-11-22', '2026-11-15', '2026-10-31'].map(day),
      '29991231T000000Z-live',
    ].sort();
    expect(left).toEqual(expected);
    expect(b.outputs.deleted!.split(',')).toHaveLength(100 - 9);
    expect(b.summary).toContain('kept because');
  });

  it('records backup-completed in the host history; migrate with require-backup-within passes after a backup and refuses without one', async () => {
    const app = 'billing';
    const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
    mkdirSync(path.join(ws, 'app'));
    writeFileSync(path.join(ws, 'app', 'VERSION'), '1.0.0');
    const hostInputs = { app, ...sb.sshInputs([db]) };
    const d = await runAction('deploy', { workspace: ws, inputs: { ...hostInputs, strategy: 'release', source: 'app', version: '1.0.0', 'github-deployment': 'false' } }).then((r) => r.main);
    expect(d.errors).toEqual([]);
    const migrate = () => runAction('migrate', { inputs: { ...hostInputs, command: 'echo migrated', mode: 'host', 'require-backup-within': '1h' } }).then((r) => r.main);
    const before = await migrate();
    expect(before.exitCode).toBe(1);
    expect(before.errors[0]).toContain('require-backup-within 1h: no complete backup of billing/production is recorded');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
    const b = await runAction('backup', { inputs: { ...hostInputs, ...pgInputs('shop'), storage: `file://${dir}`, 'encrypt-to': recipient } }).then((r) => r.main);
    expect(b.errors).toEqual([]);
    const events = await historyOf(pool, db, `apps/${app}-production`);
    expect(events.filter((e) => e.type === 'backup-completed').pop()).toMatchObject({ backup_id: b.outputs['backup-id'], location: b.outputs.location, source: 'postgres' });
    const after = await migrate();
    expect(after.errors).toEqual([]);
    expect(after.log).toContain('newest complete backup:');
  });

  it('bad input fails before any host is touched', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ source: 'postgres', storage: 'file:///tmp/x', 'encrypt-to': recipient }, "input 'database': is required for source 'postgres'"],
      [{ source: 'files', paths: '/srv', storage: 'file:///tmp/x' }, "input 'encrypt-to': is required: backups are encrypted by default"],
      [{ source: 'files', paths: '/srv', storage: 'ftp://x/y', 'encrypt-to': recipient }, "input 'storage': 'ftp://x/y': ftp is not a storage"],
      [{ source: 'files', paths: 'relative/path', storage: 'file:///tmp/x', 'encrypt-to': recipient }, "input 'paths': 'relative/path' must be an absolute path"],
      [{ source: 'files', paths: '/srv', storage: 'file:///tmp/x', 'encrypt-to': 'age1notakey' }, "input 'encrypt-to': 'age1notakey' is not an age X25519 recipient"],
      [{ source: 'files', paths: '/srv', storage: 'file:///tmp/x', retention: 'keep-forever=1', 'encrypt-to': recipient }, "input 'retention': 'keep-forever=1' is not a rule"],
    ];
    for (const [inputs, message] of cases) {
      const r = await backup(inputs);
      expect(r.exitCode, message).toBe(1);
      expect(r.errors[0], message).toContain(message);
      expect(r.log).not.toContain('backing up');
    }
  });
});

describe('memory', () => {
  it('a backup of 1 GB keeps the action under 200 MB of peak RSS', async () => {
    const big = `${db.home}/big`;
    await onHost(pool, db, 'mkdir -p "$1" && head -c 1073741824 /dev/urandom > "$1/random.bin"', big);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
    const hwm = path.join(dir, 'hwm');
    const r = await backup(
      { source: 'files', paths: big, storage: `file://${dir}/store`, 'encrypt-to': recipient, compression: 'zstd' },
      { env: { NODE_OPTIONS: `--require ${path.join(ROOT, 'test', 'fixtures', 'report-hwm.cjs')}`, OPS_TEST_HWM_FILE: hwm } },
    );
    expect(r.errors).toEqual([]);
    expect(Number(r.outputs['size-bytes'])).toBeGreaterThan(1073741824);
    const kb = Number(readFileSync(hwm, 'utf8'));
    expect(kb).toBeGreaterThan(0);
    expect(kb).toBeLessThan(200 * 1024);
    await onHost(pool, db, 'rm -rf "$1"', big);
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);
});
