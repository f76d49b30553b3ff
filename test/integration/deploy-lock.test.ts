import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { runAction, type RunOptions } from '../harness.js';
import { currentOf, historyOf, inspector, onHost } from './helpers.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { sleep } from '../../sandbox/procs.js';

let sb: Sandbox;
let pool: SshPool;
let h: SandboxHost;
const APP_DIR = 'apps/api-production';

function deploy(version: string, extra: Record<string, string> = {}, o: RunOptions = {}) {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
  mkdirSync(path.join(ws, 'app'));
  writeFileSync(path.join(ws, 'app', 'VERSION'), version);
  return runAction('deploy', {
    workspace: ws,
    ...o,
    inputs: { app: 'api', strategy: 'release', source: 'app', version, 'github-deployment': 'false', ...sb.sshInputs([h]), ...extra },
  });
}

beforeAll(async () => {
  sb = await startSandbox({ hosts: 1 });
  h = sb.hosts[0]!;
  pool = inspector(sb);
  expect((await deploy('1.0.0')).main.exitCode).toBe(0);
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
    // The loser changed nothing: no release of its version, no history event.
    const lostVersion = won === a ? '2.0.1' : '2.0.0';
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.version === lostVersion)).toBe(false);
    expect((await onHost(pool, h, 'test -e "$HOME/$1/.lock" && echo held || echo free', APP_DIR)).trim()).toBe('free');
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

  it('a deploy killed mid-run leaves current on a complete release and a parseable history; the next deploy breaks the stale lock', async () => {
    const before = await currentOf(pool, h, APP_DIR);
    // Simulate a writer killed mid-line earlier, too.
    await onHost(pool, h, `printf '%s' '{"type":"deploy-sta' >> "$HOME/$1/history.jsonl"`, APP_DIR);
    let pid = 0;
    const killed = deploy('3.0.0', { 'pre-deploy': 'sleep 30', 'lock-ttl': '2s' }, { onSpawn: (p) => (pid = p) });
    // Wait until the release is staged and the pre-deploy hook runs, then kill the runner.
    for (let i = 0; i < 200; i++) {
      if ((await historyOf(pool, h, APP_DIR)).some((e) => e.version === '3.0.0' && e.type === 'staged')) break;
      await sleep(100);
    }
    await sleep(300);
    process.kill(pid, 'SIGKILL');
    const k = await killed;
    expect(k.main.signal).toBe('SIGKILL');
    expect(await currentOf(pool, h, APP_DIR)).toBe(before);
    // current is the complete release that was live before: its files, not the killed 3.0.0's.
    const live = (await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', APP_DIR)).trim();
    expect(live).toBe((await onHost(pool, h, 'cat "$HOME/$1/releases/$2/VERSION"', APP_DIR, before)).trim());
    expect(live).toMatch(/^2\.\d\.\d$/);
    expect((await onHost(pool, h, 'test -e "$HOME/$1/.lock" && echo held || echo free', APP_DIR)).trim()).toBe('held');
    const lines = (await onHost(pool, h, 'cat "$HOME/$1/history.jsonl"', APP_DIR)).split('\n').filter((l) => l.trim());
    const events = await historyOf(pool, h, APP_DIR);
    expect(events.length).toBe(lines.length - 1); // only the torn line is skipped
    expect(events.some((e) => e.version === '3.0.0' && e.type === 'staged')).toBe(true);

    await sleep(2500); // past the killed run's lock-ttl
    const next = await deploy('4.0.0', { 'lock-timeout': '30s' });
    expect(next.main.errors).toEqual([]);
    expect(next.main.warnings.join('\n')).toMatch(/breaking a stale deploy lock held by octocat .*its holder stopped renewing it/);
    expect((await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', APP_DIR)).trim()).toBe('4.0.0');
    expect((await onHost(pool, h, 'test -e "$HOME/$1/.lock" && echo held || echo free', APP_DIR)).trim()).toBe('free');
  });

  it('the post step releases a lock the main step left behind', async () => {
    // Hold a lock as if a run's main step had died, with this run's id in the saved state.
    const owner = { id: 'run-1-dead', kind: 'deploy', app: 'api', environment: 'production', actor: 'carol', run_url: '', acquired: new Date().toISOString(), expires: new Date(Date.now() + 3_600_000).toISOString() };
    await onHost(pool, h, 'mkdir -p "$HOME/$1/.lock" && printf "%s" "$2" > "$HOME/$1/.lock/owner.json"', APP_DIR, JSON.stringify(owner));
    const r = await runAction('deploy', {
      inputs: { app: 'api', ...sb.sshInputs([h]) },
      env: { STATE_isPost: 'true', STATE_lock: JSON.stringify({ host: { name: h.spec }, appDir: `${h.home}/${APP_DIR}`, id: 'run-1-dead' }) },
    });
    expect(r.main.exitCode).toBe(0);
    expect(r.main.log).toContain('post: released the deploy lock');
    expect((await onHost(pool, h, 'test -e "$HOME/$1/.lock" && echo held || echo free', APP_DIR)).trim()).toBe('free');
  });

  it('a maintenance lock is never broken, even when expired', async () => {
    const owner = { id: 'maint-1', kind: 'maintenance', app: 'api', environment: 'production', actor: 'patcher', run_url: 'https://github.com/acme/shop/actions/runs/77', acquired: '2026-01-01T00:00:00Z', expires: '2026-01-01T01:00:00Z' };
    await onHost(pool, h, 'mkdir -p "$HOME/$1/.lock" && printf "%s" "$2" > "$HOME/$1/.lock/owner.json"', APP_DIR, JSON.stringify(owner));
    const r = await deploy('5.0.0', { 'lock-timeout': '1s' });
    expect(r.main.exitCode).toBe(1);
    expect(r.main.errors[0]).toContain('maintenance lock held by patcher (run https://github.com/acme/shop/actions/runs/77)');
    expect(r.main.errors[0]).toContain('never broken');
    await onHost(pool, h, 'rm -rf "$HOME/$1/.lock"', APP_DIR);
  });
});
