/**
 * strategy: swarm through the bundles, on a real three-node Swarm: three sandbox engines,
 * each in its own network namespace, joined over the sandbox bridge (the first is the
 * manager the action deploys through). The stack runs one task per node on the node's own
 * loopback; Swarm rolls updates node by node with its health check.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { docker, mustDocker, type Engine } from '../../sandbox/docker.js';
import type { SshPool } from '../../src/host/pool.js';
import { ROOT, runAction, secretLeaks } from '../harness.js';
import { currentOf, historyOf, inspector, servedVersion } from './helpers.js';

let sb: Sandbox;
let pool: SshPool;
let manager: SandboxHost;
let engines: Engine[];
let nodeIds: string[];
const APP_DIR = 'apps/shop-production';
const SECRET = 'swarm-db-pw-5e3f9a1c';

beforeAll(async () => {
  sb = await startSandbox({ hosts: 3, isolated: true, images: ['1.0.0', '2.0.0'] });
  pool = inspector(sb);
  manager = sb.hosts[0]!;
  engines = sb.hosts.map((h) => sb.engines.get(h.name)!);
  const addr = sb.hosts.map((h) => h.netns!.address);
  await mustDocker(engines[0]!, ['swarm', 'init', '--advertise-addr', addr[0]!]);
  const token = (await mustDocker(engines[0]!, ['swarm', 'join-token', '-q', 'worker'])).trim();
  for (let i = 1; i < engines.length; i++) {
    await mustDocker(engines[i]!, ['swarm', 'join', '--token', token, '--advertise-addr', addr[i]!, `${addr[0]}:2377`], { timeoutMs: 60_000 });
  }
  nodeIds = await Promise.all(engines.map(async (e) => (await mustDocker(e, ['info', '--format', '{{.Swarm.NodeID}}'])).trim()));
  sb.onStop(async () => {
    for (const e of engines.slice(1)) await docker(e, ['swarm', 'leave', '--force']);
    await docker(engines[0]!, ['swarm', 'leave', '--force']);
  });
}, 300_000);

afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

function deploy(image: string, version: string, extra: Record<string, string> = {}) {
  return runAction('deploy', {
    inputs: {
      app: 'shop',
      ...sb.sshInputs([manager]),
      strategy: 'swarm',
      'compose-file': path.join('test', 'fixtures', 'swarm', 'stack.yml'),
      'env-file': `DATABASE_PASSWORD="${SECRET}"\n`,
      image: `${sb.images!.repo}:${image}`,
      version,
      'health-url': 'http://127.0.0.1:8080/health',
      'health-interval': '250ms',
      'health-timeout': '5s',
      'converge-timeout': '3m',
      'github-deployment': 'false',
      ...extra,
    },
    workspace: ROOT,
  }).then((r) => r.main);
}

/** What each node's task answers on its own loopback ('' where nothing serves). */
const servedOnNodes = () => Promise.all(sb.hosts.map((h) => servedVersion(pool, h)));

/** The image each running task of the stack uses, per node id. */
async function tasksByNode(): Promise<Map<string, string>> {
  const out = await mustDocker(engines[0]!, ['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.Image}} {{.CurrentState}}', 'shop-production_app']);
  const ids = await mustDocker(engines[0]!, ['service', 'ps', '--filter', 'desired-state=running', '-q', 'shop-production_app']);
  const m = new Map<string, string>();
  const lines = out.trim().split('\n').filter(Boolean);
  const taskIds = ids.trim().split('\n').filter(Boolean);
  for (const [i, id] of taskIds.entries()) {
    const node = (await mustDocker(engines[0]!, ['inspect', '--format', '{{.NodeID}}', id])).trim();
    m.set(node, lines[i]!.split(' ')[1]!);
  }
  return m;
}

