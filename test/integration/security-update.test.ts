/**
 * security-update against real Debian 12 hosts (debootstrapped from the plain bookworm
 * suite, so bookworm-security's updates are really pending; see sandbox/debian.ts): real
 * apt, dpkg, needrestart and sudo, reboots as PID 1 exiting, the health gate over HTTP.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haltDebianHost, onDebian, startDebianHosts, stopDebianHosts, type DebianHost } from '../../sandbox/debian.js';
import { makeClientKeys, type ClientKeys } from '../../sandbox/hosts.js';
import { runAction, secretLeaks } from '../harness.js';
import { parseHistory } from '../../src/host/history.js';

let root: string;
let keys: ClientKeys;
let hosts: DebianHost[];
let a: DebianHost;
let b: DebianHost;
let c: DebianHost;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'patch-'));
  keys = await makeClientKeys(path.join(root, 'client'));
  hosts = await startDebianHosts(3, { root, keys, tag: 'patch' });
  [a, b, c] = hosts as [DebianHost, DebianHost, DebianHost];
  // The package lists as the action will see them (for the test's own expectations).
  await Promise.all(hosts.map((h) => onDebian(h, 'apt-get -q update >/dev/null')));
}, 900_000);
afterAll(async () => {
  if (hosts) await stopDebianHosts(hosts);
  if (root) rmSync(root, { recursive: true, force: true });
});

const inputs = (hs: DebianHost[], extra: Record<string, string> = {}) => ({
  hosts: hs.map((h) => h.spec).join(','),
  'ssh-key': keys.ed25519.privateKey,
  'known-hosts': hs.map((h) => h.knownHosts).join(''),
  ...extra,
});
const update = (hs: DebianHost[], extra: Record<string, string> = {}) => runAction('security-update', { inputs: inputs(hs, extra), timeoutMs: 600_000 }).then((r) => r.main);

/** name → version of every installed package. */
async function installed(h: DebianHost): Promise<Map<string, string>> {
  const out = await onDebian(h, "dpkg-query -W -f='${Package}\\t${Version}\\n'");
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t') as [string, string]),
  );
}

/** What the host's own apt says is pending from the security suite: name → candidate. */
async function pendingSecurity(h: DebianHost): Promise<Map<string, string>> {
  const out = await onDebian(h, 'apt-get -s dist-upgrade | grep "^Inst" | grep -- "-security" || true');
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^Inst (\S+) \[[^\]]*\] \((\S+)/.exec(l)!;
        return [m[1]!, m[2]!] as [string, string];
      }),
  );
}

async function candidate(h: DebianHost, pkg: string): Promise<string> {
  return /Candidate: (\S+)/.exec(await onDebian(h, 'apt-cache policy "$1"', pkg))![1]!;
}

const bootMarker = (h: DebianHost) => onDebian(h, "sed 's/^.*) //' /proc/1/stat | cut -d' ' -f20").then((s) => s.trim());

