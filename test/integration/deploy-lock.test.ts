import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { ROOT, runAction, type RunOptions } from '../harness.js';
import { currentOf, historyOf, inspector, onHost } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';
import { sleep } from '../../sandbox/procs.js';

let sb: Sandbox;
let pool: SshPool;
let h: SandboxHost;
let h2: SandboxHost;
const APP_DIR = 'apps/api-production';
const SKEW = path.join(ROOT, 'test', 'fixtures', 'skew-clock.cjs');

function deploy(version: string, extra: Record<string, string> = {}, o: RunOptions & { hosts?: SandboxHost[] } = {}) {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
  mkdirSync(path.join(ws, 'app'));
  writeFileSync(path.join(ws, 'app', 'VERSION'), version);
  return runAction('deploy', {
    workspace: ws,
    ...o,
    inputs: { app: 'api', strategy: 'release', source: 'app', version, 'github-deployment': 'false', ...sb.sshInputs(o.hosts ?? [h]), ...extra },
  });
}

const lockState = (x: SandboxHost) => onHost(pool, x, 'test -e "$HOME/$1/.lock" && echo held || echo free', APP_DIR).then((s) => s.trim());
const waitFor = async (cond: () => Promise<boolean>, what: string) => {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
};

beforeAll(async () => {
  sb = await startSandbox({ hosts: 2 });
  [h, h2] = sb.hosts as [SandboxHost, SandboxHost];
  pool = inspector(sb);
  expect((await deploy('1.0.0', {}, { hosts: [h, h2] })).main.exitCode).toBe(0);
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

describe('the deploy lock', () => {
  it('two deploys started together: exactly one proceeds; the other waits, then fails naming the owner', async () => {
    const slow = { 'pre-deploy': 'sleep 4', 'lock-timeout': '2s' };
    const [a, b] = await Promise.all([
      deploy('2.0.0', slow, { env: { GITHUB_RUN_ID: '1001', GITHUB_ACTOR: 'alice' } }),
      deploy('2.0.1', slow, { env: { GITHUB_RUN_ID: '1002', GITHUB_ACTOR: 'bob' } }),
    ]);
    const codes = [a.main.exitCode, b.main.exitCode].sort();
    expect(codes).toEqual([0, 1]);
    const [won, lost] = a.main.exitCode === 0 ? [a, b] : [b, a];
    const winner = won === a ? { actor: 'alice', run: '1001' } : { actor: 'bob', run: '1002' };
    expect(lost.main.log).toContain(`waiting for the deploy lock held by ${winner.actor} (run https://github.com/acme/shop/actions/runs/${winner.run})`);
    expect(lost.main.errors[0]).toMatch(new RegExp(`could not get the lock on .* within 2\\.0s \\('lock-timeout'\\): deploy lock held by ${winner.actor}`));
    // The loser changed nothing, and its summary and outputs say which host it waited for.
    const lostVersion = won === a ? '2.0.1' : '2.0.0';
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.version === lostVersion)).toBe(false);
    expect(lost.main.summary).toContain('❌ failed');
    expect(await lockState(h)).toBe('free');
  });

  it('a deploy that waited for the lock works from the state the previous deploy left', async () => {
    const [a, b] = await Promise.all([
      deploy('2.5.0', { 'pre-deploy': 'sleep 2', 'lock-timeout': '60s' }, { env: { GITHUB_RUN_ID: '2001' } }),
      deploy('2.6.0', { 'pre-deploy': 'sleep 2', 'lock-timeout': '60s' }, { env: { GITHUB_RUN_ID: '2002' } }),
    ]);
    expect([a.main.errors, b.main.errors]).toEqual([[], []]);
    const [first, second] = a.main.outputs['release-id']! < b.main.outputs['release-id']! ? [a, b] : [b, a];
    // Whichever waited saw the other's release as the one it replaced.
    const waited = second.main.log.includes('waiting for the deploy lock') ? second : first;
    const other = waited === second ? first : second;
    expect(waited.main.outputs['previous-release-id']).toBe(other.main.outputs['release-id']);
    expect(await currentOf(pool, h, APP_DIR)).toBe(waited.main.outputs['release-id']);
  });

  it('every host a run changes is locked: deploys over the same hosts listed in opposite orders never overlap', async () => {
    // A holds both hosts (pre-deploy sleeps); B lists them the other way round and gives up.
    const a = deploy('3.1.0', { 'pre-deploy': 'sleep 3', 'lock-timeout': '30s' }, { hosts: [h, h2], env: { GITHUB_RUN_ID: '3001', GITHUB_ACTOR: 'alice' } });
    await waitFor(async () => (await lockState(h)) === 'held' && (await lockState(h2)) === 'held', "A's locks");
    const b = await deploy('3.2.0', { 'lock-timeout': '1s' }, { hosts: [h2, h], env: { GITHUB_RUN_ID: '3002', GITHUB_ACTOR: 'bob' } });
    const ra = await a;
    expect(ra.main.errors).toEqual([]);
    expect(b.main.exitCode).toBe(1);
    expect(b.main.errors[0]).toContain('deploy lock held by alice (run https://github.com/acme/shop/actions/runs/3001)');
    for (const x of [h, h2]) {
      expect(await currentOf(pool, x, APP_DIR)).toBe(ra.main.outputs['release-id']);
      expect((await historyOf(pool, x, APP_DIR)).some((e) => e.version === '3.2.0')).toBe(false);
    }
    // B's outputs and summary name both hosts as untouched.
    expect(b.main.outputs['hosts-succeeded']).toBe('');
    expect(b.main.summary).toContain('⏭️ untouched');

    // Started together in opposite orders with time to wait: no deadlock, one after the other.
    const [c, d] = await Promise.all([
      deploy('3.3.0', { 'pre-deploy': 'sleep 1', 'lock-timeout': '60s' }, { hosts: [h, h2], env: { GITHUB_RUN_ID: '3003' } }),
      deploy('3.4.0', { 'pre-deploy': 'sleep 1', 'lock-timeout': '60s' }, { hosts: [h2, h], env: { GITHUB_RUN_ID: '3004' } }),
    ]);
    expect([c.main.errors, d.main.errors]).toEqual([[], []]);
    // The run that waited went second, and got the later release id.
    const last = d.main.log.includes('waiting for the deploy lock') ? d : c;
    expect(last.main.outputs['release-id']! > (last === c ? d : c).main.outputs['release-id']!).toBe(true);
    const firstRun = last === c ? d : c;
    for (const x of [h, h2]) {
      expect(await currentOf(pool, x, APP_DIR)).toBe(last.main.outputs['release-id']);
      const events = await historyOf(pool, x, APP_DIR);
      const lastOfFirst = events.map((e) => e.release).lastIndexOf(firstRun.main.outputs['release-id']!);
      const firstOfLast = events.findIndex((e) => e.release === last.main.outputs['release-id']);
      expect(lastOfFirst).toBeLessThan(firstOfLast);
    }
  });

  it("staleness is decided by the host's clock: a runner 400 s behind cannot break a live lock, nor have its own broken", async () => {
    const skewed = { NODE_OPTIONS: `--require ${SKEW}`, OPS_TEST_CLOCK_OFFSET_MS: '-400000', GITHUB_RUN_ID: '4001', GITHUB_ACTOR: 'slowclock' };
    // A runner 400 s behind holds the lock (ttl 5m) ...
    const a = deploy('4.1.0', { 'pre-deploy': 'sleep 4', 'lock-timeout': '30s' }, { env: skewed });
    await waitFor(async () => (await lockState(h)) === 'held', "A's lock");
    // ... and a runner with the right clock must wait for it, not break it.
    const b = await deploy('4.2.0', { 'lock-timeout': '1s' }, { env: { GITHUB_RUN_ID: '4002' } });
    expect(b.main.exitCode).toBe(1);
    expect(b.main.warnings.join('\n')).not.toContain('breaking');
    expect(b.main.errors[0]).toContain('deploy lock held by slowclock');
    // The other way round: a runner 400 s behind waits for a live lock of a correct one.
    const c = deploy('4.3.0', { 'pre-deploy': 'sleep 4', 'lock-timeout': '30s' }, { env: { GITHUB_RUN_ID: '4003' } });
    expect((await a).main.errors).toEqual([]);
    await waitFor(async () => (await lockState(h)) === 'held', "C's lock");
    const d = await deploy('4.4.0', { 'lock-timeout': '1s' }, { env: { ...skewed, OPS_TEST_CLOCK_OFFSET_MS: '400000', GITHUB_RUN_ID: '4004' } });
    expect(d.main.exitCode).toBe(1);
    expect(d.main.warnings.join('\n')).not.toContain('breaking');
    expect((await c).main.errors).toEqual([]);
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.version === '4.2.0' || e.version === '4.4.0')).toBe(false);
  });

  it('a lock not renewed for its ttl by the host clock is stale, whatever the owner file says about expiry', async () => {
    const owner = { id: 'dead-run', kind: 'deploy', app: 'api', environment: 'production', actor: 'ghost', run_url: '', acquired: '2099-01-01T00:00:00Z', expires: '2099-01-01T01:00:00Z', ttl_s: 30 };
    await onHost(pool, h, 'mkdir -p "$HOME/$1/.lock" && printf "%s" "$2" > "$HOME/$1/.lock/owner.json" && touch -d "-40 seconds" "$HOME/$1/.lock/owner.json"', APP_DIR, JSON.stringify(owner));
    const r = await deploy('4.5.0', { 'lock-timeout': '5s' });
    expect(r.main.errors).toEqual([]);
    expect(r.main.warnings.join('\n')).toMatch(/breaking a stale deploy lock held by ghost .*renewed 4\ds ago by the host's clock/);
  });

  it("a run whose lock is taken from it stops before switching, and never removes the new owner's lock", async () => {
    const before = await currentOf(pool, h, APP_DIR);
    const run = deploy('5.0.0', { 'pre-deploy': 'sleep 3', 'lock-ttl': '1500ms' });
    await waitFor(async () => (await historyOf(pool, h, APP_DIR)).some((e) => e.version === '5.0.0' && e.type === 'staged'), 'staging');
    // Another run takes the lock over (as if it had judged this one dead).
    const thief = {
      id: 'other-run',
      kind: 'deploy',
      app: 'api',
      environment: 'production',
      actor: 'mallory',
      run_url: 'https://github.com/acme/shop/actions/runs/999',
      acquired: new Date().toISOString(),
      ttl_s: 300,
    };
    // As a takeover does it: the lock directory is renamed away and a new one put in its place.
    await onHost(
      pool,
      h,
      'd="$HOME/$1"; mkdir "$d/.lock.thief" && printf "%s" "$2" > "$d/.lock.thief/owner.json" && mv -T "$d/.lock" "$d/.lock.gone" && mv -T "$d/.lock.thief" "$d/.lock" && rm -rf "$d/.lock.gone"',
      APP_DIR,
      JSON.stringify(thief),
    );
    const r = (await run).main;
    expect(r.exitCode).toBe(1);
    // (A renewal that fell between the two renames saw no lock at all.)
    expect(r.errors[0]).toMatch(/is no longer this run's \((it is now the deploy lock held by mallory|it was removed\))/);
    expect(r.log).not.toContain('lock released');
    expect(await currentOf(pool, h, APP_DIR)).toBe(before);
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.version === '5.0.0' && e.type === 'switched')).toBe(false);
    expect((await onHost(pool, h, 'cat "$HOME/$1/.lock/owner.json"', APP_DIR)).trim()).toBe(JSON.stringify(thief));
    await onHost(pool, h, 'rm -rf "$HOME/$1/.lock"', APP_DIR);
  });

  it('a deploy killed mid-run leaves current on a complete release and a parseable history; the next deploy breaks the stale lock', async () => {
    const before = await currentOf(pool, h, APP_DIR);
    // Simulate a writer killed mid-line earlier, too.
    await onHost(pool, h, `printf '%s' '{"type":"deploy-sta' >> "$HOME/$1/history.jsonl"`, APP_DIR);
    let pid = 0;
    const killed = deploy('6.0.0', { 'pre-deploy': 'sleep 30', 'lock-ttl': '2s' }, { onSpawn: (p) => (pid = p) });
    await waitFor(async () => (await historyOf(pool, h, APP_DIR)).some((e) => e.version === '6.0.0' && e.type === 'staged'), 'staging');
    await sleep(300);
    process.kill(pid, 'SIGKILL');
    const k = await killed;
    expect(k.main.signal).toBe('SIGKILL');
    expect(await currentOf(pool, h, APP_DIR)).toBe(before);
    // current is the complete release that was live before: its files, not the killed 6.0.0's.
    const live = (await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', APP_DIR)).trim();
    expect(live).toBe((await onHost(pool, h, 'cat "$HOME/$1/releases/$2/VERSION"', APP_DIR, before)).trim());
    expect(await lockState(h)).toBe('held');
    const lines = (await onHost(pool, h, 'cat "$HOME/$1/history.jsonl"', APP_DIR)).split('\n').filter((l) => l.trim());
    const events = await historyOf(pool, h, APP_DIR);
    expect(events.length).toBe(lines.length - 1); // only the torn line is skipped
    expect(events.some((e) => e.version === '6.0.0' && e.type === 'staged')).toBe(true);

    await sleep(2500); // past the killed run's lock-ttl
    const next = await deploy('7.0.0', { 'lock-timeout': '30s' });
    expect(next.main.errors).toEqual([]);
    expect(next.main.warnings.join('\n')).toMatch(/breaking a stale deploy lock held by octocat .*its holder stopped renewing it/);
    expect((await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', APP_DIR)).trim()).toBe('7.0.0');
    expect(await lockState(h)).toBe('free');
    // history.jsonl is private to the deploy user.
    expect((await onHost(pool, h, 'stat -c %a "$HOME/$1/history.jsonl"', APP_DIR)).trim()).toBe('600');
  });

  it.each(['deploy', 'rollback', 'migrate'] as const)('%s: the post step releases every lock a killed main step left behind', async (action) => {
    let pid = 0;
    const hosts = [h, h2];
    const inputs: Record<string, Record<string, string>> = {
      deploy: { 'pre-deploy': 'sleep 30' },
      rollback: { 'health-url': 'http://127.0.0.1:9/never', 'health-timeout': '60s' },
      migrate: { command: 'sleep 30', mode: 'host' },
    };
    if (action === 'rollback') {
      // Two releases on both hosts, so there is one to return to.
      for (const v of ['8.1.0', '8.2.0']) expect((await deploy(v, {}, { hosts })).main.errors).toEqual([]);
    }
    const run =
      action === 'deploy'
        ? deploy('8.0.0', inputs.deploy, { hosts, post: true, onSpawn: (p) => (pid ||= p) })
        : runAction(action, { post: true, onSpawn: (p) => (pid ||= p), inputs: { app: 'api', ...sb.sshInputs(hosts), ...inputs[action] } });
    await waitFor(async () => (await lockState(h)) === 'held' && (await lockState(h2)) === 'held', 'both locks');
    await sleep(500);
    process.kill(pid, 'SIGKILL');
    const r = await run;
    expect(r.main.signal).toBe('SIGKILL');
    expect(r.post!.exitCode).toBe(0);
    expect(r.post!.log.match(/post: released the lock on .* that the main step left behind/g)).toHaveLength(2);
    expect([await lockState(h), await lockState(h2)]).toEqual(['free', 'free']);
  });

  it("the post step leaves a lock alone that is no longer this run's", async () => {
    const owner = { id: 'someone-else', kind: 'deploy', app: 'api', environment: 'production', actor: 'carol', run_url: '', acquired: new Date().toISOString(), ttl_s: 300 };
    await onHost(pool, h, 'mkdir -p "$HOME/$1/.lock" && printf "%s" "$2" > "$HOME/$1/.lock/owner.json"', APP_DIR, JSON.stringify(owner));
    const r = await runAction('deploy', {
      inputs: { app: 'api', ...sb.sshInputs([h]) },
      env: { STATE_isPost: 'true', STATE_locks: JSON.stringify({ id: 'run-1-dead', sites: [{ name: h.spec, appDir: `${h.home}/${APP_DIR}` }] }) },
    });
    expect(r.main.exitCode).toBe(0);
    expect(r.main.log).toContain('post: the lock on');
    expect(r.main.log).toContain("is no longer this run's; left it as it is");
    expect(await lockState(h)).toBe('held');
    await onHost(pool, h, 'rm -rf "$HOME/$1/.lock"', APP_DIR);
  });

  it('a maintenance lock is never broken, even when stale', async () => {
    const owner = {
      id: 'maint-1',
      kind: 'maintenance',
      app: 'api',
      environment: 'production',
      actor: 'patcher',
      run_url: 'https://github.com/acme/shop/actions/runs/77',
      acquired: '2026-01-01T00:00:00Z',
      ttl_s: 1,
    };
    await onHost(pool, h, 'mkdir -p "$HOME/$1/.lock" && printf "%s" "$2" > "$HOME/$1/.lock/owner.json" && touch -d "-1 hour" "$HOME/$1/.lock/owner.json"', APP_DIR, JSON.stringify(owner));
    const r = await deploy('9.0.0', { 'lock-timeout': '1s' });
    expect(r.main.exitCode).toBe(1);
    expect(r.main.errors[0]).toContain('maintenance lock held by patcher (run https://github.com/acme/shop/actions/runs/77)');
    expect(r.main.errors[0]).toContain('never broken');
    await onHost(pool, h, 'rm -rf "$HOME/$1/.lock"', APP_DIR);
  });

  it("a deploy never starts while the host's maintenance lock (host-scoped, any app) is held", async () => {
    const owner = {
      id: 'patch-7',
      kind: 'maintenance',
      app: '',
      environment: '',
      actor: 'patcher',
      run_url: 'https://github.com/acme/ops/actions/runs/7',
      acquired: new Date().toISOString(),
      ttl_s: 1,
    };
    // Written by root, as security-update does (the deploy user only needs to see it).
    const lock = path.join(h.hostStateDir, 'maintenance', '.lock');
    mkdirSync(lock, { recursive: true });
    writeFileSync(path.join(lock, 'owner.json'), JSON.stringify(owner));
    utimesSync(path.join(lock, 'owner.json'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const r = await deploy('9.1.0', { 'lock-timeout': '1s' });
    expect(r.main.exitCode).toBe(1);
    expect(r.main.errors[0]).toContain('maintenance lock held by patcher (run https://github.com/acme/ops/actions/runs/7)');
    expect(r.main.errors[0]).toContain('The host is under maintenance');
    expect(r.main.warnings.join('\n')).not.toContain('breaking');
    // The app's own lock was not left behind, and nothing was deployed.
    expect(await lockState(h)).toBe('free');
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.version === '9.1.0')).toBe(false);
    rmSync(h.hostStateDir, { recursive: true, force: true });
  });

  it('a lock whose owner file this version did not write is never broken, and waiting for it ends at lock-timeout', async () => {
    await onHost(pool, h, 'mkdir -p "$HOME/$1/.lock" && printf "%s" "{\\"note\\":\\"held by a script\\"}" > "$HOME/$1/.lock/owner.json" && touch -d "-1 hour" "$HOME/$1/.lock/owner.json"', APP_DIR);
    const started = Date.now();
    const r = await deploy('9.2.0', { 'lock-timeout': '2s' });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.main.exitCode).toBe(1);
    expect(r.main.errors[0]).toContain('is not one this version wrote, so it is never broken automatically');
    expect(r.main.warnings.join('\n')).not.toContain('breaking');
    expect(await lockState(h)).toBe('held');
    await onHost(pool, h, 'rm -rf "$HOME/$1/.lock"', APP_DIR);
  });

  it("a run whose lock is taken during its health gate does not roll the host back: it is the new holder's", async () => {
    const before = await currentOf(pool, h, APP_DIR);
    const run = deploy('9.3.0', { 'health-url': 'http://127.0.0.1:9/nothing', 'health-timeout': '4s', 'health-interval': '200ms', 'lock-ttl': '1500ms' });
    await waitFor(async () => (await historyOf(pool, h, APP_DIR)).some((e) => e.version === '9.3.0' && e.type === 'switched'), 'the switch');
    const thief = { id: 'other-run-2', kind: 'deploy', app: 'api', environment: 'production', actor: 'mallory', run_url: '', acquired: new Date().toISOString(), ttl_s: 300 };
    await onHost(pool, h, 'printf "%s" "$2" > "$HOME/$1/.lock/owner.json"', APP_DIR, JSON.stringify(thief));
    const r = (await run).main;
    expect(r.exitCode).toBe(1);
    expect(r.log).toMatch(/not returning to .*: the lock on .* is no longer this run's/);
    const events = await historyOf(pool, h, APP_DIR);
    expect(events.some((e) => e.type === 'rollback' && e.from === r.outputs['release-id'])).toBe(false);
    expect(await currentOf(pool, h, APP_DIR)).not.toBe(before);
    expect((await onHost(pool, h, 'cat "$HOME/$1/.lock/owner.json"', APP_DIR)).trim()).toBe(JSON.stringify(thief));
    await onHost(pool, h, 'rm -rf "$HOME/$1/.lock"', APP_DIR);
  });
});
