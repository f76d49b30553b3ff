import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { dockerPlugins } from '../../sandbox/plugins.js';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mustDocker, startEngine, startRegistry, stopEngine, stopRegistry, type Engine, type Registry } from '../../sandbox/docker.js';
import { isInsecureRegistry, parseRegistryConfig, readManifest } from '../../src/build/registry.js';
import { createNet, deleteNet } from '../../sandbox/netns.js';
import { freeNetIndex } from '../../sandbox/index.js';
import { startHttpProxy } from '../fixtures/http-proxy.js';
import { randomBytes } from 'node:crypto';
import { ROOT, runAction, secretLeaks } from '../harness.js';

let engine: Engine;
let registry: Registry;
let dir: string;
const auth = { user: 'ci', password: 'r3gistry-Pa55-word' };

function workspace(extraDockerfile = ''): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'bp-'));
  cpSync(path.join(ROOT, 'test', 'fixtures', 'image'), path.join(ws, 'app'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(ws, 'app', 'busybox'));
  if (extraDockerfile) writeFileSync(path.join(ws, 'app', 'Dockerfile'), extraDockerfile);
  return ws;
}

/** The runner's docker config: empty (no buildx), or with the buildx plugin, as on GitHub's runners. */
let plainConfig: string;
let buildxConfig: string;
let runnerConfig: string;

function build(inputs: Record<string, string>, o: { ref?: string; ws?: string; config?: string } = {}) {
  return runAction('build-push', {
    workspace: o.ws ?? workspace(),
    env: { DOCKER_HOST: engine.host, GITHUB_REF: o.ref ?? 'refs/heads/main', DOCKER_CONFIG: o.config ?? runnerConfig },
    inputs: { image: `${registry.address}/acme/shop`, context: 'app', username: auth.user, password: auth.password, ...inputs },
  }).then((r) => r.main);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ops-build-'));
  engine = await startEngine(path.join(dir, 'engine'));
  registry = await startRegistry(path.join(dir, 'registry'), '127.0.0.1', auth);
  plainConfig = path.join(dir, 'config-plain');
  buildxConfig = path.join(dir, 'config-buildx');
  mkdirSync(plainConfig, { recursive: true });
  mkdirSync(path.join(buildxConfig, 'cli-plugins'), { recursive: true });
  copyFileSync((await dockerPlugins()).buildx, path.join(buildxConfig, 'cli-plugins', 'docker-buildx'));
  chmodSync(path.join(buildxConfig, 'cli-plugins', 'docker-buildx'), 0o755);
  runnerConfig = plainConfig;
});
afterAll(async () => {
  await stopEngine(engine);
  await stopRegistry(registry);
});

