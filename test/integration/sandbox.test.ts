import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import type { SshPool } from '../../src/host/pool.js';
import { inspector, targetOf } from './helpers.js';
import { sleep } from '../../sandbox/procs.js';

let sb: Sandbox;
let pool: SshPool;
const sh = async (h: SandboxHost, script: string) => (await pool.get(targetOf(h))).exec(['sh', '-c', script]);

beforeAll(async () => {
  sb = await startSandbox({ hosts: 2, images: ['1.0.0', '2.0.0'], postgres: true, mariadb: true });
  pool = inspector(sb);
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

describe('sandbox', () => {
  it('gives each host its own Docker engine, through DOCKER_HOST set by its sshd', async () => {
    const [a, b] = sb.hosts as [SandboxHost, SandboxHost];
    const img = `${sb.images!.repo}@${sb.images!.digests['1.0.0']}`;
    const run = await sh(a, `docker run -d --name only-on-a --network host -e PORT=18181 ${img}`);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect((await sh(a, 'echo "$DOCKER_HOST"')).stdout.trim()).toBe(a.dockerHost);
    expect((await sh(a, "docker ps --format '{{.Names}}'")).stdout.trim()).toBe('only-on-a');
    expect((await sh(b, "docker ps -a --format '{{.Names}}'")).stdout.trim()).toBe('');
    expect((await sh(b, 'id -u')).stdout.trim()).not.toBe('0');
  });

  it('serves the test images: a healthy app with its version, an unhealthy one, one that never starts', async () => {
    const a = sb.hosts[0]!;
    const repo = sb.images!.repo;
    await sh(
      a,
      `docker run -d --network host -e PORT=18182 ${repo}:2.0.0 && docker run -d --network host -e PORT=18183 ${repo}:unhealthy && docker run -d --name crasher --network host ${repo}:crash`,
    );
    let health = '';
    for (let i = 0; i < 50 && !health; i++) {
      health = (await sh(a, 'wget -qO- http://127.0.0.1:18182/health || true')).stdout;
      if (!health) await sleep(100);
    }
    expect(JSON.parse(health)).toMatchObject({ status: 'healthy', version: '2.0.0' });
    const unhealthy = await sh(a, 'wget -S -qO- http://127.0.0.1:18183/health 2>&1 || true');
    expect(unhealthy.stdout).toMatch(/404/);
    let state = '';
    for (let i = 0; i < 50 && state !== 'exited'; i++) {
      state = (await sh(a, "docker inspect -f '{{.State.Status}}' crasher")).stdout.trim();
      if (state !== 'exited') await sleep(100);
    }
    expect(state).toBe('exited');
    expect((await sh(a, "docker inspect -f '{{.State.ExitCode}}' crasher")).stdout.trim()).toBe('1');
  });

  it('runs PostgreSQL and MariaDB on loopback with password auth', async () => {
    expect(await sb.postgres!.psql(['-tAc', 'select 40 + 2'])).toBe('42\n');
    expect(await sb.mariadb!.sql(['-N', '-e', 'select 40 + 2'])).toBe('42\n');
  });
});
