import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostFactsCommand } from '../../src/commands/index.js';
import { render } from '../../src/shell/index.js';
import { clockOffset, factsFor, judgeContainers, judgeFact, parseFacts, parseHostChecks, type HostCheck } from '../../src/health/host-checks.js';
import { parseContainers } from '../../src/host/containers.js';
import { hostChecksSummary } from '../../src/report/host-checks.js';

describe('host-checks input', () => {
  it('parses every kind, with defaults', () => {
    const checks = parseHostChecks(
      [
        'disk /=90%',
        'disk /var/lib/docker=85.5%',
        '# a comment',
        '',
        'inodes /=80%',
        'memory=95%',
        'load=2.0',
        'load 1m=4',
        'systemd=nginx, postgresql@15-main',
        'process=nginx,postgres',
        'containers',
        'reboot-required',
        'time-sync=500ms',
      ].join('\n'),
    );
    expect(checks.map((c) => c.label)).toEqual(['disk /', 'disk /var/lib/docker', 'inodes /', 'memory', 'load', 'load 1m', 'systemd', 'process', 'containers', 'reboot-required', 'time-sync']);
    expect(checks[1]).toMatchObject({ kind: 'disk', path: '/var/lib/docker', limitPct: 85.5 });
    expect(checks[4]).toMatchObject({ kind: 'load', window: '5m', limitPerCore: 2 });
    expect(checks[6]).toMatchObject({ units: ['nginx', 'postgresql@15-main'] });
    expect(checks[8]).toMatchObject({ windowMs: 10_000 });
    expect(checks[9]).toMatchObject({ severity: 'warn' });
    expect(checks[10]).toMatchObject({ maxOffsetMs: 500 });
    expect(parseHostChecks('time-sync\ncontainers=0s\nreboot-required=fail')).toMatchObject([{ maxOffsetMs: 1000 }, { windowMs: 0 }, { severity: 'fail' }]);
  });

  it.each([
    ['disk=90%', /line 1 \('disk=90%'\): disk needs an absolute path/],
    ['disk /', /disk needs a limit/],
    ['disk /=90', /'90' is not a percentage/],
    ['memory=120%', /120% is not between 0% and 100%/],
    ['load 10m=2', /1m, 5m or 15m/],
    ['load=-1', /positive number per core/],
    ['systemd=', /systemd needs unit names/],
    ['systemd=a;b', /'a;b' is not a valid name/],
    ['process=a-very-long-process-name', /not a valid name/],
    ['reboot-required=maybe', /=warn or =fail/],
    ['disks /=90%', /unknown check 'disks'; the checks are disk/],
    ['memory=90%\nmemory=80%', /line 2 .*memory is checked twice/],
    ['memory /=90%', /memory takes no argument/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseHostChecks(raw)).toThrow(message);
  });

  it('asks the host for each fact once', () => {
    const checks = parseHostChecks('disk /=90%\ninodes /=90%\nload=1\nload 15m=1\nsystemd=a,b\nprocess=x\ncontainers\ntime-sync');
    expect(factsFor(checks)).toEqual(['disk:/', 'inodes:/', 'load', 'systemd:a', 'systemd:b', 'process:x', 'ntp']);
  });
});

