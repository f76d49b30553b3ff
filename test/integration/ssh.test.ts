import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { makeHostKeys, startSshd, stopSshd } from '../../sandbox/hosts.js';
import { sleep } from '../../sandbox/procs.js';
import { SshSession, type SshOptions } from '../../src/ssh/session.js';
import { SshPool } from '../../src/ssh/pool.js';
import { SshError } from '../../src/ssh/errors.js';
import { Fingerprints, KnownHosts } from '../../src/ssh/hostkeys.js';
import { parsePrivateKey } from '../../src/ssh/keys.js';
import { LineLogger } from '../../src/log.js';
import { forEachHost } from '../../src/fleet/run.js';
import { userScript } from '../../src/shell/index.js';
import type { Target } from '../../src/fleet/targets.js';

let sb: Sandbox;
let hosts: SandboxHost[];

beforeAll(async () => {
  sb = await startSandbox({ hosts: 11 });
  hosts = sb.hosts;
});
afterAll(async () => {
  await sb?.stop();
});

const target = (h: SandboxHost): Target => ({ name: h.name, host: h.address, port: h.port, user: h.user });

function options(o: Partial<SshOptions> & { lines?: string[] } = {}): SshOptions {
  const lines = o.lines ?? [];
  return {
    key: parsePrivateKey(sb.keys.ed25519.privateKey),
    hostKeys: { mode: 'known-hosts', knownHosts: KnownHosts.parse(sb.knownHosts()) },
    connectTimeoutMs: 5000,
    connectRetries: 0,
    commandTimeoutMs: 30_000,
    logger: new LineLogger((l) => lines.push(l), { debug: true }),
    retryBaseMs: 200,
    ...o,
  };
}

async function failure(p: Promise<unknown>): Promise<SshError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SshError);
    return e as SshError;
  }
  throw new Error('expected a failure');
}

describe('authentication', () => {
  it.each(['ed25519', 'ecdsa', 'rsa'] as const)('logs in with an %s key', async (type) => {
    const s = await SshSession.connect(target(hosts[0]!), options({ key: parsePrivateKey(sb.keys[type].privateKey) }));
    expect((await s.run(['id', '-un'])).stdout.trim()).toBe(hosts[0]!.user);
    await s.close();
  });

  it('logs in with a passphrase-protected key', async () => {
    const k = sb.keys.encrypted;
    const s = await SshSession.connect(target(hosts[0]!), options({ key: parsePrivateKey(k.privateKey, k.passphrase) }));
    expect((await s.run(['id', '-un'])).stdout.trim()).toBe(hosts[0]!.user);
    await s.close();
  });

  it('names the user, key type and public key when the key is not authorized, without retrying', async () => {
    const lines: string[] = [];
    const key = parsePrivateKey(sb.keys.unauthorized.privateKey);
    const e = await failure(SshSession.connect(target(hosts[0]!), options({ key, connectRetries: 3, lines })));
    expect(e.kind).toBe('auth');
    expect(e.message).toContain(`authentication failed for user '${hosts[0]!.user}' with the ssh-ed25519 key ${key.fingerprint}`);
    expect(e.message).toContain(sb.keys.unauthorized.publicLine);
    expect(lines.join('\n')).not.toContain('retrying');
  });
});

