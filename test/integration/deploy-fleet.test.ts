import { eventsOf } from '../../src/host/history.js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { runAction } from '../harness.js';
import { currentOf, historyOf, inspector, onHost } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';

let sb: Sandbox;
let pool: SshPool;
const APP_DIR = 'apps/site-production';

/** A static site; restart-command (re)starts busybox httpd on the host's own 127.0.0.1:8080 unless ~/broken exists. */
function deploy(version: string, extra: Record<string, string> = {}) {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
  mkdirSync(path.join(ws, 'site'));
  writeFileSync(path.join(ws, 'site', 'health'), JSON.stringify({ status: 'healthy', version }));
  return runAction('deploy', {
    workspace: ws,
    inputs: {
      app: 'site',
      strategy: 'release',
      source: 'site',
      version,
      'restart-command':
        'pkill -u "$(id -u)" -f "^busybox httpd -p 127.0.0.1:8080" || true; while pgrep -u "$(id -u)" -f "^busybox httpd -p 127.0.0.1:8080" >/dev/null; do sleep 0.05; done; [ -e "$HOME/broken" ] || busybox httpd -p 127.0.0.1:8080 -h "$PWD"',
      'health-url': 'http://127.0.0.1:8080/health',
      'health-expect-json': `version=${version}`,
      'health-interval': '200ms',
      'health-timeout': '3s',
      'github-deployment': 'false',
      ...sb.sshInputs(),
      ...extra,
    },
  }).then((r) => r.main);
}

beforeAll(async () => {
  sb = await startSandbox({ hosts: 10, isolated: true });
  pool = inspector(sb);
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

describe('deploy to a fleet of 10 hosts', () => {
  it('deploys everywhere with max-parallel 5 and a canary', async () => {
    const r = await deploy('1.0.0', { 'max-parallel': '5', canary: '1' });
    expect(r.errors).toEqual([]);
    expect(r.outputs['hosts-succeeded']!.split(',')).toHaveLength(10);
    const id = r.outputs['release-id']!;
    for (const h of sb.hosts) expect(await currentOf(pool, h, APP_DIR)).toBe(id);
    // The canary switched and passed its gate before any other host switched.
    const canaryPassed = (await historyOf(pool, sb.hosts[0]!, APP_DIR)).find((e) => e.type === 'health-passed')!.time;
    for (const h of sb.hosts.slice(1)) {
      const switched = (await historyOf(pool, h, APP_DIR)).find((e) => e.type === 'switched')!.time;
      expect(switched >= canaryPassed).toBe(true);
    }
  });

  it('halt: a host failing halfway is rolled back, later hosts stay untouched, and the result says who runs what', async () => {
    const v1 = await currentOf(pool, sb.hosts[0]!, APP_DIR);
    await onHost(pool, sb.hosts[5]!, 'touch "$HOME/broken"');
    const r = await deploy('2.0.0', { 'max-parallel': '5', canary: '1', 'on-failure': 'echo "$OPS_RELEASE $OPS_HOST" > "$HOME/on-failure"' });
    await onHost(pool, sb.hosts[5]!, 'rm -f "$HOME/broken"');
    expect(r.exitCode).toBe(1);
    const v2 = r.outputs['release-id']!;
    const specs = sb.hosts.map((h) => h.spec);
    // Canary host01 alone, then the batch host02..host06; host06 fails, so the next batch never starts.
    expect(r.outputs['hosts-succeeded']!.split(',').sort(), r.errors[0]).toEqual(specs.slice(0, 5).sort());
    expect(r.outputs['hosts-failed']).toBe(specs[5]);
    expect(r.outputs['rolled-back']).toBe('true');
    for (const [i, h] of sb.hosts.entries()) expect(await currentOf(pool, h, APP_DIR)).toBe(i < 5 ? v2 : v1);
    for (const h of sb.hosts.slice(6)) expect((await historyOf(pool, h, APP_DIR)).some((e) => e.release === v2 && e.type === 'switched')).toBe(false);
    expect(r.errors[0]).toContain(`host ${specs[5]}: release ${v2} failed its health gate`);
    expect(r.errors[0]).toContain(`${specs[9]}: ${v1} (skipped)`);
    expect(r.errors[0]).toContain(`${specs[0]}: ${v2} (succeeded)`);
    expect(r.summary).toContain('⏭️ untouched');
    // on-failure ran on the failing host only, with the OPS_* variables.
    expect((await onHost(pool, sb.hosts[5]!, 'cat "$HOME/on-failure"')).trim()).toBe(`${v2} ${specs[5]}`);
    for (const h of [sb.hosts[0]!, sb.hosts[4]!, sb.hosts[9]!]) expect((await onHost(pool, h, 'cat "$HOME/on-failure" 2>/dev/null || echo none')).trim()).toBe('none');
    expect(r.summary).toContain('↩️ rolled back');
  });

  it('rollback-all: hosts already switched go back too', async () => {
    const before = await Promise.all(sb.hosts.map((h) => currentOf(pool, h, APP_DIR)));
    await onHost(pool, sb.hosts[2]!, 'touch "$HOME/broken"');
    const r = await deploy('3.0.0', { 'max-parallel': '1', 'on-host-failure': 'rollback-all' });
    await onHost(pool, sb.hosts[2]!, 'rm -f "$HOME/broken"');
    expect(r.exitCode).toBe(1);
    expect(r.outputs['hosts-succeeded']).toBe('');
    const after = await Promise.all(sb.hosts.map((h) => currentOf(pool, h, APP_DIR)));
    expect(after).toEqual(before);
    const h1 = await historyOf(pool, sb.hosts[0]!, APP_DIR);
    expect(eventsOf(h1, 'rollback').find((e) => e.from === r.outputs['release-id'])?.reason).toMatch(/rollback-all/);
  });
});
