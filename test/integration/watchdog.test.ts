/**
 * Commit-confirmed switches on real hosts, through the bundles: the runner dies (the action
 * killed with SIGKILL, no post step) after a host was switched, and the host's watchdog
 * returns it to the previous release by itself.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { runAction, ROOT } from '../harness.js';
import { currentOf, historyOf, inspector, onHost, servedVersion, waitFor } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';
import { sleep } from '../../sandbox/procs.js';

let sb: Sandbox;
let pool: SshPool;
let h: SandboxHost;
const APP_DIR = 'apps/shop-production';
const FILES_DIR = 'apps/blog-production';

beforeAll(async () => {
  sb = await startSandbox({ hosts: 1, isolated: true, images: ['1.0.0', '2.0.0'] });
  h = sb.hosts[0]!;
  pool = inspector(sb);
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

type Run = ReturnType<typeof runAction>;

function deploy(image: string, version: string, extra: Record<string, string> = {}, onSpawn?: (pid: number) => void): Run {
  return runAction('deploy', {
    onSpawn,
    inputs: {
      app: 'shop',
      ...sb.sshInputs(),
      'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml'),
      image: `${sb.images!.repo}:${image}`,
      version,
      'health-url': 'http://127.0.0.1:8080/health',
      'health-expect-json': 'status=healthy',
      'health-interval': '250ms',
      'health-timeout': '10s',
      'github-deployment': 'false',
      ...extra,
    },
    workspace: ROOT,
  });
}

/** Start a run, wait until it switched the host to `version`, and kill it (no post step). */
async function killAfterSwitch(start: (onSpawn: (pid: number) => void) => Run, appDir: string, version: string): Promise<string> {
  let pid = 0;
  const seen = (await historyOf(pool, h, appDir)).length;
  const run = start((p) => (pid = p));
  let release = '';
  await waitFor(`the switch to ${version}`, async () => {
    const e = (await historyOf(pool, h, appDir)).slice(seen).find((x) => x.version === version && (x.type === 'switched' || (x.type === 'rollback' && x.reason === 'manual')));
    release = e?.release ?? '';
    return !!e;
  });
  await sleep(500);
  process.kill(pid, 'SIGKILL');
  const r = await run;
  expect(r.main.signal).toBe('SIGKILL');
  return release;
}

const log = (appDir: string) => onHost(pool, h, 'cat "$HOME/$1/watchdog.log" 2>/dev/null || true', appDir);
const lockState = (appDir: string) => onHost(pool, h, 'test -e "$HOME/$1/.lock" && echo held || echo free', appDir).then((s) => s.trim());
/** Every watchdog pid the log names, and whether any of them still runs. */
async function watchdogsRunning(appDir: string): Promise<number[]> {
  const pids = [...new Set([...(await log(appDir)).matchAll(/\(pid (\d+)\)/g)].map((m) => m[1]!))];
  expect(pids.length).toBeGreaterThan(0);
  const out = await onHost(pool, h, 'for p in "$@"; do kill -0 "$p" 2>/dev/null && echo "$p"; done; true', ...pids);
  return out.split('\n').filter(Boolean).map(Number);
}

