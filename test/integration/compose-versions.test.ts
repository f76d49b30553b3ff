/**
 * The deploy → failed deploy → automatic rollback → manual rollback → migration cycle on
 * hosts with Compose v1 only (docker-compose 1.29), v2 only (the `docker compose` plugin,
 * 2.26) and both (v2 must be preferred), through the bundles.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type ComposeFlavor, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { ROOT, runAction } from '../harness.js';
import { currentOf, historyOf, inspector, onHost, servedVersion } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';

let sb: Sandbox;
let pool: SshPool;
let envFile: string;
const FLAVORS: ComposeFlavor[] = ['v1', 'v2', 'both'];
const APP_DIR = 'apps/shop-production';

beforeAll(async () => {
  sb = await startSandbox({ hosts: 3, isolated: true, images: ['1.0.0', '2.0.0'], migrator: true, postgres: true, compose: FLAVORS });
  pool = inspector(sb);
  const pg = sb.postgres!;
  envFile = `DATABASE_URL=postgresql://postgres:${pg.password}@${pg.hostsAddress}:${pg.port}/postgres\nMIGRATOR_IMAGE=${sb.migrator}\n`;
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

function deploy(h: SandboxHost, image: string, version: string, extra: Record<string, string> = {}) {
  return runAction('deploy', {
    workspace: ROOT,
    inputs: {
      app: 'shop',
      ...sb.sshInputs([h]),
      'compose-file': path.join('test', 'fixtures', 'compose-migrate', 'docker-compose.yml'),
      services: 'web',
      image: `${sb.images!.repo}:${image}`,
      version,
      'env-file': envFile,
      'health-url': 'http://127.0.0.1:8080/health',
      'health-expect-json': 'status=healthy',
      'health-interval': '250ms',
      'health-timeout': '4s',
      'github-deployment': 'false',
      ...extra,
    },
  }).then((r) => r.main);
}

/** The Compose version that created the host's running web container, from its label. */
async function composeVersion(h: SandboxHost): Promise<string> {
  const out = await onHost(
    pool,
    h,
    `docker ps --filter label=com.docker.compose.project=shop-production --filter label=com.docker.compose.service=web --format '{{.Label "com.docker.compose.version"}} {{.Label "com.docker.compose.project"}}'`,
  );
  return out.trim();
}

describe.each(FLAVORS.map((f, i) => [f, i] as const))('compose %s on the host', (flavor, i) => {
  const h = () => sb.hosts[i]!;

  it('the host has what the sandbox promised', async () => {
    const has = (await onHost(pool, h(), 'docker compose version >/dev/null 2>&1 && echo v2; command -v docker-compose >/dev/null && echo v1; true')).trim().split('\n').filter(Boolean).sort();
    expect(has).toEqual(flavor === 'both' ? ['v1', 'v2'] : [flavor]);
  });

  it('deploy with a migration → failed deploy rolled back → deploy → manual rollback → migrate next to the running service', async () => {
    const table = `items_${flavor}`;
    const v1 = await deploy(h(), '1.0.0', '1.0.0', { 'migrate-command': `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "CREATE TABLE ${table} (id int)"`, 'migrate-service': 'migrator' });
    expect(v1.errors).toEqual([]);
    expect(await sb.postgres!.psql(['-tAc', `select count(*) from information_schema.tables where table_name = '${table}'`])).toBe('1\n');
    expect(await servedVersion(pool, h())).toBe('1.0.0');
    // Which compose ran it (v2 is preferred when the host has both), under the release's project name.
    const [version, project] = (await composeVersion(h())).split(' ');
    expect(version).toMatch(flavor === 'v1' ? /^1\.29\./ : /^2\.26\./);
    expect(project).toBe('shop-production');
    // --env-file reached the interpolation: the container runs the pinned image with the release's env.
    const env = await onHost(pool, h(), 'docker exec "$(docker ps -q --filter label=com.docker.compose.project=shop-production --filter label=com.docker.compose.service=web)" /bin/busybox env');
    expect(env).toContain(`OPS_RELEASE=${v1.outputs['release-id']}`);

    const bad = await deploy(h(), 'unhealthy', '3.0.0', { 'health-timeout': '2s' });
    expect(bad.exitCode).toBe(1);
    expect(bad.outputs['rolled-back']).toBe('true');
    expect(await servedVersion(pool, h())).toBe('1.0.0');
    expect(await currentOf(pool, h(), APP_DIR)).toBe(v1.outputs['release-id']);

    const v2 = await deploy(h(), '2.0.0', '2.0.0');
    expect(v2.errors).toEqual([]);
    expect(await servedVersion(pool, h())).toBe('2.0.0');

    const rb = await runAction('rollback', { inputs: { app: 'shop', ...sb.sshInputs([h()]), 'health-url': 'http://127.0.0.1:8080/health', 'health-interval': '250ms' } }).then((r) => r.main);
    expect(rb.errors).toEqual([]);
    expect(rb.outputs['release-id']).toBe(v1.outputs['release-id']); // 3.0.0 is bad: skipped
    expect(await servedVersion(pool, h())).toBe('1.0.0');

    // compose-run of the service that is running with network_mode: host (v1 needs the copy).
    const m = await runAction('migrate', { inputs: { app: 'shop', ...sb.sshInputs([h()]), command: 'echo "migrating with $OPS_RELEASE"', service: 'web' } }).then((r) => r.main);
    expect(m.errors).toEqual([]);
    expect(m.outputs.output).toContain(`migrating with ${v1.outputs['release-id']}`);
    const events = await historyOf(pool, h(), APP_DIR);
    expect(events.filter((e) => e.type === 'migration').map((e) => e.exit_code)).toEqual([0, 0]);
  });
});