describe('host keys', () => {
  it('verifies against known_hosts and against pinned fingerprints of every key type', async () => {
    const h = hosts[1]!;
    for (const k of h.hostKeys) {
      const kh = `[${h.address}]:${h.port} ${k.publicLine}\n`;
      const s1 = await SshSession.connect(target(h), options({ hostKeys: { mode: 'known-hosts', knownHosts: KnownHosts.parse(kh) } }));
      await s1.close();
      const s2 = await SshSession.connect(target(h), options({ hostKeys: { mode: 'fingerprints', fingerprints: Fingerprints.parse(`${h.name}=${k.fingerprint}`) } }));
      await s2.close();
    }
  });

  it('refuses to connect with no verification configured, printing the presented key as a known_hosts line', async () => {
    const h = hosts[1]!;
    const e = await failure(SshSession.connect(target(h), options({ hostKeys: { mode: 'none' } })));
    expect(e.kind).toBe('hostkey');
    expect(e.message).toMatch(/Set 'known-hosts' \(or 'host-fingerprints'\), or opt out with 'insecure-ignore-host-key: true'/);
    const printed = e.message.split('\n').pop()!.trim();
    expect(h.knownHosts).toContain(printed.split(' ').slice(1).join(' '));
    // The printed line is a working pin.
    const s = await SshSession.connect(target(h), options({ hostKeys: { mode: 'known-hosts', knownHosts: KnownHosts.parse(printed) } }));
    await s.close();
  });

  it('connects without verification only when opted out, and warns with the fingerprint', async () => {
    const lines: string[] = [];
    const s = await SshSession.connect(target(hosts[1]!), options({ hostKeys: { mode: 'insecure' }, lines }));
    await s.close();
    expect(lines.join('\n')).toMatch(/warning: host host02: host key NOT verified .* SHA256:/);
  });

  it('refuses a man in the middle: another sshd with other host keys on the same address', async () => {
    const h = hosts[2]!;
    await stopSshd(h);
    const alt = path.join(h.dir, 'impostor-keys');
    const impostor = await makeHostKeys(alt);
    await startSshd(h, alt);
    try {
      const e = await failure(SshSession.connect(target(h), options({ connectRetries: 2 })));
      expect(e.kind).toBe('hostkey');
      expect(e.message).toContain('HOST KEY MISMATCH');
      expect(e.message).toContain(h.hostKeys[0]!.fingerprint);
      expect(e.message).toContain(impostor.keys[0]!.fingerprint);
      const pinned = await failure(
        SshSession.connect(target(h), options({ hostKeys: { mode: 'fingerprints', fingerprints: Fingerprints.parse(h.hostKeys.map((k) => k.fingerprint).join('\n')) } })),
      );
      expect(pinned.message).toContain('HOST KEY MISMATCH');
      // Every key type the impostor offers was tried and named.
      for (const k of impostor.keys) expect(pinned.message).toContain(k.fingerprint);
    } finally {
      await stopSshd(h);
      await startSshd(h);
    }
  });
});

describe('proxy-jump', () => {
  it('reaches a host through a bastion, verifying both', async () => {
    const bastion = hosts[10]!;
    const pool = new SshPool(options({ proxyJump: { ...target(bastion) } }));
    try {
      const s = await pool.get(target(hosts[3]!));
      expect((await s.run(['id', '-un'])).stdout.trim()).toBe(hosts[3]!.user);
    } finally {
      await pool.closeAll();
    }
    const log = readFileSync(path.join(bastion.dir, 'sshd.log'), 'utf8');
    expect(log).toMatch(new RegExp(`direct-tcpip.*${hosts[3]!.address.replace(/\./g, '\\.')}.*${hosts[3]!.port}|${hosts[3]!.address.replace(/\./g, '\\.')} port ${hosts[3]!.port}`));
  });

  it('fails clearly when the bastion key is not pinned', async () => {
    const bastion = hosts[10]!;
    const kh = KnownHosts.parse(hosts[3]!.knownHosts);
    const pool = new SshPool(options({ proxyJump: target(bastion), hostKeys: { mode: 'known-hosts', knownHosts: kh } }));
    const e = await failure(pool.get(target(hosts[3]!)));
    expect(e.message).toMatch(/host host11 \(jump host\): its host key is not in 'known-hosts'/);
    await pool.closeAll();
  });
});