describe('security-update', () => {
  it('dry-run lists the pending security updates per host and changes nothing', async () => {
    const before = await installed(a);
    const expected = await pendingSecurity(a);
    expect(expected.size).toBeGreaterThan(3);
    expect(expected.has('libssl3')).toBe(true);
    const r = await update([a], { 'dry-run': 'true' });
    expect(r.errors).toEqual([]);
    const planned = JSON.parse(r.outputs.planned!)[a.spec] as { package: string; from: string; to: string }[];
    expect(new Map(planned.map((p) => [p.package, p.to]))).toEqual(expected);
    for (const p of planned) expect(p.from).toBe(before.get(p.package));
    expect(JSON.parse(r.outputs.upgraded!)).toEqual({});
    expect(r.summary).toContain('dry run: nothing was changed');
    expect(await installed(a)).toEqual(before);
    expect((await onDebian(a, 'ls /var/lib/ops-actions 2>/dev/null || true')).trim()).toBe('');
  });

  it('mode security upgrades exactly those packages to the versions apt-cache policy names, keeps an excluded one (unheld after), waits for a dpkg lock, reboots when required, and a deploy meanwhile fails naming the lock', async () => {
    const before = await installed(a);
    const expected = await pendingSecurity(a);
    expected.delete('openssl');
    const bootBefore = await bootMarker(a);
    // A package that asks for a reboot (as libc6's or a kernel's do), and another apt run
    // holding the dpkg lock for a few seconds.
    await onDebian(a, 'touch /run/reboot-required && echo libc6 > /run/reboot-required.pkgs');
    await onDebian(a, "nohup apt-get -q -y -o DPkg::Pre-Invoke::='sleep 8' install --reinstall hostname >/tmp/holder.log 2>&1 &");
    const running = update([a], { exclude: 'openssl', 'health-url': 'http://{host}:8080/health', 'dpkg-lock-timeout': '2m', app: 'shop' });
    // While it runs, a deploy to the same host is refused, naming the maintenance lock.
    for (let i = 0; i < 100 && !(await onDebian(a, 'ls /var/lib/ops-actions/maintenance/.lock 2>/dev/null || true')).trim(); i++) await new Promise((res) => setTimeout(res, 200));
    const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
    mkdirSync(path.join(ws, 'app'));
    writeFileSync(path.join(ws, 'app', 'index.html'), 'hi');
    const deploy = await runAction('deploy', {
      workspace: ws,
      inputs: { ...inputs([a]), app: 'shop', strategy: 'release', source: 'app', version: '1.0.0', 'lock-timeout': '1s', 'github-deployment': 'false' },
    }).then((x) => x.main);
    expect(deploy.exitCode).toBe(1);
    expect(deploy.errors.join('\n')).toMatch(/under maintenance \(security-update/);
    const r = await running;
    expect(r.errors).toEqual([]);
    expect(r.log).toMatch(/Waiting for cache lock|waiting for .*lock/i);
    const upgraded = JSON.parse(r.outputs.upgraded!)[a.spec] as { package: string; from: string; to: string }[];
    expect(new Map(upgraded.map((p) => [p.package, p.to]))).toEqual(expected);
    const after = await installed(a);
    for (const p of upgraded) {
      expect(p.from).toBe(before.get(p.package));
      expect(after.get(p.package), p.package).toBe(await candidate(a, p.package));
    }
    expect(after.get('openssl')).toBe(before.get('openssl'));
    expect((await onDebian(a, 'apt-mark showhold')).trim()).toBe('');
    expect(r.outputs.rebooted).toBe(a.spec);
    expect(await bootMarker(a)).not.toBe(bootBefore);
    expect((await onDebian(a, 'ls /run/reboot-required 2>&1 || true')).trim()).toMatch(/No such file/);
    expect(r.summary).toMatch(/rebooted \(down/);
    expect(r.summary).toContain('openssl');
    const history = parseHistory(await onDebian(a, 'cat /var/lib/ops-actions/maintenance/history.jsonl'));
    expect(history.map((e) => e.type)).toEqual(['maintenance-started', 'maintenance-completed']);
    expect(secretLeaks(r, [keys.ed25519.privateKey])).toEqual([]);
  });

  it('a dpkg lock held past dpkg-lock-timeout fails the host, naming the process; nothing was changed', async () => {
    const before = await installed(b);
    await onDebian(b, "nohup apt-get -q -y -o DPkg::Pre-Invoke::='sleep 60' install --reinstall hostname >/tmp/holder.log 2>&1 &");
    await new Promise((res) => setTimeout(res, 1500));
    try {
      const r = await update([b], { 'dpkg-lock-timeout': '3s' });
      expect(r.exitCode).toBe(1);
      expect(r.errors[0]).toContain(b.spec);
      expect(r.errors[0]).toMatch(/dpkg-lock-timeout.*process \d+ \(apt-get\)/);
      expect(await installed(b)).toEqual(before);
      expect((await onDebian(b, 'ls /var/lib/ops-actions/maintenance/.lock 2>&1 || true')).trim()).toMatch(/No such file/);
    } finally {
      await onDebian(b, 'pkill -x sleep; pkill -x apt-get; sleep 1; dpkg --configure -a >/dev/null 2>&1; true');
    }
  });

  it('reboot always waits for a new boot marker; a host that never comes back fails at reboot-timeout', async () => {
    const m0 = await bootMarker(a);
    const r = await update([a], { reboot: 'always' });
    expect(r.errors).toEqual([]);
    expect(r.outputs.rebooted).toBe(a.spec);
    expect(await bootMarker(a)).not.toBe(m0);
    haltDebianHost(a, true);
    try {
      const down = await update([a], { reboot: 'always', 'reboot-timeout': '6s' });
      expect(down.exitCode).toBe(1);
      expect(down.errors[0]).toMatch(new RegExp(`${a.spec.replace(/\./g, '\\.')}.*did not come back from the reboot within 6(\\.0)?s \\('reboot-timeout'`));
    } finally {
      haltDebianHost(a, false);
    }
    for (let i = 0; i < 100; i++) {
      if (await bootMarker(a).catch(() => '')) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    // A host that did not come back keeps its maintenance lock: deploys stay refused until
    // someone has looked at it.
    expect((await onDebian(a, 'cat /var/lib/ops-actions/maintenance/.lock/owner.json')).trim()).toContain('"kind":"maintenance"');
    await onDebian(a, 'rm -rf /var/lib/ops-actions/maintenance/.lock');
  });

  it('hosts one after another: the second failing its health gate stops the run; the third is untouched', async () => {
    await onDebian(c, 'rm -f /srv/www/health');
    const third = await installed(b);
    const r = await update([a, c, b], { 'health-url': 'http://{host}:8080/health', 'health-timeout': '4s', 'health-interval': '500ms', reboot: 'never' });
    expect(r.exitCode).toBe(1);
    const err = r.errors.join('\n');
    expect(err).toContain(`host ${c.spec} failed at 'health gate'`);
    expect(err).toMatch(/status 404/);
    expect(err).toContain(`Not started, untouched: ${b.spec}`);
    const results = JSON.parse(r.outputs['host-results']!) as { host: string; status: string }[];
    expect(results.map((x) => x.status)).toEqual(['up-to-date', 'failed', 'not-started']);
    expect(await installed(b)).toEqual(third);
    expect(r.summary).toMatch(/not started/);
    expect(r.outputs['pending-reboot']).toBe('');
  });

  it('services still using replaced libraries are restarted and reported (reboot never); the connection survives an sshd restart', async () => {
    const listener = () => onDebian(b, 'pgrep -f "sshd: .*listener" || true').then((x) => x.trim());
    const before = await listener();
    const r = await update([b], { reboot: 'never', 'health-url': 'http://{host}:8080/health' });
    expect(r.errors).toEqual([]);
    expect(JSON.parse(r.outputs['services-restarted']!)[b.spec]).toContain('ssh');
    expect(await listener()).not.toBe(before);
    expect(r.summary).toMatch(/restarted ssh/);
    expect(r.outputs.rebooted).toBe('');
  });
});
