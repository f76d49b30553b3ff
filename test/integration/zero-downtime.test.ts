/**
 * Blue-green deploys through the bundles on a sandbox host with its own network namespace:
 * a real nginx (Debian's) in front, run by the host's user, and wrk sending requests
 * through it the whole time: a deploy, a deploy whose release never turns healthy, and a
 * rollback must each serve every request (no non-2xx answer, no socket error), including
 * slow requests in flight when the old color stops.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { waitForPort } from '../../sandbox/procs.js';
import { bothLoads as bothLoadsOn, startNginx, type Nginx } from '../../sandbox/proxy.js';
import type { SshPool } from '../../src/host/pool.js';
import { ROOT, runAction } from '../harness.js';
import { currentOf, historyOf, inspector, onHost, waitFor } from './helpers.js';

let sb: Sandbox;
let pool: SshPool;
let h: SandboxHost;
let nginx: Nginx;
let site: string;
const PROXY_PORT = 8080;
const APP_DIR = 'apps/shop-production';

beforeAll(async () => {
  sb = await startSandbox({ hosts: 1, isolated: true, images: ['1.0.0', '2.0.0'] });
  pool = inspector(sb);
  h = sb.hosts[0]!;
  nginx = await startNginx(h, sb.root);
  site = path.join(nginx.sites, 'ops-shop-production.conf');
}, 300_000);

afterAll(async () => {
  await nginx?.stop();
  await pool?.closeAll();
  await sb?.stop();
});

function deploy(image: string, version: string, extra: Record<string, string> = {}, onSpawn?: (pid: number) => void) {
  return runAction('deploy', {
    onSpawn,
    inputs: {
      app: 'shop',
      ...sb.sshInputs(),
      'compose-file': path.join('test', 'fixtures', 'compose-bg', 'docker-compose.yml'),
      image: `${sb.images!.repo}:${image}`,
      version,
      'zero-downtime': 'true',
      'proxy-port': `127.0.0.1:${PROXY_PORT}`,
      'app-port': '8091',
      'proxy-config': site,
      'proxy-test-command': nginx.testCommand,
      'proxy-reload-command': nginx.reloadCommand,
      'drain-timeout': '10s',
      'health-url': `http://127.0.0.1:${PROXY_PORT}/health`,
      'health-interval': '250ms',
      'health-timeout': '6s',
      'github-deployment': 'false',
      ...extra,
    },
    workspace: ROOT,
  }).then((r) => r.main);
}

const bothLoads = <T>(fn: () => Promise<T>) => bothLoadsOn(h, `http://127.0.0.1:${PROXY_PORT}`, fn);

const served = async () => (await onHost(pool, h, `wget -qO- -T 2 http://127.0.0.1:${PROXY_PORT}/health 2>/dev/null || true`)).trim();

describe('zero-downtime (blue-green behind nginx)', () => {
  it('v1 boots as blue behind the proxy; v2 goes to green with every request served, and blue is stopped after draining', async () => {
    await waitForPort(h.netns!.address, 22);
    const v1 = await deploy('1.0.0', '1.0.0');
    expect(v1.errors).toEqual([]);
    expect(JSON.parse(await served()).version).toBe('1.0.0');
    expect(readFileSync(site, 'utf8')).toContain('server 127.0.0.1:8091 ');
    expect((await onHost(pool, h, 'cat "$HOME/$1/color"', APP_DIR)).trim()).toBe('blue');

    const [v2, fast, slow] = await bothLoads(() => deploy('2.0.0', '2.0.0'));
    expect(v2.errors).toEqual([]);
    expect(JSON.parse(await served()).version).toBe('2.0.0');
    expect(readFileSync(site, 'utf8')).toContain('server 127.0.0.1:8092 ');
    expect((await onHost(pool, h, 'cat "$HOME/$1/color"', APP_DIR)).trim()).toBe('green');
    expect(v2.log).toMatch(/drained port 8091 in \d+s/);
    // Blue is stopped (kept for a rollback), green runs.
    const states = await onHost(pool, h, 'docker ps -a --filter label=com.docker.compose.project --format \'{{.Label "com.docker.compose.project"}} {{.State}}\'');
    expect(states).toMatch(/shop-production-blue exited/);
    expect(states).toMatch(/shop-production-green running/);
    console.log(`deploy v2 under load: / ${fast.requests} requests, ${fast.non2xx} non-2xx, ${fast.socketErrors} socket errors; /cgi-bin/slow ${slow.requests}, ${slow.non2xx}, ${slow.socketErrors}`);
    expect(fast.requests).toBeGreaterThan(0);
    expect(slow.requests).toBeGreaterThan(0);
    expect([fast.non2xx, fast.socketErrors, slow.non2xx, slow.socketErrors], fast.raw + slow.raw).toEqual([0, 0, 0, 0]);
  }, 240_000);

  it('a release that never turns healthy never gets traffic: the deploy fails, green keeps serving, every request served', async () => {
    const before = await currentOf(pool, h, APP_DIR);
    const [bad, fast, slow] = await bothLoads(() => deploy('unhealthy', '3.0.0'));
    expect(bad.exitCode).toBe(1);
    expect(bad.errors.join('\n')).toMatch(/did not answer 2xx within/);
    expect(await currentOf(pool, h, APP_DIR)).toBe(before);
    expect(JSON.parse(await served()).version).toBe('2.0.0');
    expect(readFileSync(site, 'utf8')).toContain('server 127.0.0.1:8092 ');
    console.log(`failed deploy under load: / ${fast.requests} requests, ${fast.non2xx} non-2xx, ${fast.socketErrors} socket errors; slow ${slow.requests}, ${slow.non2xx}, ${slow.socketErrors}`);
    expect([fast.non2xx, fast.socketErrors, slow.non2xx, slow.socketErrors], fast.raw + slow.raw).toEqual([0, 0, 0, 0]);
  }, 240_000);

  it('rollback goes through the same switch: back to v1 on blue with every request served', async () => {
    const [r, fast, slow] = await bothLoads(() =>
      runAction('rollback', {
        inputs: { app: 'shop', ...sb.sshInputs(), 'health-url': `http://127.0.0.1:${PROXY_PORT}/health`, 'health-interval': '250ms', 'health-timeout': '6s' },
      }).then((x) => x.main),
    );
    expect(r.errors).toEqual([]);
    expect(JSON.parse(await served()).version).toBe('1.0.0');
    expect((await onHost(pool, h, 'cat "$HOME/$1/color"', APP_DIR)).trim()).toBe('blue');
    console.log(`rollback under load: / ${fast.requests} requests, ${fast.non2xx} non-2xx, ${fast.socketErrors} socket errors; slow ${slow.requests}, ${slow.non2xx}, ${slow.socketErrors}`);
    expect([fast.non2xx, fast.socketErrors, slow.non2xx, slow.socketErrors], fast.raw + slow.raw).toEqual([0, 0, 0, 0]);
  }, 240_000);

  it("the runner dies during the gate: the host's watchdog puts blue back through the same switch, every request served", async () => {
    const before = await currentOf(pool, h, APP_DIR);
    const seen = (await historyOf(pool, h, APP_DIR)).length;
    let pid = 0;
    const [, fast, slow] = await bothLoads(async () => {
      const run = deploy('2.0.0', '5.0.0', { 'drain-timeout': '5s', 'health-stable-for': '20s', 'confirm-timeout': '25s' }, (p) => (pid = p));
      await waitFor('the switch to 5.0.0', async () => (await historyOf(pool, h, APP_DIR)).slice(seen).some((e) => e.version === '5.0.0' && e.type === 'switched'));
      expect((await onHost(pool, h, 'cat "$HOME/$1/color"', APP_DIR)).trim()).toBe('green');
      process.kill(pid, 'SIGKILL');
      expect((await run).signal).toBe('SIGKILL');
      await waitFor('the watchdog to put blue back', async () => (await currentOf(pool, h, APP_DIR)) === before && readFileSync(site, 'utf8').includes('server 127.0.0.1:8091 '), 90_000);
    });
    expect((await onHost(pool, h, 'cat "$HOME/$1/color"', APP_DIR)).trim()).toBe('blue');
    expect(JSON.parse(await served()).version).toBe('1.0.0');
    expect((await historyOf(pool, h, APP_DIR)).slice(seen).some((e) => e.type === 'switch-reverted-unconfirmed')).toBe(true);
    console.log(`watchdog revert under load: / ${fast.requests} requests, ${fast.non2xx} non-2xx, ${fast.socketErrors} socket errors; slow ${slow.requests}, ${slow.non2xx}, ${slow.socketErrors}`);
    expect([fast.non2xx, fast.socketErrors, slow.non2xx, slow.socketErrors], fast.raw + slow.raw).toEqual([0, 0, 0, 0]);
  }, 240_000);

  it('bad inputs are refused before anything changes, naming the input', async () => {
    const clash = await deploy('2.0.0', '9.0.0', { 'app-port': '8079' });
    expect(clash.exitCode).toBe(1);
    expect(clash.errors.join('\n')).toMatch(/app-port.*do not clash/s);
    const noPort = await deploy('2.0.0', '9.0.0', { 'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml') });
    expect(noPort.errors.join('\n')).toMatch(/compose-file.*OPS_PORT/s);
    const noProxy = await deploy('2.0.0', '9.0.0', { 'proxy-port': '' });
    expect(noProxy.errors.join('\n')).toMatch(/proxy-port.*is required with zero-downtime/s);
    const release = await deploy('2.0.0', '9.0.0', { strategy: 'release', source: 'test' });
    expect(release.errors.join('\n')).toMatch(/zero-downtime.*needs strategy 'compose'/s);
    const unknown = await deploy('2.0.0', '9.0.0', { proxy: 'traefik' });
    expect(unknown.errors.join('\n')).toMatch(/proxy/);
    // A host serving blue-green takes no in-place deploy (the proxy would keep pointing at a color).
    const inPlace = await deploy('2.0.0', '9.0.0', { 'zero-downtime': 'false' });
    expect(inPlace.errors.join('\n')).toMatch(/serves \S+ blue-green \(color blue.*deploy with zero-downtime: true.*Nothing was changed/s);
    expect(JSON.parse(await served()).version).toBe('1.0.0');
  }, 120_000);
});
