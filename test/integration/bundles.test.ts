import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { runAction, secretLeaks } from '../harness.js';

const ACTIONS = ['build-push', 'deploy', 'migrate', 'healthcheck', 'rollback', 'backup', 'restore', 'security-update'];

describe('every bundle loads and validates its inputs', () => {
  it.each(ACTIONS)('%s fails on missing required inputs, naming them', async (name) => {
    const { main } = await runAction(name);
    expect(main.exitCode).toBe(1);
    expect(main.rawLog).not.toMatch(/Cannot find module|ReferenceError|TypeError|at file:\/\//);
    expect(main.errors).toHaveLength(1);
    expect(main.errors[0]).toMatch(/^invalid input:\ninput '[a-z-]+': is required but was not set/);
  });
});

describe('shared SSH inputs through the bundle', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ hosts: 10 });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('reaches 10 hosts with a passphrase key, reports each host, and leaks no secret', async () => {
    const k = sb.keys.encrypted;
    const { main } = await runAction('security-update', {
      inputs: {
        app: 'shop',
        hosts: sb.hostsInput(),
        'ssh-key': k.privateKey,
        'ssh-key-passphrase': k.passphrase,
        'known-hosts': sb.knownHosts(),
        'max-parallel': '5',
        // A plan by users without root: apt-get -s against this machine's package lists.
        'dry-run': 'true',
        'use-sudo': 'false',
      },
    });
    expect(main.errors).toEqual([]);
    const results = JSON.parse(main.outputs['host-results']!);
    expect(results).toHaveLength(10);
    for (const r of results) expect(['planned', 'up-to-date']).toContain(r.status);
    expect(results.map((r: { host: string }) => r.host)).toEqual(sb.hosts.map((h) => h.spec));
    expect(main.summary).toContain('| host | status | packages | reboot | services | gate | time |');
    expect(main.warnings.join('\n')).toContain('the package lists were not refreshed');
    expect(main.masks.length).toBeGreaterThan(0);
    expect(secretLeaks(main, [k.privateKey, k.passphrase!])).toEqual([]);
  });

  it('without host key inputs, fails before authenticating and prints what to pin', async () => {
    const h = sb.hosts[0]!;
    const { main } = await runAction('security-update', {
      inputs: { app: 'shop', hosts: h.spec, 'ssh-key': sb.keys.ed25519.privateKey },
    });
    expect(main.exitCode).toBe(1);
    expect(main.errors[0]).toContain(`host ${h.spec}: refusing to connect without verifying its host key`);
    expect(main.errors[0]).toContain("Set 'known-hosts' (or 'host-fingerprints')");
    expect(main.errors[0]).toContain(`[${h.address}]:${h.port} ssh-ed25519 `);
    expect(secretLeaks(main, [sb.keys.ed25519.privateKey])).toEqual([]);
  });

  it('the explicit opt-out connects and warns', async () => {
    const { main } = await runAction('security-update', {
      inputs: { app: 'shop', hosts: sb.hosts[0]!.spec, 'ssh-key': sb.keys.ed25519.privateKey, 'insecure-ignore-host-key': 'true', 'dry-run': 'true', 'use-sudo': 'false' },
    });
    expect(main.warnings.join('\n')).toMatch(/insecure-ignore-host-key is true: host keys are NOT verified/);
    expect(['planned', 'up-to-date']).toContain(JSON.parse(main.outputs['host-results']!)[0].status);
  });

  it('an unauthorized key fails with the user and key named; other hosts still get a result', async () => {
    const { main } = await runAction('security-update', {
      inputs: {
        app: 'shop',
        hosts: sb.hostsInput(sb.hosts.slice(0, 2)),
        'ssh-key': sb.keys.unauthorized.privateKey,
        'known-hosts': sb.knownHosts(),
        'max-parallel': '2',
      },
    });
    expect(main.exitCode).toBe(1);
    const errors = main.errors.join('\n');
    expect(errors).toContain(`authentication failed for user '${sb.hosts[0]!.user}' with the ssh-ed25519 key`);
    expect(errors).toContain(sb.keys.unauthorized.publicLine);
    expect(JSON.parse(main.outputs['host-results']!).map((r: { status: string }) => r.status)).toEqual(['failed', 'failed']);
    expect(secretLeaks(main, [sb.keys.unauthorized.privateKey])).toEqual([]);
  });

  it('bad SSH inputs fail before any connection, each named', async () => {
    const { main } = await runAction('deploy', {
      inputs: {
        app: 'shop',
        hosts: 'web1;reboot',
        'ssh-key': 'not a key',
        'known-hosts': 'garbage',
        'connect-timeout': 'soon',
      },
    });
    expect(main.exitCode).toBe(1);
    const msg = main.errors[0]!;
    expect(msg).toContain("input 'connect-timeout': 'soon' is not a duration");
    expect(msg).toContain("input 'hosts': 'web1;reboot': 'web1;reboot' is not a valid host name or address");
    expect(msg).toContain("input 'ssh-key': is not a private key");
    expect(msg).toContain("input 'known-hosts': line 1 is not a known_hosts line");
    expect(main.rawLog).not.toContain('Connecting');
    expect(secretLeaks(main, ['not a key'])).toEqual([]);
  });
});
