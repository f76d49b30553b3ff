/**
 * Host checks through the healthcheck bundle, on sandbox hosts with real thresholds
 * crossed: small tmpfs mounts filled past their limit (blocks and inodes), a load the test
 * itself makes, memory and load against what /proc says, a stopped and a restarting
 * container of the deployed release, /run/reboot-required, and a host whose clock runs
 * two minutes ahead (libfaketime in its SSH sessions).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { startSshd, stopSshd } from '../../sandbox/hosts.js';
import type { SshPool } from '../../src/host/pool.js';
import type { CheckOutcome, HostCheckReport } from '../../src/health/host-checks.js';
import { ROOT, runAction } from '../harness.js';
import { inspector, onHost } from './helpers.js';

let sb: Sandbox;
let pool: SshPool;
let mnt: string;
const mounts: string[] = [];
const APP_DIR = 'apps/shop-production';

function mountTmpfs(name: string, options: string): string {
  const dir = path.join(mnt, name);
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

beforeAll(async () => {
  sb = await startSandbox({ hosts: 2, isolated: true, images: ['1.0.0'] });
  pool = inspector(sb);
  mnt = mkdtempSync(path.join(os.tmpdir(), 'ops-hostchecks-'));
  execFileSync('chmod', ['755', mnt]);
  const d = await runAction('deploy', {
    inputs: {
      app: 'shop',
      ...sb.sshInputs(),
      'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml'),
      image: `${sb.images!.repo}:1.0.0`,
      version: '1.0.0',
      'health-url': 'http://127.0.0.1:8080/health',
      'health-interval': '250ms',
      'health-timeout': '20s',
      'github-deployment': 'false',
    },
    workspace: ROOT,
  });
  expect(d.main.errors).toEqual([]);
});

afterAll(async () => {
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
  if (mnt) rmSync(mnt, { recursive: true, force: true });
  await pool?.closeAll();
  await sb?.stop();
});

function check(hostChecks: string, extra: Record<string, string> = {}) {
  return runAction('healthcheck', { inputs: { ...sb.sshInputs(), 'host-checks': hostChecks, ...extra } }).then((r) => r.main);
}

function report(outputs: Record<string, string>): HostCheckReport[] {
  return JSON.parse(outputs['host-checks']!).hosts;
}

function outcome(outputs: Record<string, string>, host: SandboxHost, name: string): CheckOutcome {
  const h = report(outputs).find((r) => r.host === host.spec)!;
  return h.checks.find((c) => c.check === name)!;
}

/** Used % of memory as /proc/meminfo says, the way the check computes it. */
function memoryUsedPct(): number {
  const m = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(m)![1]);
  return ((kb('MemTotal') - kb('MemAvailable')) * 100) / kb('MemTotal');
}