describe('deploy strategy: swarm (a three-node Swarm)', () => {
  it('v1: the stack is deployed through the manager, pinned to the digest, one task per node; the env file is service env, never printed', async () => {
    const r = await deploy('1.0.0', '1.0.0');
    expect(r.errors).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.outputs['image-digest']).toBe(sb.images!.digests['1.0.0']);
    expect(r.outputs['release-id']).toMatch(/-1\.0\.0$/);
    expect(await servedOnNodes()).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    // Swarm runs exactly the pinned digest.
    const spec = (await mustDocker(engines[0]!, ['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'shop-production_app'])).trim();
    expect(spec).toBe(`${sb.images!.repo}@${sb.images!.digests['1.0.0']}`);
    // The env file's value is the service's environment (documented), and shows nowhere in the run.
    const env = await mustDocker(engines[0]!, ['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}', 'shop-production_app']);
    expect(env).toContain(`DATABASE_PASSWORD=${SECRET}`);
    expect(secretLeaks(r, [SECRET])).toEqual([]);
    expect(r.summary).toContain('### Stack on');
    expect(r.summary).toMatch(/shop-production_app.*global.*3\/3/);
    const release = r.outputs['release-id']!;
    expect(await currentOf(pool, manager, APP_DIR)).toBe(release);
    const events = (await historyOf(pool, manager, APP_DIR)).filter((e) => e.release === release).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(['deploy-started', 'staged', 'switched', 'health-passed', 'deploy-succeeded']));
  }, 300_000);

  it('v2 with one node drained: Swarm rolls the two active nodes, the drained one runs nothing', async () => {
    await mustDocker(engines[0]!, ['node', 'update', '--availability', 'drain', nodeIds[2]!]);
    const r = await deploy('2.0.0', '2.0.0');
    expect(r.errors).toEqual([]);
    expect(await servedOnNodes()).toEqual(['2.0.0', '2.0.0', '']);
    const tasks = await tasksByNode();
    expect([...tasks.keys()].sort()).toEqual([nodeIds[0], nodeIds[1]].sort());
    for (const image of tasks.values()) expect(image).toBe(`${sb.images!.repo}@${sb.images!.digests['2.0.0']}`);
    expect(r.summary).toMatch(/shop-production_app.*global.*2\/2/);
    expect(r.summary).toMatch(/update.*completed/s);
  }, 300_000);

  it('a v3 whose tasks cannot start: Swarm rolls it back itself; the deploy fails, says so, and v2 stays current', async () => {
    const before = await currentOf(pool, manager, APP_DIR);
    const r = await deploy('crash', '3.0.0');
    expect(r.exitCode).toBe(1);
    expect(r.outputs['rolled-back']).toBe('true');
    expect(r.errors.join('\n')).toMatch(/Swarm rolled back the update/);
    expect(r.log).toMatch(/docker stack ps/);
    expect(r.log).toContain('Swarm had rolled the update back itself');
    expect(await currentOf(pool, manager, APP_DIR)).toBe(before);
    expect(await servedOnNodes()).toEqual(['2.0.0', '2.0.0', '']);
    const spec = (await mustDocker(engines[0]!, ['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'shop-production_app'])).trim();
    expect(spec).toBe(`${sb.images!.repo}@${sb.images!.digests['2.0.0']}`);
    const failed = (await historyOf(pool, manager, APP_DIR)).filter((e) => e.version === '3.0.0' || e.release?.endsWith('-3.0.0'));
    expect(failed.map((e) => e.type)).toEqual(expect.arrayContaining(['deploy-failed', 'marked-bad']));
  }, 300_000);

  it('a v4 that runs but fails the health gate: the action returns it with docker service rollback', async () => {
    const before = await currentOf(pool, manager, APP_DIR);
    const r = await deploy('unhealthy', '4.0.0');
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(/failed its health gate/);
    expect(r.log).toMatch(/docker service rollback shop-production_app/);
    expect(r.outputs['rolled-back']).toBe('true');
    expect(await currentOf(pool, manager, APP_DIR)).toBe(before);
    expect(await servedOnNodes()).toEqual(['2.0.0', '2.0.0', '']);
  }, 300_000);

  it('a stack file docker refuses: the stack never changed, so nothing is rolled back and v2 stays current', async () => {
    const before = await currentOf(pool, manager, APP_DIR);
    const r = await deploy('1.0.0', '4.1.0', { 'compose-file': [path.join('test', 'fixtures', 'swarm', 'stack.yml'), path.join('test', 'fixtures', 'swarm', 'broken-override.yml')].join('\n') });
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(/docker stack deploy|stack deploy/);
    expect(r.log).toContain('the stack never changed: nothing to roll back');
    expect(r.log).not.toContain('Swarm had rolled the update back itself');
    expect(await currentOf(pool, manager, APP_DIR)).toBe(before);
    expect(await servedOnNodes()).toEqual(['2.0.0', '2.0.0', '']);
  }, 300_000);

  it('rollback by hand returns to v1 (its stack deployed again, pinned digest and all)', async () => {
    const r = (
      await runAction('rollback', {
        inputs: { app: 'shop', ...sb.sshInputs([manager]), 'health-url': 'http://127.0.0.1:8080/health', 'health-interval': '250ms', 'health-timeout': '5s' },
      })
    ).main;
    expect(r.errors).toEqual([]);
    expect(r.outputs.version).toBe('1.0.0');
    expect(await servedOnNodes()).toEqual(['1.0.0', '1.0.0', '']);
    const spec = (await mustDocker(engines[0]!, ['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'shop-production_app'])).trim();
    expect(spec).toBe(`${sb.images!.repo}@${sb.images!.digests['1.0.0']}`);
  }, 300_000);

  it('refuses, before connecting, what a stack cannot do; and a host that is no manager', async () => {
    const bad = await deploy('2.0.0', '2.0.1', { services: 'app', 'zero-downtime': 'true', 'migrate-command': 'true', 'migrate-mode': 'compose-run', 'env-file': 'A="unterminated\n' });
    expect(bad.exitCode).toBe(1);
    const text = bad.errors.join('\n');
    for (const input of ['services', 'zero-downtime', 'migrate-mode', 'env-file']) expect(text).toContain(input);
    const two = await deploy('2.0.0', '2.0.1', { hosts: sb.hostsInput(sb.hosts.slice(0, 2)), 'known-hosts': sb.knownHosts() });
    expect(two.errors.join('\n')).toMatch(/one Swarm manager/);
    const cli = await deploy('2.0.0', '2.0.1', { 'env-file': 'DOCKER_HOST=tcp://elsewhere:2375\n' });
    expect(cli.errors.join('\n')).toMatch(/env-file.*DOCKER_HOST would change the docker CLI/s);
    // Another app directory whose stack name is taken: not adopted (--prune would remove its services).
    const taken = await deploy('2.0.0', '2.0.1', { 'app-dir': '~/apps/shop-copy' });
    expect(taken.exitCode).toBe(1);
    expect(taken.errors.join('\n')).toMatch(/stack shop-production already exists on the swarm .*Nothing was changed/s);
    const worker = await deploy('2.0.0', '2.0.1', { ...sb.sshInputs([sb.hosts[1]!]) });
    expect(worker.exitCode).toBe(1);
    expect(worker.errors.join('\n')).toMatch(/is not a Swarm manager/);
    expect(await servedOnNodes()).toEqual(['1.0.0', '1.0.0', '']);
  }, 300_000);
});
