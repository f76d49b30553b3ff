import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { ROOT, runAction, secretLeaks } from '../harness.js';
import { currentOf, historyOf, inspector, onHost, servedVersion } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';

let sb: Sandbox;
let pool: SshPool;
let envFile: string;
const APP_DIR = 'apps/shop-production';
const psql = (sql: string) => `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "${sql}"`;

beforeAll(async () => {
  sb = await startSandbox({ hosts: 2, isolated: true, images: ['1.0.0', '2.0.0'], migrator: true, postgres: true });
  pool = inspector(sb);
  const pg = sb.postgres!;
  envFile = `DATABASE_URL=postgresql://postgres:${pg.password}@${pg.hostsAddress}:${pg.port}/postgres\nMIGRATOR_IMAGE=${sb.migrator}\n`;
  const r = await deploy('1.0.0');
  expect(r.errors).toEqual([]);
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

function deploy(version: string, extra: Record<string, string> = {}) {
  return runAction('deploy', {
    workspace: ROOT,
    inputs: {
      app: 'shop',
      ...sb.sshInputs(),
      'compose-file': path.join('test', 'fixtures', 'compose-migrate', 'docker-compose.yml'),
      services: 'web',
      image: `${sb.images!.repo}:${version}`,
      version,
      'env-file': envFile,
      'health-url': 'http://127.0.0.1:8080/health',
      'health-interval': '250ms',
      'github-deployment': 'false',
      ...extra,
    },
  }).then((r) => r.main);
}

function migrate(command: string, extra: Record<string, string> = {}) {
  return runAction('migrate', { inputs: { app: 'shop', ...sb.sshInputs(), command, service: 'migrator', ...extra } }).then((r) => r.main);
}

describe('migrate', () => {
  it('runs once, on the first host, in a one-off container of the release; the change is in the database', async () => {
    const r = await migrate(psql('CREATE TABLE items (id int primary key)'));
    expect(r.errors).toEqual([]);
    expect(r.outputs['exit-code']).toBe('0');
    expect(r.outputs.output).toContain('CREATE TABLE');
    expect(await sb.postgres!.psql(['-tAc', "select count(*) from information_schema.tables where table_name = 'items'"])).toBe('1\n');
    const first = await historyOf(pool, sb.hosts[0]!, APP_DIR);
    expect(first.filter((e) => e.type === 'migration').pop()).toMatchObject({ exit_code: 0, mode: 'compose-run', release: await currentOf(pool, sb.hosts[0]!, APP_DIR) });
    expect((await historyOf(pool, sb.hosts[1]!, APP_DIR)).some((e) => e.type === 'migration')).toBe(false);
    expect(r.summary).toContain('## Migration of shop in production: ✅ succeeded');
    // The database password from the env file is never shown.
    expect(secretLeaks(r, [sb.postgres!.password])).toEqual([]);
  });

  it('a failing migration fails the step with the tail of its output', async () => {
    const r = await migrate(psql('SELECT * FROM missing_table'));
    expect(r.exitCode).toBe(1);
    expect(r.outputs['exit-code']).not.toBe('0');
    expect(r.errors[0]).toMatch(/the migration exited with code \d+; last output:\n[\s\S]*relation "missing_table" does not exist/);
  });

  it('deploy with a failing migrate-command switches nothing; the old release keeps serving', async () => {
    const before = await Promise.all(sb.hosts.map((h) => currentOf(pool, h, APP_DIR)));
    const r = await deploy('2.0.0', { 'migrate-command': psql('ALTER TABLE nope ADD COLUMN x int'), 'migrate-service': 'migrator' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain('relation "nope" does not exist');
    expect(r.errors[0]).toContain('No host was switched; the previous release keeps serving.');
    expect(await Promise.all(sb.hosts.map((h) => currentOf(pool, h, APP_DIR)))).toEqual(before);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('1.0.0');
  });

  it('deploy with a migrate-command migrates with the new release, then switches', async () => {
    const r = await deploy('2.0.0', { 'migrate-command': psql('ALTER TABLE items ADD COLUMN name text'), 'migrate-service': 'migrator' });
    expect(r.errors).toEqual([]);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('2.0.0');
    expect(await sb.postgres!.psql(['-tAc', "select count(*) from information_schema.columns where table_name = 'items' and column_name = 'name'"])).toBe('1\n');
    const hist = await historyOf(pool, sb.hosts[0]!, APP_DIR);
    const migration = hist.filter((e) => e.type === 'migration').pop()!;
    const switched = hist.filter((e) => e.type === 'switched').pop()!;
    expect(migration.release).toBe(r.outputs['release-id']);
    expect(migration.time <= switched.time).toBe(true);
  });

  it('a migration fails on its first failing line or pipe, in a one-off container and inside the running service', async () => {
    const before = await Promise.all(sb.hosts.map((h) => currentOf(pool, h, APP_DIR)));
    const d = await deploy('2.0.0', { 'migrate-command': 'false\necho ok', 'migrate-service': 'migrator' });
    expect(d.exitCode).toBe(1);
    expect(d.errors[0]).toContain('the migration exited with code 1');
    expect(d.errors[0]).toContain('No host was switched; the previous release keeps serving.');
    expect(await Promise.all(sb.hosts.map((h) => currentOf(pool, h, APP_DIR)))).toEqual(before);
    const piped = await migrate('false | cat\necho ok');
    expect(piped.exitCode).toBe(1);
    expect(piped.outputs.output).not.toContain('ok');
    const inService = await migrate('false\necho ok', { mode: 'exec', service: 'web' });
    expect(inService.exitCode).toBe(1);
    expect(inService.errors[0]).toContain('the migration exited with code 1');
    expect((await migrate('echo "in $OPS_RELEASE"', { mode: 'exec', service: 'web' })).outputs.output).toMatch(/^in \d{8}T/m);
  });

  it('timeout kills a hanging migration and says so', async () => {
    const r = await migrate('sleep 120', { timeout: '2s' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain('the migration timed out after 2.0s and was killed');
    expect((await onHost(pool, sb.hosts[0]!, 'docker ps -q | wc -l')).trim()).toBe('1'); // only the app
  });

  it('run-on: first host only, or every host', async () => {
    const cmd = 'echo "$OPS_HOST" >> "$HOME/migrated"';
    expect((await migrate(cmd, { mode: 'host' })).exitCode).toBe(0);
    expect((await onHost(pool, sb.hosts[0]!, 'cat "$HOME/migrated"')).trim()).toBe(sb.hosts[0]!.spec);
    expect((await onHost(pool, sb.hosts[1]!, 'cat "$HOME/migrated" 2>/dev/null || true')).trim()).toBe('');
    expect((await migrate(cmd, { mode: 'host', 'run-on': 'all' })).exitCode).toBe(0);
    expect((await onHost(pool, sb.hosts[1]!, 'cat "$HOME/migrated"')).trim()).toBe(sb.hosts[1]!.spec);
  });

  it('two migrations started together serialize on the lock', async () => {
    const cmd = 'echo start >> "$HOME/serial.log"; sleep 1; echo end >> "$HOME/serial.log"';
    const [a, b] = await Promise.all([migrate(cmd, { mode: 'host' }), migrate(cmd, { mode: 'host' })]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect((await onHost(pool, sb.hosts[0]!, 'cat "$HOME/serial.log"')).trim().split('\n')).toEqual(['start', 'end', 'start', 'end']);
    expect([a.log, b.log].join('\n')).toContain('waiting for the deploy lock');
  });

  it('require-backup-within refuses when no recent complete backup is recorded', async () => {
    const r = await migrate(psql('SELECT 1'), { 'require-backup-within': '6h' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain('require-backup-within 6h: no complete backup of shop/production is recorded');
    expect(r.errors[0]).toContain('Run the backup action first');
  });

  it.each([
    [{ command: '' }, "input 'command': is required but was not set"],
    [{ command: 'true', mode: 'shell' }, "input 'mode': 'shell' is not one of: compose-run, exec, host"],
    [{ command: 'true', 'run-on': 'some' }, "input 'run-on': 'some' is not one of: first, all"],
  ])('bad input %j', async (inputs, message) => {
    const r = await runAction('migrate', { inputs: { app: 'shop', ...sb.sshInputs(), ...inputs } }).then((x) => x.main);
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(message);
  });
});