describe('host checks (healthcheck host-checks)', () => {
  it('a healthy fleet: every check ok on every host, values as the host reports them, a host × check table', async () => {
    const roomy = mountTmpfs('roomy', 'size=8m,nr_inodes=1000,mode=755');
    const r = await check([`disk ${roomy}=90%`, `inodes ${roomy}=90%`, 'disk /=99.9%', 'memory=99.9%', 'load=1000', 'process=sshd', 'containers=2s', 'time-sync=2s'].join('\n'), { app: 'shop' });
    expect(r.errors).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.outputs.healthy).toBe('true');
    const hosts = report(r.outputs);
    expect(hosts.map((h) => h.host)).toEqual(sb.hosts.map((h) => h.spec));
    for (const h of hosts) {
      expect(h.checks.map((c) => [c.check, c.verdict])).toEqual([
        [`disk ${roomy}`, 'ok'],
        [`inodes ${roomy}`, 'ok'],
        ['disk /', 'ok'],
        ['memory', 'ok'],
        ['load', 'ok'],
        ['process', 'ok'],
        ['containers', 'ok'],
        ['time-sync', 'ok'],
      ]);
      // An empty tmpfs of 8 MiB: nothing used, all of it free.
      expect(h.checks[0]).toMatchObject({ measured: 0, threshold: 90, value: '0% used (8.0 MiB free)' });
      expect(Math.abs(h.checks[3]!.measured! - memoryUsedPct())).toBeLessThan(3);
      expect(h.checks[6]!.value).toMatch(/^1\/1 running \(release \d{8}T\d{6}Z-1\.0\.0\)$/);
      expect(Math.abs(h.checks[7]!.measured!)).toBeLessThan(1000);
    }
    expect(r.summary).toContain('## Host checks: ✅ healthy');
    expect(r.summary).toContain(`| host | \`disk ${roomy}\` | \`inodes ${roomy}\` | \`disk /\` | \`memory\` | \`load\` | \`process\` | \`containers\` | \`time-sync\` |`);
    expect(r.summary).toContain(`| \`${sb.hosts[1]!.spec}\` | ✅ 0% used`);
  });

  it('thresholds crossed: a full mount, its inodes, memory and load over their limits, a missing process; the other mount passes', async () => {
    const full = mountTmpfs('full', 'size=4m,nr_inodes=64,mode=755');
    const empty = mountTmpfs('empty', 'size=4m,mode=755');
    writeFileSync(path.join(full, 'big'), Buffer.alloc(3_900_000));
    for (let i = 0; i < 60; i++) writeFileSync(path.join(full, `f${i}`), '');
    // A CPU kept busy for 6 s raises the 1-minute load average well above 0.01 per core.
    const busy = spawn('sh', ['-c', 'end=$(( $(date +%s) + 6 )); while [ "$(date +%s)" -lt "$end" ]; do :; done']);
    await new Promise((r) => busy.on('exit', r));
    const memLimit = Math.max(0.1, Math.floor((memoryUsedPct() / 2) * 10) / 10);
    const reportPath = path.join(mnt, 'report.md');
    const r = await check([`disk ${full}=90%`, `disk ${empty}=90%`, `inodes ${full}=90%`, `memory=${memLimit}%`, 'load 1m=0.01', 'process=sshd,no-such-daemon'].join('\n'), {
      'report-path': reportPath,
    });
    expect(r.exitCode).toBe(1);
    // report-path: the summary's markdown, written although the step fails (the monitor workflow's issue body).
    expect(r.outputs['report-path']).toBe(reportPath);
    expect(readFileSync(reportPath, 'utf8').trim()).toBe(r.summary.trim());
    expect(r.outputs.healthy).toBe('false');
    for (const h of sb.hosts) {
      const disk = outcome(r.outputs, h, `disk ${full}`);
      expect(disk.verdict).toBe('fail');
      expect(disk.measured).toBeGreaterThan(90);
      expect(disk.detail).toContain(`disk of ${full} ${disk.measured}% used, above 90%`);
      expect(outcome(r.outputs, h, `disk ${empty}`)).toMatchObject({ verdict: 'ok', measured: 0 });
      const inodes = outcome(r.outputs, h, `inodes ${full}`);
      expect(inodes.verdict).toBe('fail');
      expect(inodes.measured).toBeGreaterThan(90);
      expect(outcome(r.outputs, h, 'memory')).toMatchObject({ verdict: 'fail', threshold: memLimit });
      const load = outcome(r.outputs, h, 'load 1m');
      expect(load.verdict).toBe('fail');
      expect(load.measured).toBeGreaterThan(0.01);
      expect(outcome(r.outputs, h, 'process')).toMatchObject({ verdict: 'fail', detail: 'no process named no-such-daemon is running (names as ps -o comm shows them)' });
      expect(outcome(r.outputs, h, 'process').value).toMatch(/^sshd ×\d+, no-such-daemon ×0$/);
    }
    // The step's error names each host and each failed check.
    const msg = r.errors.join('\n');
    for (const h of sb.hosts) {
      expect(msg).toContain(`host ${h.spec}: disk ${full}: disk of ${full}`);
      expect(msg).toContain(`host ${h.spec}: process: no process named no-such-daemon`);
    }
    expect(msg).not.toContain(`disk ${empty}`);
    expect(r.summary).toContain('## Host checks: ❌ 2 of 2 host(s) failed');
    // The summary lists each failure under its host and check (its text Markdown-escaped).
    expect(r.summary).toContain(`- ❌ \`${sb.hosts[0]!.spec}\` \`inodes ${full}\`: inodes of `);
    expect(r.summary).toMatch(/% used, above 90%: remove small files/);
  });

  it('containers: a stopped container fails its host only; a container restarting in a loop fails too', async () => {
    const [h1, h2] = sb.hosts as [SandboxHost, SandboxHost];
    const project = JSON.parse(await onHost(pool, h1, 'cat "$HOME/$1/current/release.json"', APP_DIR)).project as string;
    const web = (await onHost(pool, h1, 'docker ps -q --filter "label=com.docker.compose.project=$1"', project)).trim();
    expect(web).not.toBe('');
    await onHost(pool, h1, 'docker stop -t 1 "$1" >/dev/null', web);
    // On the second host, a container of the project whose process exits at once, restarted by Docker.
    await onHost(
      pool,
      h2,
      'docker run -d --name flaky --restart always --network host --label com.docker.compose.project="$1" --label com.docker.compose.service=flaky "$2" >/dev/null',
      project,
      `${sb.images!.repo}:crash`,
    );
    try {
      const r = await check('containers=3s', { app: 'shop' });
      expect(r.exitCode).toBe(1);
      const c1 = outcome(r.outputs, h1, 'containers');
      expect(c1).toMatchObject({ verdict: 'fail', value: expect.stringMatching(/^0\/1 running/) });
      expect(c1.detail).toMatch(/_web_1 is exited with code \d+/);
      const c2 = outcome(r.outputs, h2, 'containers');
      expect(c2.verdict).toBe('fail');
      expect(c2.detail).toMatch(/flaky (is restarting|restarted \d+ time\(s\) in 3\.0s|is exited)/);
      expect(c2.detail).not.toMatch(/_web_1/);
    } finally {
      await onHost(pool, h1, 'docker start "$1" >/dev/null', web);
      await onHost(pool, h2, 'docker rm -f flaky >/dev/null');
    }
    const again = await check('containers=1s', { app: 'shop' });
    expect(again.errors).toEqual([]);
  });

  it('reboot-required warns (the step passes) or fails, naming the packages', async () => {
    const flag = '/run/reboot-required';
    const had = existsSync(flag);
    if (!had) {
      writeFileSync(flag, '*** System restart required ***\n');
      writeFileSync(`${flag}.pkgs`, 'libc6\nlinux-image-6.1.0-99-amd64\n');
    }
    try {
      const warn = await check('reboot-required');
      expect(warn.exitCode).toBe(0);
      expect(outcome(warn.outputs, sb.hosts[0]!, 'reboot-required')).toMatchObject({ verdict: 'warn' });
      if (!had) expect(outcome(warn.outputs, sb.hosts[0]!, 'reboot-required').value).toBe('required (libc6, linux-image-6.1.0-99-amd64)');
      expect(warn.log).toMatch(/::warning::host .*: reboot-required: a reboot is required/);
      expect(warn.summary).toContain('⚠️');
      const fail = await check('reboot-required=fail');
      expect(fail.exitCode).toBe(1);
      expect(fail.errors.join('\n')).toContain('reboot-required: a reboot is required');
    } finally {
      if (!had) {
        rmSync(flag, { force: true });
        rmSync(`${flag}.pkgs`, { force: true });
      }
    }
    const clear = await check('reboot-required=fail');
    if (!had) expect(clear.exitCode).toBe(0);
  });

  it('time-sync: a host whose clock runs 120 s ahead fails with the measured offset; the other passes', async () => {
    const h = sb.hosts[1]!;
    const lib = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
    expect(existsSync(lib), 'faketime (sandbox/debian-packages.txt) is installed').toBe(true);
    const saved = [...h.sshdExtra];
    h.sshdExtra.push(`SetEnv LD_PRELOAD=${lib} FAKETIME=+120`);
    await stopSshd(h);
    await startSshd(h);
    await pool.closeAll();
    try {
      const r = await check('time-sync=5s');
      expect(r.exitCode).toBe(1);
      const off = outcome(r.outputs, h, 'time-sync');
      expect(off.verdict).toBe('fail');
      expect(Math.abs(off.measured! - 120_000)).toBeLessThan(2000);
      expect(off.value).toMatch(/^\+1[12]\d\.\ds \(±\d+ms\)$/);
      expect(off.detail).toContain("off the runner's, beyond ±5.0s");
      expect(outcome(r.outputs, sb.hosts[0]!, 'time-sync').verdict).toBe('ok');
    } finally {
      h.sshdExtra = saved;
      await stopSshd(h);
      await startSshd(h);
      await pool.closeAll();
    }
  });

  it('bad inputs are refused before connecting, naming the input', async () => {
    const none = await runAction('healthcheck', { inputs: { ...sb.sshInputs() } }).then((r) => r.main);
    expect(none.exitCode).toBe(1);
    expect(none.errors.join('\n')).toMatch(/url.*is required but was not set.*host-checks/);
    const noApp = await check('containers');
    expect(noApp.errors.join('\n')).toMatch(/host-checks.*'containers' checks the app's current release: set 'app'/);
    const typo = await check('disk /=90\nmemory=90%');
    expect(typo.errors.join('\n')).toMatch(/host-checks.*line 1 \('disk \/=90'\): '90' is not a percentage; write e.g. 90%/);
    const noKey = await runAction('healthcheck', { inputs: { hosts: sb.hostsInput(), 'host-checks': 'memory=90%', 'insecure-ignore-host-key': 'true' } }).then((x) => x.main);
    expect(noKey.errors.join('\n')).toMatch(/ssh-key/);
  });
});
