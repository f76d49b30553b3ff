/** Reading apt's, dpkg's and needrestart's answers (their real output, from a Debian 12 host). */
import { describe, expect, it } from 'vitest';
import { dpkgLockHolder, parseAfterUpgrade, parseLockHolders, parseInstalled, parseSimulation, selectUpgrades } from '../../src/maintenance/plan.js';
import { aptApplyCommand, aptSimulateCommand } from '../../src/commands/apt.js';
import { render } from '../../src/shell/index.js';

const SIM = `NOTE: This is only a simulation!
Reading package lists...
Inst libperl5.36 [5.36.0-7+deb12u3] (5.36.0-7+deb12u4 Debian-Security:12/oldstable-security [amd64]) [perl:amd64 ]
Inst tzdata [2026b-0+deb12u1] (2026f-0+deb12u1 Debian:12.13/oldstable, Debian-Security:12/oldstable-security [all])
Inst libssl3 [3.0.20-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])
Inst base-files [12.4+deb12u15] (12.4+deb12u16 Debian:12.14/oldstable [amd64])
Inst libfoo1:i386 (1.0-1 Debian:12.14/oldstable [i386])
Inst libbar2 [2.0-1] (2.0-1+deb12u1 Local mirror:bookworm-security [amd64])
Conf libssl3 (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])
`;

describe('apt simulation', () => {
  it('reads each Inst line: package, installed and new version, the suites offering it', () => {
    const p = parseSimulation(SIM);
    expect(p.map((x) => [x.package, x.from, x.to, x.security])).toEqual([
      ['libperl5.36', '5.36.0-7+deb12u3', '5.36.0-7+deb12u4', true],
      ['tzdata', '2026b-0+deb12u1', '2026f-0+deb12u1', true],
      ['libssl3', '3.0.20-1~deb12u2', '3.0.22-1~deb12u2', true],
      ['base-files', '12.4+deb12u15', '12.4+deb12u16', false],
      ['libfoo1', '', '1.0-1', false],
      ['libbar2', '2.0-1', '2.0-1+deb12u1', true],
    ]);
    expect(p[1]!.suites).toEqual(['oldstable', 'oldstable-security']);
  });

  it('security mode takes only security updates; exclude leaves packages out in every mode', () => {
    const p = parseSimulation(SIM);
    const s = selectUpgrades(p, 'security', ['tzdata']);
    expect(s.selected.map((x) => x.package)).toEqual(['libperl5.36', 'libssl3', 'libbar2']);
    expect(s.excluded.map((x) => x.package)).toEqual(['tzdata']);
    expect(selectUpgrades(p, 'full', ['base-files']).selected.map((x) => x.package)).toEqual(['libperl5.36', 'tzdata', 'libssl3', 'libfoo1', 'libbar2']);
  });

  it('applies non-interactively, keeping changed config files, waiting a bound for the dpkg lock', () => {
    expect(render(aptApplyCommand('security', 300, ['libssl3', 'openssl']))).toMatchInlineSnapshot(
      `"env 'LC_ALL=C' 'DEBIAN_FRONTEND=noninteractive' 'NEEDRESTART_MODE=l' 'APT_LISTCHANGES_FRONTEND=none' apt-get -q -o 'Dpkg::Use-Pty=0' -y -o 'DPkg::Lock::Timeout=300' -o 'Dpkg::Options::=--force-confdef' -o 'Dpkg::Options::=--force-confold' install --only-upgrade -- libssl3 openssl"`,
    );
    expect(render(aptApplyCommand('dist', 60, []))).toMatchInlineSnapshot(
      `"env 'LC_ALL=C' 'DEBIAN_FRONTEND=noninteractive' 'NEEDRESTART_MODE=l' 'APT_LISTCHANGES_FRONTEND=none' apt-get -q -o 'Dpkg::Use-Pty=0' -y -o 'DPkg::Lock::Timeout=60' -o 'Dpkg::Options::=--force-confdef' -o 'Dpkg::Options::=--force-confold' dist-upgrade"`,
    );
    expect(render(aptSimulateCommand('full'))).toMatchInlineSnapshot(
      `"env 'LC_ALL=C' 'DEBIAN_FRONTEND=noninteractive' 'NEEDRESTART_MODE=l' 'APT_LISTCHANGES_FRONTEND=none' apt-get -q -o 'Dpkg::Use-Pty=0' -s -o 'Debug::NoLocking=1' upgrade"`,
    );
  });
});

