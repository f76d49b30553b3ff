import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { hideCommands, knownHostsFor, makeHostKeys, startSshd, stopSshd } from '../../sandbox/hosts.js';
import { must, sleep } from '../../sandbox/procs.js';
import { startProxy } from '../fixtures/tcp-proxy.js';
import { SshSession, type SshOptions } from '../../src/host/session.js';
import { SshPool } from '../../src/host/pool.js';
import { SshError } from '../../src/host/errors.js';
import { Fingerprints, KnownHosts } from '../../src/host/hostkeys.js';
import { parsePrivateKey } from '../../src/host/keys.js';
import { LineLogger } from '../../src/log.js';
import { forEachHost } from '../../src/fleet/run.js';
import { userScript } from '../../src/shell/index.js';
import type { Target } from '../../src/host/target.js';

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
      const pinned = await failure(SshSession.connect(target(h), options({ hostKeys: { mode: 'fingerprints', fingerprints: Fingerprints.parse(h.hostKeys.map((k) => k.fingerprint).join('\n')) } })));
      expect(pinned.message).toContain('HOST KEY MISMATCH');
      // Every key type the impostor offers was tried and named.
      for (const k of impostor.keys) expect(pinned.message).toContain(k.fingerprint);
    } finally {
      await stopSshd(h);
      await startSshd(h);
    }
  });
});

describe('host key types', () => {
  it('pinning a key type the host does not offer is a host-key error naming what it offers, never retried as a network error', async () => {
    const h = hosts[1]!;
    const f = path.join(sb.root, `p384-${Date.now()}`);
    await must('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '384', '-N', '', '-f', f]);
    const pub = readFileSync(`${f}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const lines: string[] = [];
    const kh = KnownHosts.parse(`[${h.address}]:${h.port} ${pub}\n`);
    const e = await failure(SshSession.connect(target(h), options({ hostKeys: { mode: 'known-hosts', knownHosts: kh }, connectRetries: 3, lines })));
    expect(e.kind).toBe('hostkey');
    expect(e.message).toContain("the host offers no host key of the type pinned for it in 'known-hosts' (ecdsa-sha2-nistp384)");
    for (const k of h.hostKeys) expect(e.message).toContain(`${k.type} ${k.fingerprint}`);
    expect(e.message).not.toMatch(/TypeError|firewall/);
    expect(lines.join('\n')).not.toContain('retrying');
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

  it('a connection that drops while a command runs fails that command as a lost connection; the next command reconnects', async () => {
    const h = hosts[7]!;
    const proxy = await startProxy(h.address, h.port);
    const lines: string[] = [];
    const kh = KnownHosts.parse(knownHostsFor(proxy.address, proxy.port, h.hostKeys));
    try {
      const s = await SshSession.connect({ name: 'proxied', host: proxy.address, port: proxy.port, user: h.user }, options({ hostKeys: { mode: 'known-hosts', knownHosts: kh }, lines }));
      const running = s.run(['sleep', '5'], { step: 'pre-deploy' });
      await sleep(500);
      proxy.reset();
      const e = await failure(running);
      expect(e.kind).toBe('connection');
      expect(e.message).toMatch(/^host proxied: the SSH connection was lost while step 'pre-deploy' was running \(.*ECONNRESET.*\); whether it finished on the host is unknown$/);
      expect((await s.run(['echo', 'again'])).stdout).toBe('again\n');
      expect(lines.join('\n')).toMatch(/host proxied: reconnected \(the previous connection was lost: .*ECONNRESET/);
      await s.close();
    } finally {
      await proxy.close();
    }
  });

  it('on a host without a timeout command, the runner enforces command-timeout and says the process may still run', async () => {
    const h = hosts[8]!;
    await hideCommands(h, ['timeout']);
    const s = await SshSession.connect(target(h), options());
    expect((await s.exec(['sh', '-c', 'command -v timeout || echo none'])).stdout.trim()).toBe('none');
    const started = Date.now();
    const e = await failure(s.run(['sleep', '30'], { timeoutMs: 1500, step: 'build-command' }));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain("step 'build-command' timed out after 1.5s; the host has no 'timeout' command, so the runner closed the channel but the process may still be running on the host");
    // The connection still works for the next command.
    expect((await s.run(['echo', 'ok'])).stdout).toBe('ok\n');
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

describe('files', () => {
  it('secret files are created 0600 (narrowed first if they existed); a replaced file never follows a symlink', async () => {
    const s = await SshSession.connect(target(hosts[6]!), options());
    await s.run(['mkdir', '-p', `${hosts[6]!.home}/release`]);
    await s.writeFile('~/release/.env', 'TOKEN=abc\n', 0o600);
    // A secret file that existed with wider permissions is narrowed before it is written.
    await s.run(['sh', '-c', 'echo old > ~/wide.env && chmod 644 ~/wide.env']);
    await s.writeFile('~/wide.env', 'TOKEN=def\n', 0o600);
    const modes = await s.run(['stat', '-c', '%a', `${hosts[6]!.home}/release/.env`, `${hosts[6]!.home}/wide.env`]);
    expect(modes.stdout).toBe('600\n600\n');
    // release.json planted as a symlink to a file outside: replacing it leaves the outside file alone.
    await s.run(['sh', '-c', 'echo keep > ~/outside && chmod 600 ~/outside && ln -sfn ~/outside ~/release/release.json']);
    await s.replaceFile('~/release/release.json', '{"id":"x"}\n', 0o644);
    const after = await s.run(['sh', '-c', 'cat ~/outside; test -L ~/release/release.json && echo link || echo file; cat ~/release/release.json; stat -c %a ~/outside']);
    expect(after.stdout).toBe('keep\nfile\n{"id":"x"}\n600\n');
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