describe('commit-confirmed switches (compose)', () => {
  it('a confirmed deploy: the watchdog exits without touching anything', async () => {
    expect((await deploy('1.0.0', '1.0.0')).main.errors).toEqual([]);
    const v2 = (await deploy('2.0.0', '2.0.0')).main;
    expect(v2.errors).toEqual([]);
    expect(await servedVersion(pool, h)).toBe('2.0.0');
    await waitFor('the watchdog to stand down', async () => (await log(APP_DIR)).includes('confirmed; exiting'), 10_000);
    const l = await log(APP_DIR);
    expect(l).toContain(`watchdog ${v2.outputs['release-id']}`);
    expect(l).toMatch(/returns to \S+ unless the switch to \S+ is confirmed within 70s/);
    expect(l).toContain('confirmed; exiting');
    await waitFor('the watchdog to exit', async () => (await watchdogsRunning(APP_DIR)).length === 0, 10_000);
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.type === 'switch-reverted-unconfirmed')).toBe(false);
    expect((await onHost(pool, h, 'ls -A "$HOME/$1/.watchdog"', APP_DIR)).trim()).toBe('');
    expect((await onHost(pool, h, 'stat -c %a "$HOME/$1/watchdog.log"', APP_DIR)).trim()).toBe('600');
  });

  it('the runner dies while the gate probes an unhealthy release: the host returns to the previous one; the next deploy reports it', async () => {
    const before = await currentOf(pool, h, APP_DIR);
    const bad = await killAfterSwitch((onSpawn) => deploy('unhealthy', '3.0.0', { 'health-timeout': '20s', 'confirm-timeout': '25s' }, onSpawn), APP_DIR, '3.0.0');
    expect(await currentOf(pool, h, APP_DIR)).toBe(bad);
    await waitFor('the revert', async () => (await currentOf(pool, h, APP_DIR)) === before, 60_000);
    expect(await servedVersion(pool, h)).toBe('2.0.0');
    const hist = await historyOf(pool, h, APP_DIR);
    const revert = hist.find((e) => e.type === 'switch-reverted-unconfirmed');
    expect(revert).toMatchObject({ release: bad, to: before, actor: 'ops-actions watchdog' });
    await waitFor('the watchdog to exit', async () => (await watchdogsRunning(APP_DIR)).length === 0, 10_000);
    // It took over the dead run's lock and released it.
    expect(await lockState(APP_DIR)).toBe('free');
    expect(await log(APP_DIR)).toContain('taking over the lock of the run that switched (it never confirmed)');

    const next = (await deploy('1.0.0', '4.0.0')).main;
    expect(next.errors).toEqual([]);
    expect(next.warnings.join('\n')).toContain(`its watchdog returned it from ${bad} to ${before}`);
    expect(next.summary).toContain('Since the last run, on the hosts');
    expect(await servedVersion(pool, h)).toBe('1.0.0');
    // Reported once.
    const again = (await deploy('2.0.0', '5.0.0')).main;
    expect(again.errors).toEqual([]);
    expect(again.warnings.join('\n')).not.toContain('its watchdog returned it');
  });

  it("the runner dies during a healthy release's gate: reverted too (it was never confirmed)", async () => {
    const before = await currentOf(pool, h, APP_DIR);
    const unconfirmed = await killAfterSwitch((onSpawn) => deploy('1.0.0', '6.0.0', { 'health-stable-for': '15s', 'health-timeout': '20s', 'confirm-timeout': '25s' }, onSpawn), APP_DIR, '6.0.0');
    expect(await servedVersion(pool, h)).toBe('1.0.0');
    await waitFor('the revert', async () => (await currentOf(pool, h, APP_DIR)) === before, 60_000);
    expect(await servedVersion(pool, h)).toBe('2.0.0');
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.type === 'switch-reverted-unconfirmed' && e.release === unconfirmed)).toBe(true);
    await waitFor('the watchdog to exit', async () => (await watchdogsRunning(APP_DIR)).length === 0, 10_000);
  });

  it('a second deploy switches the host before the first watchdog fires: that watchdog does nothing', async () => {
    const first = await killAfterSwitch((onSpawn) => deploy('unhealthy', '7.0.0', { 'health-timeout': '60s', 'confirm-timeout': '90s', 'lock-ttl': '2s' }, onSpawn), APP_DIR, '7.0.0');
    await sleep(2500); // past the dead run's lock-ttl
    const second = (await deploy('1.0.0', '8.0.0', { 'lock-timeout': '30s' })).main;
    expect(second.errors).toEqual([]);
    expect(second.outputs['previous-release-id']).toBe(first);
    await waitFor(
      'the first watchdog to exit',
      async () => (await log(APP_DIR)).includes(`watchdog ${first}`) && (await log(APP_DIR)).match(new RegExp(`watchdog ${first} .*another run switched it`)) !== null,
      15_000,
    );
    await waitFor('every watchdog to exit', async () => (await watchdogsRunning(APP_DIR)).length === 0, 10_000);
    expect(await servedVersion(pool, h)).toBe('1.0.0');
    expect(await currentOf(pool, h, APP_DIR)).toBe(second.outputs['release-id']);
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.type === 'switch-reverted-unconfirmed' && e.release === first)).toBe(false);
  });

  it('confirm-timeout 0 turns the watchdog off, with a warning; shorter than the gate is refused', async () => {
    const off = (await deploy('2.0.0', '9.0.0', { 'confirm-timeout': '0' })).main;
    expect(off.errors).toEqual([]);
    expect(off.warnings.join('\n')).toContain('confirm-timeout is 0: no watchdog on the hosts');
    expect(await log(APP_DIR)).not.toContain(`watchdog ${off.outputs['release-id']}`);
    const short = (await deploy('2.0.0', '9.1.0', { 'confirm-timeout': '5s' })).main;
    expect(short.exitCode).toBe(1);
    expect(short.errors[0]).toContain("input 'confirm-timeout'");
    expect(short.errors[0]).toContain('must be longer than health-timeout (10s)');
  });
});

