/**
 * The watchdog's shell logic, run by the local `sh` against a temporary app directory
 * (the same script the hosts run; over SSH it is covered by test/integration/watchdog.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, existsSync, writeFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireCommand, appendEventAtHostTimeCommand, armWatchdogCommand, breakCommand, decideWatchdogCommand, releaseCommand, switchCommand } from '../../src/commands/index.js';
import { render, type Command } from '../../src/shell/index.js';
import { parseHistory } from '../../src/host/history.js';
import { unreportedRevert } from '../../src/host/watchdog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hostDir = mkdtempSync(path.join(os.tmpdir(), 'ops-hostdir-'));
const env = { ...process.env, OPS_ACTIONS_HOST_DIR: hostDir };
const runLocal = (c: Command) => execFileSync(c[0] as string, c.slice(1) as string[], { env, encoding: 'utf8' });

function app() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ops-wd-'));
  for (const r of ['A', 'B', 'C']) mkdirSync(path.join(dir, 'releases', r), { recursive: true });
  symlinkSync('releases/B', path.join(dir, 'current'));
  return dir;
}
const current = (dir: string) => readlinkSync(path.join(dir, 'current')).split('/').pop();
const owner = (id: string) => ({ id, kind: 'deploy', app: 'shop', environment: 'production', actor: 'x', run_url: '', acquired: '', ttl_s: 300, expires: '' });

function arm(dir: string, o: { timeoutS: number; lockWaitS?: number; runId?: string }) {
  const wd = path.join(dir, '.watchdog', 'B.t1');
  const me = owner('watchdog-B.t1');
  const out = runLocal(
    armWatchdogCommand({
      appDir: dir,
      dir: wd,
      log: path.join(dir, 'watchdog.log'),
      guarded: 'B',
      previous: 'A',
      timeoutS: o.timeoutS,
      lockWaitS: o.lockWaitS ?? 30,
      runMark: `"id":${JSON.stringify(o.runId ?? 'run-1')}`,
      acquire: render(acquireCommand(dir, me, true)),
      takeover: render(breakCommand(dir, o.runId ?? 'run-1', -1)),
      release: render(releaseCommand(dir, me.id)),
      renew: render(['touch', path.join(dir, '.lock', 'owner.json')]),
      revert: [switchCommand(dir, 'A'), ['sh', '-c', 'echo "reverted $0" >> "$1"', 'x', path.join(dir, 'restarts')] as Command].map((c) => render(c)).join(' && '),
      recordReverted: render(appendEventAtHostTimeCommand(path.join(dir, 'history.jsonl'), { host: 'h1', type: 'switch-reverted-unconfirmed', release: 'B', to: 'A', reason: 'not confirmed' })),
      revertTimeoutS: 30,
      recordFailed: render(appendEventAtHostTimeCommand(path.join(dir, 'history.jsonl'), { host: 'h1', type: 'marked-bad', release: 'B', reason: 'revert failed' })),
    }),
  );
  const pid = Number(/^armed (\d+)/m.exec(out)?.[1]);
  expect(pid).toBeGreaterThan(0);
  return { wd, pid };
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function gone(pid: number, ms = 15_000) {
  for (let t = 0; t < ms && alive(pid); t += 100) await sleep(100);
  return !alive(pid);
}
const log = (dir: string) => readFileSync(path.join(dir, 'watchdog.log'), 'utf8');
const history = (dir: string) => (existsSync(path.join(dir, 'history.jsonl')) ? parseHistory(readFileSync(path.join(dir, 'history.jsonl'), 'utf8')) : []);

describe('the host watchdog (local sh)', { timeout: 30_000 }, () => {
  it('pins the decide command', () => {
    expect(render(decideWatchdogCommand('/srv/app/.watchdog/R.1', 'confirmed', '/srv/app'))).toMatchInlineSnapshot(`
      "sh -c 'set -eu
      if [ ! -d "$1" ]; then echo gone
      elif ln -s "$2" "$1/decided" 2>/dev/null; then echo ok
      else readlink "$1/decided" 2>/dev/null || echo gone; fi
      c=$(readlink "$3/current" 2>/dev/null) || c=
      echo "\${c##*/}"' ops /srv/app/.watchdog/R.1 confirmed /srv/app"
    `);
  });

  it('unconfirmed: returns to the previous release at the deadline, records it, releases its lock and exits', async () => {
    const dir = app();
    const { wd, pid } = arm(dir, { timeoutS: 1 });
    expect(await gone(pid)).toBe(true);
    expect(current(dir)).toBe('A');
    expect(readFileSync(path.join(dir, 'restarts'), 'utf8')).toBe('reverted x\n');
    const h = history(dir);
    expect(h.map((e) => e.type)).toEqual(['switch-reverted-unconfirmed']);
    expect(h[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(unreportedRevert(h)?.to).toBe('A');
    expect(existsSync(path.join(dir, '.lock'))).toBe(false);
    // Kept for the run that armed it: it reads that the watchdog reverted.
    expect(
      runLocal(decideWatchdogCommand(wd, 'confirmed', dir))
        .trim()
        .split('\n'),
    ).toEqual(['reverting', 'A']);
    expect(log(dir)).toMatch(/not confirmed within 1s.*\n.*returning to A\n.*returned to A; B is marked bad/);
  });

  it('confirmed: exits at once without touching anything; the run reads what it decided', async () => {
    const dir = app();
    const { wd, pid } = arm(dir, { timeoutS: 60 });
    expect(
      runLocal(decideWatchdogCommand(wd, 'confirmed', dir))
        .trim()
        .split('\n'),
    ).toEqual(['ok', 'B']);
    expect(await gone(pid, 5000)).toBe(true);
    expect(current(dir)).toBe('B');
    expect(history(dir)).toEqual([]);
    expect(log(dir)).toContain('confirmed; exiting');
    expect(
      runLocal(decideWatchdogCommand(wd, 'confirmed', dir))
        .trim()
        .split('\n'),
    ).toEqual(['gone', 'B']);
  });

  it('another run switched the host meanwhile: exits without reverting', async () => {
    const dir = app();
    const { pid } = arm(dir, { timeoutS: 60 });
    runLocal(switchCommand(dir, 'C'));
    expect(await gone(pid, 5000)).toBe(true);
    expect(current(dir)).toBe('C');
    expect(log(dir)).toContain('the host serves C now (another run switched it)');
  });

  it("takes over the lock of the run that switched, but waits for another run's lock and gives up without breaking it", async () => {
    const dir = app();
    runLocal(acquireCommand(dir, owner('run-1')));
    const first = arm(dir, { timeoutS: 1 });
    expect(await gone(first.pid)).toBe(true);
    expect(current(dir)).toBe('A');
    expect(log(dir)).toContain('taking over the lock of the run that switched');

    runLocal(switchCommand(dir, 'B'));
    runLocal(acquireCommand(dir, owner('someone-else')));
    const second = arm(dir, { timeoutS: 1, lockWaitS: 2 });
    const d = await gone(second.pid);
    expect(d).toBe(true);
    expect(current(dir)).toBe('B');
    expect(readFileSync(path.join(dir, '.lock', 'owner.json'), 'utf8')).toContain('"someone-else"');
    expect(log(dir)).toMatch(/waiting for another run's deploy lock[\s\S]*gave up waiting/);
  });

  it('waits for the maintenance lock (never broken)', async () => {
    const dir = app();
    mkdirSync(path.join(hostDir, 'maintenance', '.lock'), { recursive: true });
    writeFileSync(path.join(hostDir, 'maintenance', '.lock', 'owner.json'), JSON.stringify(owner('patch')));
    try {
      const { pid } = arm(dir, { timeoutS: 1, lockWaitS: 2 });
      expect(await gone(pid)).toBe(true);
      expect(current(dir)).toBe('B');
      expect(log(dir)).toContain("waiting for the host's maintenance lock");
    } finally {
      execFileSync('rm', ['-rf', path.join(hostDir, 'maintenance')]);
    }
  });
});