describe.each([
  ['docker build (no buildx on the runner)', 'plain', 'docker build'],
  ['docker buildx (docker driver)', 'buildx', 'buildx 0.13.1+ds1 (docker driver)'],
] as const)('build-push with %s, against a real engine and registry', (_name, which, builderName) => {
  beforeAll(() => {
    runnerConfig = which === 'buildx' ? buildxConfig : plainConfig;
  });

  it("from a v1.2.3 tag: pushes semver tags; the digest is the registry's; image@digest pulls and runs", async () => {
    const r = await build({ 'build-args': 'GREETING=hi there' }, { ref: 'refs/tags/v1.2.3' });
    expect(r.errors).toEqual([]);
    const repo = `${registry.address}/acme/shop`;
    expect(r.outputs.tags!.split('\n')).toEqual([`${repo}:sha-0123456`, `${repo}:v1.2.3`, `${repo}:1.2.3`, `${repo}:1.2`, `${repo}:1`]);
    const m = await readManifest(repo, '1.2.3', { username: auth.user, password: auth.password }, { insecure: true });
    expect(r.outputs.digest).toBe(m.digest);
    expect(r.outputs['image-ref']).toBe(`${repo}@${m.digest}`);
    expect(Number(r.outputs['size-bytes'])).toBe(m.size);
    // Pull it back by digest on a clean engine and run it.
    await mustDocker(engine, ['rmi', '-f', ...r.outputs.tags!.split('\n')]);
    const cfg = mkdtempSync(path.join(os.tmpdir(), 'dcfg-'));
    await mustDocker({ host: engine.host }, ['--config', cfg, 'login', registry.address, '-u', auth.user, '--password-stdin'], { input: auth.password });
    const out = await mustDocker(engine, ['--config', cfg, 'run', '--rm', '--entrypoint', '/bin/busybox', r.outputs['image-ref']!, 'cat', '/www/health']);
    expect(JSON.parse(out)).toEqual({ status: 'healthy' });
    const labels = JSON.parse(await mustDocker(engine, ['image', 'inspect', '--format', '{{json .Config.Labels}}', r.outputs['image-ref']!]));
    expect(labels).toMatchObject({
      'org.opencontainers.image.source': 'https://github.com/acme/shop',
      'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
      'org.opencontainers.image.version': '1.2.3',
      'com.example.greeting': 'hi there',
    });
    expect(labels['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(secretLeaks(r, [auth.password, 'hi there'])).toEqual([]);
    expect(r.summary).toContain(m.digest);
    expect(r.outputs.builder).toBe(builderName);
  });

  it('from a branch: sha and ref tags, latest on the default branch only', async () => {
    const main = await build({}, { ref: 'refs/heads/main' });
    expect(main.outputs.tags!.split('\n').map((t) => t.split(':').pop())).toEqual(['sha-0123456', 'main', 'latest']);
    const feature = await build({}, { ref: 'refs/heads/feature/login' });
    expect(feature.outputs.tags!.split('\n').map((t) => t.split(':').pop())).toEqual(['sha-0123456', 'feature-login']);
  });

  it("a second build on a fresh runner reuses the pushed image's layers (cache-from)", async () => {
    const first = await build({ tags: 'cachetest' }, { ref: 'refs/heads/cachetest' });
    expect(first.exitCode).toBe(0);
    // A fresh runner: nothing local.
    await mustDocker(engine, ['system', 'prune', '-a', '-f']);
    const second = await build({ tags: 'cachetest' }, { ref: 'refs/heads/cachetest' });
    expect(second.exitCode).toBe(0);
    expect(Number(second.outputs['cached-steps'])).toBeGreaterThan(0);
    expect(second.summary).toMatch(/\d+ step\(s\) reused from/);
    const off = await build({ tags: 'cachetest', cache: 'false' }, { ref: 'refs/heads/cachetest' });
    expect(off.log).not.toContain('cache: layers from');
  });

  it("an image name with capitals (ghcr.io/${{ github.repository }} has the owner's) is pushed lowercase, saying so", async () => {
    const r = await build({ image: `${registry.address}/Acme/Shop`, tags: 'Mixed-Case' });
    expect(r.exitCode).toBe(0);
    expect(r.log).toContain(`image ${registry.address}/Acme/Shop is pushed as ${registry.address}/acme/shop`);
    expect(r.outputs.tags).toBe(`${registry.address}/acme/shop:Mixed-Case`);
    const m = await readManifest(`${registry.address}/acme/shop`, 'Mixed-Case', { username: auth.user, password: auth.password }, { insecure: true });
    expect(m.digest).toBe(r.outputs.digest);
  });

  it('push: false builds only', async () => {
    const r = await build({ push: 'false', tags: 'local-only' });
    expect(r.exitCode).toBe(0);
    expect(r.outputs.digest).toBe('');
    expect(r.outputs['image-id']).toMatch(/^sha256:/);
    await expect(readManifest(`${registry.address}/acme/shop`, 'local-only', { username: auth.user, password: auth.password }, { insecure: true })).rejects.toThrow(/HTTP 404/);
  });

  it("a failing build fails with the failing step's output", async () => {
    const r = await build({}, { ws: workspace('FROM scratch\nCOPY does-not-exist /x\n') });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/docker (buildx )?build failed \(exit \d+\); the failing step's output:[\s\S]*does-not-exist/);
  });

  it('a wrong password fails with an auth message, and the password shows nowhere', async () => {
    const r = await build({ password: 'wrong-Pa55word-123' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/login to 127\.0\.0\.1:\d+ as ci failed: .*(unauthorized|401)/i);
    expect(secretLeaks(r, ['wrong-Pa55word-123'])).toEqual([]);
  });

  it('BuildKit secrets reach the build and never the image, the log or the history (buildx only)', async () => {
    const ws = workspace(
      'FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\nRUN --mount=type=secret,id=npm --mount=type=secret,id=cert sh -c \'busybox wc -c < /run/secrets/npm > /npm-length; busybox wc -c < /run/secrets/cert > /cert-length\'\nENTRYPOINT ["/bin/busybox"]\n',
    );
    writeFileSync(path.join(ws, 'cert.pem'), 'not-a-real-cert-0123456789');
    const token = 'npm_s3cretTokenValue42';
    const r = await build({ secrets: `npm=${token}`, 'secret-files': 'cert=cert.pem', tags: 'secrets', network: 'none' }, { ws });
    if (which === 'plain') {
      expect(r.exitCode).toBe(1);
      expect(r.errors[0]).toContain("input 'secrets': BuildKit secrets need docker buildx on the runner");
      return;
    }
    expect(r.errors).toEqual([]);
    const ref = r.outputs['image-ref']!;
    expect((await mustDocker(engine, ['run', '--rm', ref, 'cat', '/npm-length', '/cert-length'])).split('\n').map((l) => l.trim())).toEqual([String(token.length), '26', '']);
    const history = await mustDocker(engine, ['history', '--no-trunc', ref]);
    const inspect = await mustDocker(engine, ['image', 'inspect', ref]);
    for (const t of [history, inspect]) expect(t).not.toContain(token);
    expect(secretLeaks(r, [token])).toEqual([]);
  });
});

describe('build-push: builders, registries and inputs', () => {
  it('builder: docker uses docker build even with buildx installed; builder: buildx without it fails clearly', async () => {
    const forced = await build({ builder: 'docker', push: 'false', tags: 'forced' }, { config: buildxConfig });
    expect(forced.errors).toEqual([]);
    expect(forced.outputs.builder).toBe('docker build');
    const missing = await build({ builder: 'buildx', push: 'false', tags: 'forced' }, { config: plainConfig });
    expect(missing.exitCode).toBe(1);
    expect(missing.errors[0]).toContain("input 'builder': is 'buildx' but docker buildx is not installed on this runner");
    // With buildx, --platform is passed through: an image of COPY steps builds for arm64 even
    // here (RUN steps would need QEMU, and several platforms a docker-container builder).
    const arm = await build({ platforms: 'linux/arm64', push: 'false', tags: 'arm' }, { config: buildxConfig });
    expect(arm.errors).toEqual([]);
    expect((await mustDocker(engine, ['image', 'inspect', '--format', '{{.Architecture}}', arm.outputs['image-id']!])).trim()).toBe('arm64');
  });

  it('a registry on any address the engine trusts as insecure: plain HTTP because the engine says so, proxies honoured', async () => {
    // An address outside the sandbox's usual ranges, on a bridge of this test's own.
    const net = await createNet(randomBytes(2).toString('hex'), await freeNetIndex('10.231'), '10.231');
    const other = await startEngine(path.join(dir, 'engine-insecure'), { insecureRegistry: net.subnet });
    const reg = await startRegistry(path.join(dir, 'registry-insecure'), net.gateway, auth);
    const proxy = await startHttpProxy();
    try {
      const run = (env: Record<string, string>) =>
        runAction('build-push', {
          workspace: workspace(),
          env: { DOCKER_HOST: other.host, GITHUB_REF: 'refs/heads/main', ...env },
          inputs: { image: `${reg.address}/acme/shop`, context: 'app', username: auth.user, password: auth.password, tags: 'sha', cache: 'false' },
        }).then((x) => x.main);
      const r = await run({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url });
      expect(r.errors).toEqual([]);
      const m = await readManifest(`${reg.address}/acme/shop`, 'sha-0123456', { username: auth.user, password: auth.password }, { insecure: true });
      expect(r.outputs.digest).toBe(m.digest);
      expect(Number(r.outputs['size-bytes'])).toBe(m.size);
      // The manifest was read through the proxy: first over HTTPS (refused), then plain HTTP.
      expect(proxy.seen).toContain(`CONNECT ${reg.address}`);
      expect(proxy.seen).toContain(`GET http://${reg.address}/v2/acme/shop/manifests/sha-0123456`);
      const before = proxy.seen.length;
      const bypass = await run({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: net.gateway });
      expect(bypass.errors).toEqual([]);
      expect(proxy.seen.length).toBe(before);
      expect(secretLeaks(r, [auth.password])).toEqual([]);
    } finally {
      await proxy.close();
      await stopRegistry(reg);
      await stopEngine(other);
      await deleteNet(net);
    }
  });

  it('never sends credentials over plain HTTP to a registry the engine treats as secure', async () => {
    const cfg = parseRegistryConfig(
      JSON.stringify({
        InsecureRegistryCIDRs: ['127.0.0.0/8', '10.231.7.0/24'],
        IndexConfigs: { 'docker.io': { Name: 'docker.io', Secure: true }, 'reg.internal:5000': { Name: 'reg.internal:5000', Secure: false } },
      }),
    );
    expect(await isInsecureRegistry('127.0.0.1:5000', cfg)).toBe(true);
    expect(await isInsecureRegistry('10.231.7.9:5055', cfg)).toBe(true);
    expect(await isInsecureRegistry('10.213.7.9:5055', cfg)).toBe(false);
    expect(await isInsecureRegistry('reg.internal:5000', cfg)).toBe(true);
    expect(await isInsecureRegistry('ghcr.io', cfg, async () => ['140.82.112.34'])).toBe(false);
    expect(await isInsecureRegistry('docker.io', cfg)).toBe(false);
    // A registry on plain HTTP that the engine does not trust: reading fails over HTTPS, and no HTTP fallback happens.
    await expect(readManifest(`${registry.address.replace('127.0.0.1', 'localhost')}/acme/shop`, 'latest', { username: auth.user, password: auth.password }, { insecure: false })).rejects.toThrow(
      /over HTTPS failed/,
    );
  });

  it.each([
    [{ 'build-args': 'PATH=/tmp/evil' }, "input 'build-args': PATH would change the docker CLI's own environment"],
    [{ 'build-args': 'DOCKER_HOST=tcp://evil:2375' }, "input 'build-args': DOCKER_HOST would change the docker CLI's own environment"],
    [{ image: 'acme/shop:1.0' }, "input 'image': 'acme/shop:1.0' is not valid"],
    [{ image: 'acme/shop;reboot' }, "input 'image': 'acme/shop;reboot' is not valid"],
    [{ tags: '{{branch}}' }, "input 'tags': '{{branch}}': unknown template"],
    [{ platforms: 'linux/arm64' }, "input 'platforms': linux/arm64 needs docker buildx"],
  ])('bad input %j', async (inputs, message) => {
    const r = await build(inputs as Record<string, string>, { config: plainConfig });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(message);
  });
});
