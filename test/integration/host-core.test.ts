/** The host core's privilege and reboot handling, against real sshd hosts. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { grantSudo, makeRebootable } from '../../sandbox/hosts.js';
import { rmSync } from 'node:fs';
import { SshSession, type SshOptions } from '../../src/host/session.js';
import { SshError } from '../../src/host/errors.js';
import { KnownHosts } from '../../src/host/hostkeys.js';
import { parsePrivateKey } from '../../src/host/keys.js';
import { LineLogger } from '../../src/log.js';
import { privileged, sudo } from '../../src/commands/host.js';
import { bootMarker, rebootAndWait } from '../../src/host/reboot.js';
import { targetOf } from './helpers.js';

let sb: Sandbox;
const lines: string[] = [];

beforeAll(async () => {
  sb = await startSandbox({ hosts: 4 });
  grantSudo(sb.hosts[0]!, { nopasswd: true });
  grantSudo(sb.hosts[1]!, { nopasswd: false });
  await makeRebootable(sb.hosts[2]!);
  await makeRebootable(sb.hosts[3]!);
});
afterAll(async () => {
  await sb?.stop();
});

function connect(h: SandboxHost, o: Partial<SshOptions> = {}) {
  return SshSession.connect(targetOf(h), {
    key: parsePrivateKey(sb.keys.ed25519.privateKey),
    hostKeys: { mode: 'known-hosts', knownHosts: KnownHosts.parse(sb.knownHosts()) },
    connectTimeoutMs: 5000,
    connectRetries: 0,
    commandTimeoutMs: 30_000,
    logger: new LineLogger((l) => lines.push(l)),
    retryBaseMs: 200,
    ...o,
  });
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

describe('privilege', () => {
  it('sudo -n runs simple and compound commands as root when the user may', async () => {
    const s = await connect(sb.hosts[0]!);
    expect((await s.facts()).uid).toBe(sb.hosts[0]!.uid);
    expect((await s.run(sudo(['id', '-u']))).stdout.trim()).toBe('0');
    expect((await s.run(privileged(['sh', '-c', 'id -un; echo "$1"', 'sh', "it's"], true))).stdout).toBe("root\nit's\n");
    expect((await s.run(privileged(['id', '-u'], false))).stdout.trim()).toBe(String(sb.hosts[0]!.uid));
    await s.close();
  });

  it('a sudo that asks for a password fails at once with what to change, never hanging on a prompt', async () => {
    const s = await connect(sb.hosts[1]!);
    const started = Date.now();
    const e = await failure(s.run(sudo(['apt-get', 'update']), { step: 'apt update' }));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(e.kind).toBe('sudo');
    expect(e.message).toBe(
      `host ${sb.hosts[1]!.spec}: step 'apt update' needs root, but sudo asks for a password for user '${sb.hosts[1]!.user}'; allow it without a password (a NOPASSWD rule in /etc/sudoers.d), or connect as root`,
    );
    await s.close();
  });
});

describe('reboot', () => {
  it('reboots, tolerates the dropped connection, and waits until the host answers with a new boot marker', async () => {
    const h = sb.hosts[2]!;
    const s = await connect(h);
    const before = await bootMarker(s);
    expect(before).toMatch(/^[0-9a-f-]{36}:\d+$/);
    const r = await rebootAndWait(s, { reboot: ['touch', `${h.home}/.sandbox-reboot`], timeoutMs: 60_000, logger: new LineLogger((l) => lines.push(l)), pollMs: 250 });
    expect(r.before).toBe(before);
    expect(r.after).not.toBe(before);
    // Same kernel (a container-like restart): boot_id equal, PID 1 new.
    expect(r.after.split(':')[0]).toBe(before.split(':')[0]);
    expect((await s.run(['echo', 'back'])).stdout).toBe('back\n');
    expect(lines.join('\n')).toContain(`host ${h.spec}: back after `);
    await s.close();
  });

  it('a host that never comes back fails at the reboot timeout, saying so', async () => {
    const h = sb.hosts[3]!;
    const halt = path.join(h.dir, 'halt');
    writeFileSync(halt, '');
    const s = await connect(h);
    const started = Date.now();
    try {
      const e = await failure(rebootAndWait(s, { reboot: ['touch', `${h.home}/.sandbox-reboot`], timeoutMs: 4000, logger: new LineLogger(() => {}), pollMs: 250 }));
      expect(e.kind).toBe('timeout');
      expect(e.message.replace(h.spec, 'H')).toMatch(/^host H: did not come back from the reboot within 4\.0s \('reboot-timeout'; last: cannot connect to .*ECONNREFUSED.*\); check its console$/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      rmSync(halt, { force: true });
      await s.close();
    }
  });
});