describe('commands', () => {
  it('returns exit code, stdout and stderr', async () => {
    const s = await SshSession.connect(target(hosts[4]!), options());
    const r = await s.exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    await s.close();
  });

  it('a failing line in a user script fails the step with host, exit code and stderr tail', async () => {
    const s = await SshSession.connect(target(hosts[4]!), options());
    const script = 'echo step one\nls /definitely/not/here\necho never > ~/never-written';
    const e = await failure(s.run(userScript(script), { step: 'pre-deploy' }));
    expect(e.kind).toBe('command');
    expect(e.message).toMatch(/^host host05: step 'pre-deploy' exited with code 2; last output:\n.*\/definitely\/not\/here/);
    expect((await s.exec(['test', '-e', `${hosts[4]!.home}/never-written`])).code).toBe(1);
    await s.close();
  });

  it('kills a command at its timeout, remote process group included', async () => {
    const s = await SshSession.connect(target(hosts[4]!), options());
    const marker = `ops-timeout-${Date.now()}`;
    const e = await failure(s.run(['sh', '-c', `sleep 300 # ${marker}`], { timeoutMs: 1500, step: 'migrate' }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toMatch(/step 'migrate' timed out after 1\.5s and was killed; raise 'command-timeout'/);
    const ps = await s.exec(['sh', '-c', 'ps -u "$(id -u)" -o args=']);
    expect(ps.stdout).not.toContain(marker);
    expect(ps.stdout).not.toMatch(/^sleep 300/m);
    await s.close();
  });

  it('retries connection errors with backoff until the port opens', async () => {
    const h = hosts[5]!;
    await stopSshd(h);
    const lines: string[] = [];
    const later = sleep(1200).then(() => startSshd(h));
    const s = await SshSession.connect(target(h), options({ connectRetries: 6, lines }));
    await later;
    expect((await s.run(['true'])).code).toBe(0);
    expect(lines.join('\n')).toMatch(/host host06: .*ECONNREFUSED.*; retrying in/);
    await s.close();
  });

  it('gives up after the retries with advice', async () => {
    const h = hosts[5]!;
    const e = await failure(SshSession.connect({ ...target(h), port: 1 }, options({ connectRetries: 1 })));
    expect(e.kind).toBe('connect');
    expect(e.message).toMatch(/gave up after 2 attempts; check that the host is up, that sshd listens on port 1/);
  });
});

describe('upload', () => {
  it('uploads files and trees with modes and symlinks; secret files are 0600', async () => {
    const local = mkdtempSync(path.join(os.tmpdir(), 'up-'));
    mkdirSync(path.join(local, 'bin'));
    writeFileSync(path.join(local, 'bin', 'run.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(path.join(local, 'bin', 'run.sh'), 0o750);
    writeFileSync(path.join(local, 'a b.txt'), 'space');
    symlinkSync('bin/run.sh', path.join(local, 'link'));
    const s = await SshSession.connect(target(hosts[6]!), options());
    const r = await s.upload(local, '~/release');
    expect(r.files).toBe(2);
    const st = await s.run(['sh', '-c', 'cd ~/release && stat -c "%a %n" bin/run.sh "a b.txt" && readlink link && ./link']);
    expect(st.stdout).toBe('750 bin/run.sh\n644 a b.txt\nbin/run.sh\nhi\n');
    await s.writeFile('~/release/.env', 'TOKEN=abc\n', 0o600);
    // A secret file that existed with wider permissions is narrowed before it is written.
    await s.run(['sh', '-c', 'echo old > ~/wide.env && chmod 644 ~/wide.env']);
    await s.writeFile('~/wide.env', 'TOKEN=def\n', 0o600);
    const modes = await s.run(['stat', '-c', '%a', `${hosts[6]!.home}/release/.env`, `${hosts[6]!.home}/wide.env`]);
    expect(modes.stdout).toBe('600\n600\n');
    await s.close();
  });
});

describe('fleet', () => {
  it('works on 10 hosts in parallel, one connection each, with a result per host', async () => {
    const ten = hosts.slice(0, 10);
    const pool = new SshPool(options());
    const spans: { start: number; end: number }[] = [];
    try {
      const rs = await forEachHost(
        ten.map(target),
        async (t) => {
          const s = await pool.get(t);
          const start = Date.now();
          await s.run(['sleep', '1']);
          const who = (await s.run(['id', '-un'])).stdout.trim();
          spans.push({ start, end: Date.now() });
          return who;
        },
        { maxParallel: 10, onFailure: 'continue' },
      );
      expect(rs.map((r) => r.status)).toEqual(Array(10).fill('succeeded'));
      expect(rs.map((r) => r.value)).toEqual(ten.map((h) => h.user));
      // All ten sleeps overlapped: each started before any finished.
      const firstEnd = Math.min(...spans.map((s) => s.end));
      expect(spans.every((s) => s.start < firstEnd)).toBe(true);
    } finally {
      await pool.closeAll();
    }
  });
});