describe('after the upgrade', () => {
  it('dpkg-query: only installed packages', () => {
    expect([...parseInstalled('libssl3\t3.0.22-1~deb12u2\tii \nold\t1.0\trc \n')]).toEqual([['libssl3', '3.0.22-1~deb12u2']]);
  });

  it('reboot-required, its packages, needrestart services and kernel status', () => {
    const r = parseAfterUpgrade(
      'REBOOT-REQUIRED: yes\nREBOOT-PKG: libc6\nNEEDRESTART: yes\nNEEDRESTART-VER: 3.6\nNEEDRESTART-KCUR: 6.1.0-18-amd64\nNEEDRESTART-KEXP: 6.1.0-21-amd64\nNEEDRESTART-KSTA: 3\nNEEDRESTART-SVC: ssh.service\nNEEDRESTART-SVC: cron.service\n',
    );
    expect(r).toMatchObject({ rebootRequired: true, needrestart: true, services: ['ssh.service', 'cron.service'], kernelStatus: 3 });
    expect(r.rebootReasons).toEqual(['libc6', 'a newer kernel is installed than the one running']);
    expect(parseAfterUpgrade('NEEDRESTART: yes\nNEEDRESTART-KSTA: 1\n').rebootRequired).toBe(false);
    expect(parseAfterUpgrade('NEEDRESTART: no\n')).toMatchObject({ rebootRequired: false, needrestart: false, services: [] });
  });

  it("names the dpkg lock's holder as apt does", () => {
    expect(
      dpkgLockHolder(
        'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?',
      ),
    ).toBe('process 4242 (apt-get) holds /var/lib/dpkg/lock-frontend');
    expect(dpkgLockHolder('E: Unable to locate package nope')).toBeUndefined();
  });

  it("finds the holder of a lock in the kernel's lock table when apt did not name it (this machine's sh and /proc/locks)", async () => {
    const { spawn, execFileSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { lockHoldersCommand } = await import('../../src/commands/apt.js');
    const dir = mkdtempSync(join(tmpdir(), 'locks-'));
    const [held, free] = [join(dir, 'lock-frontend'), join(dir, 'lock')];
    writeFileSync(free, '');
    // dpkg and apt lock with fcntl record locks, as lockf does.
    const holder = spawn('python3', ['-c', 'import fcntl,sys,time; f=open(sys.argv[1],"w"); fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(30)', held]);
    try {
      await new Promise<void>((res, rej) => {
        holder.stdout.once('data', () => res());
        holder.once('exit', () => rej(new Error('the lock holder exited')));
      });
      const c = lockHoldersCommand([held, free, join(dir, 'missing')]);
      const out = execFileSync(String(c[0]), c.slice(1).map(String), { encoding: 'utf8' });
      expect(out.trim()).toBe(`HOLDER: ${held} ${holder.pid} python3`);
      expect(parseLockHolders(out)).toBe(`process ${holder.pid} (python3) holds ${held}`);
    } finally {
      holder.kill();
    }
    expect(parseLockHolders('HOLDER: /l -1 \nHOLDER: /m 5 apt-get\nHOLDER: /n 5 apt-get\n')).toBe('an open file description lock holds /l; process 5 (apt-get) holds /m');
    expect(parseLockHolders('')).toBeUndefined();
  });
});

describe('{host} in health URLs', () => {
  it('stands for each host in the URL host only, never in its path', async () => {
    const { parseUrls, urlFor } = await import('../../src/health/spec.js');
    const [u] = parseUrls('https://{host}:8443/health?x={host}');
    expect(urlFor(u!, '10.0.0.5').href).toBe('https://10.0.0.5:8443/health?x={host}');
    expect(urlFor(u!, '2001:db8::1').host).toBe('[2001:db8::1]:8443');
    expect(() => urlFor(u!, 'bad host')).toThrow(/cannot put host address 'bad host'/);
    expect(parseUrls('http://127.0.0.1:8080/health')[0]!.href).toBe('http://127.0.0.1:8080/health');
  });
});