describe('commit-confirmed switches (file releases, rollback)', () => {
  function workspace(version: string): string {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
    mkdirSync(path.join(ws, 'app'));
    writeFileSync(path.join(ws, 'app', 'VERSION'), version);
    return ws;
  }
  const common = (extra: Record<string, string>) => ({
    app: 'blog',
    strategy: 'release',
    source: 'app',
    'restart-command': 'echo "$OPS_RELEASE $OPS_VERSION" >> "$HOME/blog-restarts.log"',
    'github-deployment': 'false',
    ...sb.sshInputs([h]),
    ...extra,
  });
  const files = (version: string, extra: Record<string, string> = {}, onSpawn?: (pid: number) => void) =>
    runAction('deploy', { onSpawn, workspace: workspace(version), inputs: { ...common(extra), version } });
  const restarts = () => onHost(pool, h, 'cat "$HOME/blog-restarts.log"').then((s) => s.trim().split('\n'));

  it("the runner dies during the gate: the watchdog switches back and runs the previous release's restart command", async () => {
    expect((await files('1.0.0')).main.errors).toEqual([]);
    const v1 = await currentOf(pool, h, FILES_DIR);
    const bad = await killAfterSwitch((onSpawn) => files('2.0.0', { 'health-url': 'http://127.0.0.1:9/never', 'health-timeout': '10s', 'confirm-timeout': '12s' }, onSpawn), FILES_DIR, '2.0.0');
    await waitFor('the revert', async () => (await currentOf(pool, h, FILES_DIR)) === v1, 60_000);
    expect((await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', FILES_DIR)).trim()).toBe('1.0.0');
    await waitFor('the restart command', async () => (await restarts()).at(-1) === `${v1} 1.0.0`, 10_000);
    expect(await restarts()).toEqual([`${v1} 1.0.0`, `${bad} 2.0.0`, `${v1} 1.0.0`]);
    expect((await historyOf(pool, h, FILES_DIR)).find((e) => e.type === 'switch-reverted-unconfirmed')).toMatchObject({ release: bad, to: v1 });
    await waitFor('the watchdog to exit', async () => (await watchdogsRunning(FILES_DIR)).length === 0, 10_000);
  });

  it('a rollback whose runner dies before its gate passes is undone too: the host returns to what it served before', async () => {
    expect((await files('3.0.0')).main.errors).toEqual([]);
    const v3 = await currentOf(pool, h, FILES_DIR);
    const to = await killAfterSwitch(
      (onSpawn) =>
        runAction('rollback', {
          onSpawn,
          inputs: { app: 'blog', ...sb.sshInputs([h]), to: '1.0.0', 'health-url': 'http://127.0.0.1:9/never', 'health-timeout': '10s', 'confirm-timeout': '12s' },
        }),
      FILES_DIR,
      '1.0.0',
    );
    expect(to).not.toBe(v3);
    await waitFor('the revert', async () => (await currentOf(pool, h, FILES_DIR)) === v3, 60_000);
    expect((await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', FILES_DIR)).trim()).toBe('3.0.0');
    expect((await historyOf(pool, h, FILES_DIR)).filter((e) => e.type === 'switch-reverted-unconfirmed').at(-1)).toMatchObject({ release: to, to: v3 });
    await waitFor('the watchdog to exit', async () => (await watchdogsRunning(FILES_DIR)).length === 0, 10_000);
    expect(await lockState(FILES_DIR)).toBe('free');
  });
});