describe('the facts command', () => {
  it('is a constant script with the facts as positional parameters', () => {
    const c = hostFactsCommand(['disk:/a b', "process:$(touch /tmp/x)'"]);
    expect(c.slice(-3)).toEqual(['ops', 'disk:/a b', "process:$(touch /tmp/x)'"]);
    expect(render(c)).toContain(`'disk:/a b'`);
  });

  it("answers each fact in a section of its own (run by this machine's sh)", () => {
    const c = hostFactsCommand(['disk:/', 'inodes:/', 'memory', 'load', 'process:no-such-proc', 'reboot', 'disk:/no/such/path']);
    const facts = parseFacts(execFileSync(String(c[0]), c.slice(1).map(String), { encoding: 'utf8' }));
    expect([...facts.keys()]).toEqual(['disk:/', 'inodes:/', 'memory', 'load', 'process:no-such-proc', 'reboot', 'disk:/no/such/path']);
    expect(facts.get('disk:/')![0]).toMatch(/^Filesystem\s+1024-blocks/);
    expect(facts.get('memory')!.some((l) => l.startsWith('MemAvailable:'))).toBe(true);
    expect(facts.get('process:no-such-proc')).toEqual(['0']);
    expect(facts.get('disk:/no/such/path')!.join(' ')).toMatch(/No such file or directory/);
  });

  it('takes every argument literally: backslashes, $(), and regex characters in a process name; its own shell is not counted', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facts-'));
    try {
      const marker = path.join(dir, 'pwned');
      const c = hostFactsCommand([`process:$(touch ${marker})`, 'systemd:a\\b\\c', 'process:s.', 'process:sh']);
      const out = execFileSync(String(c[0]), c.slice(1).map(String), { encoding: 'utf8' });
      expect(existsSync(marker)).toBe(false);
      const facts = parseFacts(out);
      expect([...facts.keys()]).toEqual([`process:$(touch ${marker})`, 'systemd:a\\b\\c', 'process:s.', 'process:sh']);
      // 's.' is not a pattern for 'sh' (nor for the script's own shell).
      expect(facts.get('process:s.')).toEqual(['0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const check = (line: string) => parseHostChecks(line)[0]!;

describe('judging facts', () => {
  // What a sandbox host cannot show (systemd, a filesystem without an inode limit, an
  // unsynchronized NTP client), on facts as the tools print them.
  const judge = (line: string, facts: Record<string, string[]>, clock?: Parameters<typeof judgeFact>[2]) =>
    judgeFact(check(line) as Parameters<typeof judgeFact>[0], new Map(Object.entries(facts)), clock);
  const df = (fs: string, cols: string, mount: string) => ['Filesystem 1024-blocks Used Available Capacity Mounted on', `${fs} ${cols} ${mount}`];

  it('disk: the use of the filesystem holding the path, by used / (used + available) as df computes it', () => {
    expect(judge('disk /mnt/my data=50%', { 'disk:/mnt/my data': df('/dev/sdb1', '1000 600 400 60%', '/mnt/my data') })).toMatchObject({
      verdict: 'fail',
      measured: 60,
      threshold: 50,
      value: '60% used (400 KiB free)',
    });
    expect(judge('disk /var/log=90%', { 'disk:/var/log': df('/dev/vda', '264212084 24031828 82359084 23%', '/') })).toMatchObject({ verdict: 'ok', value: '22.6% used (78.5 GiB free) (on /)' });
    expect(judge('disk /x=90%', { 'disk:/x': ['df: /x: No such file or directory'] })).toMatchObject({ verdict: 'error', detail: 'cannot read /x: df: /x: No such file or directory' });
  });

  it('inodes: a filesystem without an inode limit passes', () => {
    expect(judge('inodes /=90%', { 'inodes:/': ['Filesystem Inodes IUsed IFree IUse% Mounted on', 'btrfs 0 0 0 - /'] })).toMatchObject({ verdict: 'ok', value: 'no inode limit' });
  });

  it('memory and load', () => {
    expect(judge('memory=50%', { memory: ['MemTotal: 1000 kB', 'MemAvailable: 400 kB'] })).toMatchObject({ verdict: 'fail', measured: 60 });
    expect(judge('memory=50%', { memory: ['MemTotal: 1000 kB'] })).toMatchObject({ verdict: 'error' });
    expect(judge('load=1.0', { load: ['3.00 2.50 1.00 2/300 999', '2'] })).toMatchObject({ verdict: 'fail', measured: 1.25, value: '1.25 per core (2.5 over 2 cores, 5m)' });
    expect(judge('load 15m=1.0', { load: ['3.00 2.50 1.00 2/300 999', '2'] })).toMatchObject({ verdict: 'ok', measured: 0.5 });
  });

  it('systemd: every unit active; a unit that does not exist or failed names itself', () => {
    const unit = (load: string, active: string, sub: string) => [`LoadState=${load}`, `ActiveState=${active}`, `SubState=${sub}`];
    expect(judge('systemd=nginx,pg', { 'systemd:nginx': unit('loaded', 'active', 'running'), 'systemd:pg': unit('loaded', 'active', 'exited') })).toMatchObject({
      verdict: 'ok',
      value: 'nginx active (running), pg active (exited)',
    });
    const bad = judge('systemd=nginx,nope', { 'systemd:nginx': unit('loaded', 'failed', 'failed'), 'systemd:nope': unit('not-found', 'inactive', 'dead') });
    expect(bad).toMatchObject({ verdict: 'fail' });
    expect(bad.detail).toBe('nginx is failed: see systemctl status nginx and journalctl -u nginx -n 50; unit nope does not exist on the host');
    expect(judge('systemd=nginx', { 'systemd:nginx': ['no-systemd'] })).toMatchObject({ verdict: 'error', detail: expect.stringContaining('process=<name>') });
  });

  it('reboot-required warns or fails as asked, naming the packages', () => {
    const facts = { reboot: ['required', 'linux-image-6.1.0-27-amd64', 'libc6', 'libc6'] };
    expect(judge('reboot-required', facts)).toMatchObject({ verdict: 'warn', value: 'required (linux-image-6.1.0-27-amd64, libc6)' });
    expect(judge('reboot-required=fail', facts)).toMatchObject({ verdict: 'fail' });
    expect(judge('reboot-required=fail', { reboot: ['not-required'] })).toMatchObject({ verdict: 'ok' });
  });

  it('time-sync fails only an offset beyond the bound whatever the round trip, and warns when NTP is off', () => {
    const at = (offset: number, rtt: number) => ({ samples: [{ sentMs: 1000, receivedMs: 1000 + rtt, hostMs: 1000 + rtt / 2 + offset }], secondsOnly: false });
    expect(judge('time-sync=1s', { ntp: ['yes'] }, at(1500, 10))).toMatchObject({ verdict: 'fail', measured: 1500 });
    expect(judge('time-sync=1s', { ntp: ['yes'] }, at(-1500, 10))).toMatchObject({ verdict: 'fail', measured: -1500 });
    expect(judge('time-sync=1s', { ntp: ['yes'] }, at(1100, 400))).toMatchObject({ verdict: 'ok' });
    expect(judge('time-sync=1s', { ntp: ['no'] }, at(20, 10))).toMatchObject({ verdict: 'warn', detail: expect.stringContaining('NTP not synchronized') });
    expect(judge('time-sync=1s', {}, { samples: [], secondsOnly: false })).toMatchObject({ verdict: 'error' });
  });

  it('time-sync warns when the reading cannot tell (uncertainty at least the bound); a whole-second clock is centred, ±500ms', () => {
    const at = (offset: number, rtt: number, secondsOnly = false) => ({ samples: [{ sentMs: 1000, receivedMs: 1000 + rtt, hostMs: 1000 + rtt / 2 + offset }], secondsOnly });
    expect(judge('time-sync=100ms', { ntp: ['yes'] }, at(150, 400))).toMatchObject({ verdict: 'warn', detail: expect.stringContaining('cannot tell') });
    expect(judge('time-sync=100ms', { ntp: ['yes'] }, at(400, 100))).toMatchObject({ verdict: 'fail' });
    // Read in whole seconds: a host exactly on time reads up to 1 s behind; +500 centres it.
    expect(judge('time-sync=2s', { ntp: ['yes'] }, at(-500, 10, true))).toMatchObject({ verdict: 'ok', measured: 0, value: expect.stringContaining('±505ms') });
    expect(judge('time-sync=500ms', { ntp: ['yes'] }, at(-500, 10, true))).toMatchObject({ verdict: 'warn' });
    expect(judge('time-sync=2s', { ntp: ['yes'] }, at(3000, 10, true))).toMatchObject({ verdict: 'fail' });
  });

  it('refuses process names that are patterns or paths', () => {
    expect(() => parseHostChecks('process=php-fpm8.2,nginx')).not.toThrow();
    for (const bad of ['process=ng[inx', 'process=a|b', 'process=*', 'process=/usr/sbin/nginx']) expect(() => parseHostChecks(bad), bad).toThrow(/process/);
  });
});

describe('containers', () => {
  const c = check('containers=10s') as Extract<HostCheck, { kind: 'containers' }>;
  const rel = { id: 'R1', project: 'shop-production', services: ['web', 'worker'] };
  const s = (rows: string) => parseContainers(rows);
  const ok = 'web|False|/shop_web_1|running|0|0|unless-stopped|healthy\nworker|False|/shop_worker_1|running|0|0|unless-stopped|';

  it('passes running and healthy containers', () => {
    expect(judgeContainers(c, rel, s(ok), s(ok))).toMatchObject({ verdict: 'ok', value: '2/2 running (release R1)' });
  });

  it.each([
    ['stopped', ok.replace('/shop_worker_1|running|0|0|', '/shop_worker_1|exited|0|137|'), /shop_worker_1 is exited with code 137/],
    ['restarting', ok.replace('/shop_worker_1|running', '/shop_worker_1|restarting'), /shop_worker_1 is restarting/],
    ['unhealthy', ok.replace('running|0|0|unless-stopped|healthy', 'running|0|0|unless-stopped|unhealthy'), /shop_web_1 reports its Docker healthcheck unhealthy/],
    ['missing', ok.split('\n')[0]!, /service worker has no container/],
  ])('fails a %s container', (_, after, detail) => {
    expect(judgeContainers(c, rel, s(ok), s(after))).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(detail) });
  });

  it('warns (does not fail) a healthcheck still starting, or a container replaced during the check (a deploy)', () => {
    const starting = ok.replace('running|0|0|unless-stopped|healthy', 'running|0|0|unless-stopped|starting');
    expect(judgeContainers(c, rel, s(ok), s(starting))).toMatchObject({ verdict: 'warn', detail: expect.stringContaining("shop_web_1's Docker healthcheck is still starting") });
    const replaced = ok.replace('/shop_web_1|', '/shop_web_2|');
    expect(judgeContainers(c, rel, s(ok), s(replaced))).toMatchObject({ verdict: 'warn', detail: expect.stringContaining('shop_web_2 appeared during the check') });
    // A real problem next to a passing state still fails.
    const both = starting.replace('/shop_worker_1|running|0|0|', '/shop_worker_1|exited|0|1|');
    expect(judgeContainers(c, rel, s(ok), s(both)).verdict).toBe('fail');
  });

  it('fails a restart count that grew within the window', () => {
    const later = ok.replace('/shop_worker_1|running|0|', '/shop_worker_1|running|2|');
    expect(judgeContainers(c, rel, s(ok), s(later)).detail).toMatch(/shop_worker_1 restarted 2 time\(s\) in 10s/);
  });

  it('fails a project with no container', () => {
    expect(judgeContainers(c, { ...rel, services: [] }, [], []).detail).toMatch(/no container of project shop-production exists/);
  });
});

describe('clock offset', () => {
  it('takes the sample with the shortest round trip', () => {
    expect(
      clockOffset([
        { sentMs: 1000, receivedMs: 1100, hostMs: 1200 },
        { sentMs: 2000, receivedMs: 2010, hostMs: 2305 },
      ]),
    ).toEqual({ offsetMs: 300, uncertaintyMs: 5 });
    expect(clockOffset([])).toBeUndefined();
  });
});

describe('summary', () => {
  it('is a host × check table with a limit row and the problems listed', () => {
    const md = hostChecksSummary({
      healthy: false,
      failures: [],
      warnings: [],
      hosts: [
        {
          host: 'web1',
          healthy: true,
          checks: [
            { check: 'disk /', verdict: 'ok', value: '42% used', limit: '90%' },
            { check: 'reboot-required', verdict: 'warn', value: 'required (libc6)', limit: 'not required (warn)', detail: 'a reboot is required by libc6' },
          ],
        },
        {
          host: 'web2',
          healthy: false,
          checks: [
            { check: 'disk /', verdict: 'fail', value: '95% used', limit: '90%', detail: 'disk of / 95% used, above 90%' },
            { check: 'reboot-required', verdict: 'ok', value: 'not required', limit: 'not required (warn)' },
          ],
        },
      ],
    });
    expect(md).toContain('## Host checks: ❌ 1 of 2 host(s) failed');
    expect(md).toContain('| host | `disk /` | `reboot-required` |');
    expect(md).toContain('| `web2` | ❌ 95% used | ✅ not required |');
    expect(md).toContain('| *limit* | 90% | not required \\(warn\\) |');
    expect(md).toContain('- ❌ `web2` `disk /`: disk of / 95% used, above 90%');
    expect(md).toContain('- ⚠️ `web1` `reboot-required`: a reboot is required by libc6');
  });
});
