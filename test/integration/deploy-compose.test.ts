import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { runAction, secretLeaks, ROOT } from '../harness.js';
import { currentOf, historyOf, inspector, onHost, servedVersion } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';
import { stopRegistry } from '../../sandbox/docker.js';

let sb: Sandbox;
let pool: SshPool;
const APP_DIR = 'apps/shop-production';
const ENV_SECRET = 'DATABASE_PASSWORD=pg-s3cret-9f8e7d';

beforeAll(async () => {
  sb = await startSandbox({ hosts: 3, isolated: true, images: ['1.0.0', '2.0.0'] });
  pool = inspector(sb);
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

function rollback(extra: Record<string, string> = {}) {
  return runAction('rollback', {
    inputs: { app: 'shop', ...sb.sshInputs(), 'health-url': 'http://127.0.0.1:8080/health', 'health-interval': '250ms', 'health-timeout': '8s', ...extra },
  }).then((r) => r.main);
}

function deploy(image: string, version: string, extra: Record<string, string> = {}) {
  return runAction('deploy', {
    post: true,
    inputs: {
      app: 'shop',
      ...sb.sshInputs(),
      'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml'),
      image: `${sb.images!.repo}:${image}`,
      version,
      'env-file': `${ENV_SECRET}\nLOG_JSON=1\n`,
      'health-url': 'http://127.0.0.1:8080/health',
      'health-expect-json': 'status=healthy',
      'health-interval': '250ms',
      'health-timeout': '8s',
      'github-deployment': 'false',
      ...extra,
    },
    workspace: ROOT,
  });
}

describe('deploy with docker compose', () => {
  it('v1 to three hosts, then v2', async () => {
    const v1 = await deploy('1.0.0', '1.0.0');
    expect(v1.main.errors).toEqual([]);
    expect(v1.main.exitCode).toBe(0);
    expect(v1.main.outputs['hosts-succeeded']!.split(',')).toEqual(sb.hosts.map((h) => h.spec));
    expect(v1.main.outputs['rolled-back']).toBe('false');
    expect(v1.main.outputs['image-digest']).toBe(sb.images!.digests['1.0.0']);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('1.0.0');
    const v1id = v1.main.outputs['release-id']!;
    expect(v1id).toMatch(/^\d{8}T\d{6}Z-1\.0\.0$/);
    // The env file is on the host, 0600, and in the container; never in the log.
    expect((await onHost(pool, sb.hosts[0]!, 'stat -c %a "$HOME/$1/releases/$2/.env"', APP_DIR, v1id)).trim()).toBe('600');
    expect(secretLeaks(v1.main, [ENV_SECRET, 'pg-s3cret-9f8e7d', sb.keys.ed25519.privateKey])).toEqual([]);
    expect(v1.main.masks).toContain('pg-s3cret-9f8e7d');
    expect(v1.main.summary).toContain('```mermaid');

    const v2 = await deploy('2.0.0', '2.0.0');
    expect(v2.main.exitCode).toBe(0);
    expect(v2.main.outputs['previous-release-id']).toBe(v1id);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('2.0.0');
    for (const h of sb.hosts) expect(await currentOf(pool, h, APP_DIR)).toBe(v2.main.outputs['release-id']);
    // The post step found the lock already released.
    expect(v2.post!.exitCode).toBe(0);
    expect((await onHost(pool, sb.hosts[0]!, 'test -e "$HOME/$1/.lock" && echo held || echo free', APP_DIR)).trim()).toBe('free');
  });

  it('v3 whose health fails is rolled back automatically; v2 keeps serving and v3 is marked bad', async () => {
    const before = await currentOf(pool, sb.hosts[0]!, APP_DIR);
    const v3 = await deploy('unhealthy', '3.0.0', { 'health-timeout': '3s' });
    expect(v3.main.exitCode).toBe(1);
    expect(v3.main.outputs['rolled-back']).toBe('true');
    const msg = v3.main.errors[0]!;
    expect(msg).toContain(`host ${sb.hosts[0]!.spec}: release ${v3.main.outputs['release-id']} failed its health gate`);
    expect(msg).toContain(`rolled back to ${before}`);
    expect(msg).toMatch(/Hosts now serve:/);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('2.0.0');
    for (const h of sb.hosts) expect(await currentOf(pool, h, APP_DIR)).toBe(before);
    const hist = await historyOf(pool, sb.hosts[0]!, APP_DIR);
    const v3id = v3.main.outputs['release-id']!;
    expect(hist.filter((e) => e.release === v3id).map((e) => e.type)).toEqual(expect.arrayContaining(['deploy-started', 'staged', 'switched', 'health-failed', 'marked-bad', 'deploy-failed']));
    expect(hist.find((e) => e.type === 'rollback' && e.from === v3id)?.release).toBe(before);
    // halt: the later hosts were never switched to v3.
    const second = await historyOf(pool, sb.hosts[1]!, APP_DIR);
    expect(second.some((e) => e.release === v3id && e.type === 'switched')).toBe(false);
  });

  it('an image that exits at start: the deploy fails and rolls back, and its message is in the log and the summary', async () => {
    const before = await currentOf(pool, sb.hosts[0]!, APP_DIR);
    const r = await deploy('crash', '11.0.0', { 'health-timeout': '4s', 'diagnostics-lines': '20' });
    expect(r.main.exitCode).toBe(1);
    expect(r.main.outputs['rolled-back']).toBe('true');
    expect(await currentOf(pool, sb.hosts[0]!, APP_DIR)).toBe(before);
    expect(r.main.log).toContain(`diagnostics of ${r.main.outputs['release-id']}`);
    expect(r.main.log).toContain('$ compose ps -a');
    expect(r.main.log).toContain('cannot start (APP_MODE=crash)');
    expect(r.main.summary).toMatch(/<details><summary>\S+: diagnostics<\/summary>/);
    expect(r.main.summary).toContain('cannot start (APP_MODE=crash)');
    expect(secretLeaks(r.main, ['pg-s3cret-9f8e7d'])).toEqual([]);
  });

  it('rollback: by default the last good release before the current one, skipping bad ones', async () => {
    const ids = (await onHost(pool, sb.hosts[0]!, 'ls "$HOME/$1/releases"', APP_DIR)).trim().split('\n');
    const v2id = ids[1];
    const v4 = await deploy('1.0.0', '4.0.0');
    expect(v4.main.exitCode).toBe(0);
    const r = await rollback();
    expect(r.errors).toEqual([]);
    // v3 (marked bad) is skipped: back to v2.
    expect(r.outputs['release-id']).toBe(v2id);
    expect(r.outputs['from-release-id']).toBe(v4.main.outputs['release-id']);
    expect(r.outputs.version).toBe('2.0.0');
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('2.0.0');
    const hist = await historyOf(pool, sb.hosts[2]!, APP_DIR);
    expect(hist.some((e) => e.type === 'marked-bad' && e.release === v4.main.outputs['release-id'])).toBe(true);
    expect(r.summary).toContain('Database migrations are not reverted');
  });

  it('rollback by version, checking the release is on every host before touching any', async () => {
    const v1id = (await onHost(pool, sb.hosts[0]!, 'ls "$HOME/$1/releases" | head -n 1', APP_DIR)).trim();
    await onHost(pool, sb.hosts[2]!, 'mv "$HOME/$1/releases/$2" "$HOME/$1/hidden"', APP_DIR, v1id);
    const refused = await rollback({ to: '1.0.0' });
    expect(refused.exitCode).toBe(1);
    expect(refused.errors[0]).toContain(`release ${v1id} is not on every host (missing on ${sb.hosts[2]!.spec}); no host was changed`);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('2.0.0');
    await onHost(pool, sb.hosts[2]!, 'mv "$HOME/$1/hidden" "$HOME/$1/releases/$2"', APP_DIR, v1id);

    const r = await rollback({ to: '1.0.0' });
    expect(r.exitCode).toBe(0);
    expect(r.outputs['release-id']).toBe(v1id);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('1.0.0');

    const unknown = await rollback({ to: '9.9.9' });
    expect(unknown.exitCode).toBe(1);
    expect(unknown.errors[0]).toMatch(/no release with id or version '9\.9\.9'; releases on the host: .*\(1\.0\.0\)/);
  });

  it("a rollback to a release that fails: the error names the host, and the release's diagnostics are in the log and the summary", async () => {
    // 11.0.0 is the image that exits at start (marked bad, but named by version it can be chosen).
    const r = await rollback({ to: '11.0.0', 'health-timeout': '3s', 'diagnostics-lines': '20' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(`host ${sb.hosts[0]!.spec}: `);
    expect(r.log).toMatch(/diagnostics of \d{8}T\d{6}Z-11\.0\.0/);
    expect(r.log).toContain('$ compose ps -a');
    expect(r.log).toContain('cannot start (APP_MODE=crash)');
    expect(r.summary).toMatch(/<details><summary>\S+: diagnostics<\/summary>/);
    expect(r.summary).toContain('cannot start (APP_MODE=crash)');
    // halt: the first host's failure left the others on 1.0.0.
    for (const h of sb.hosts.slice(1)) expect(await servedVersion(pool, h)).toBe('1.0.0');
    // A new deploy puts the fleet right (a rollback would mark the release it leaves bad, and 1.0.0 with it).
    const fixed = await deploy('1.0.0', '1.0.1');
    expect(fixed.main.errors).toEqual([]);
    for (const h of sb.hosts) expect(await servedVersion(pool, h)).toBe('1.0.0');
  });
});

describe('compose: the gate, migrations next to a running service, and what history keeps', () => {
  const onFirst = (script: string, ...args: string[]) => onHost(pool, sb.hosts[0]!, script, ...args);

  it("the gate fails when the release's containers are not running, even if something else answers on the port", async () => {
    // shop's container holds 127.0.0.1:8080 and answers healthy; intruder's cannot bind it.
    expect(await servedVersion(pool, sb.hosts[0]!)).not.toBe('');
    const r = await runAction('deploy', {
      workspace: ROOT,
      inputs: {
        app: 'intruder',
        ...sb.sshInputs([sb.hosts[0]!]),
        'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml'),
        image: `${sb.images!.repo}:1.0.0`,
        'health-url': 'http://127.0.0.1:8080/health',
        'health-expect-json': 'status=healthy',
        'health-interval': '250ms',
        'health-timeout': '3s',
        'github-deployment': 'false',
      },
    }).then((x) => x.main);
    await onFirst('docker ps -aq --filter label=com.docker.compose.project=intruder-production | xargs -r docker rm -f >/dev/null');
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/failed its health gate: .*the release's containers are not healthy: intruder-production_web_1 \(web\) (is restarting|is exited|restarted)/);
  });

  it('compose-run migrates in a one-off container of a service that is running with host networking (v1 and v2), sharing its volumes', async () => {
    const h = sb.hosts[0]!;
    const vol = (version: string, extra: Record<string, string> = {}) =>
      runAction('deploy', {
        workspace: ROOT,
        inputs: {
          app: 'vol',
          ...sb.sshInputs([h]),
          'compose-file': path.join('test', 'fixtures', 'compose-volume', 'docker-compose.yml'),
          image: `${sb.images!.repo}:${version}`,
          version,
          'env-file': 'APP_PORT=8081\n',
          'health-url': 'http://127.0.0.1:8081/health',
          'health-interval': '250ms',
          'github-deployment': 'false',
          ...extra,
        },
      }).then((x) => x.main);
    expect((await vol('1.0.0')).errors).toEqual([]);
    // The web service runs (network_mode: host) while its own image migrates.
    const r = await vol('2.0.0', { 'migrate-command': 'echo "$OPS_RELEASE" > /data/migrated; echo migrated', 'migrate-service': 'web' });
    expect(r.errors).toEqual([]);
    expect(r.log).toContain('migrated');
    const running = (await onFirst('docker ps -q --filter label=com.docker.compose.project=vol-production --filter label=com.docker.compose.service=web --filter status=running | head -n 1')).trim();
    expect((await onFirst('docker exec "$1" /bin/busybox cat /data/migrated', running)).trim()).toBe(r.outputs['release-id']);
    const m = await runAction('migrate', { inputs: { app: 'vol', ...sb.sshInputs([h]), command: '/bin/busybox cat /data/migrated', service: 'web' } }).then((x) => x.main);
    expect(m.errors).toEqual([]);
    expect(m.outputs.output).toContain(r.outputs['release-id']);
    // No one-off container or resolved config (it holds the env values) is left behind.
    expect((await onFirst('docker ps -aq --filter label=com.docker.compose.oneoff=True | wc -l')).trim()).toBe('0');
    expect((await onFirst('ls -a "$HOME/apps/vol-production/releases/$1" | grep -c ops-oneoff || true', r.outputs['release-id']!)).trim()).toBe('0');
  });

  it("history keeps no secret: a failing hook's stderr is redacted and the file is 0600", async () => {
    const r = await deploy('2.0.0', '2.9.0', { 'pre-deploy': 'cat .env >&2; exit 3' });
    expect(r.main.exitCode).toBe(1);
    const text = await onFirst('grep 2.9.0 "$HOME/$1/history.jsonl"; stat -c %a "$HOME/$1/history.jsonl"', APP_DIR);
    expect(text).not.toContain('pg-s3cret-9f8e7d');
    expect(text).toContain("step 'pre-deploy' exited with code 3; last output:\\n***\\nIMAGE=");
    expect(text.trim().split('\n').pop()).toBe('600');
    expect(secretLeaks(r.main, ['pg-s3cret-9f8e7d'])).toEqual([]);
  });
});

describe('pruning (last: it stops the registry)', () => {
  it('pruning keeps what rollbacks need: images of kept releases stay, and a rollback works with the registry down', async () => {
    const r = (await deploy('2.0.0', '5.0.0', { 'keep-releases': '2' })).main;
    expect(r.errors).toEqual([]);
    const h = sb.hosts[0]!;
    const left = (await onHost(pool, h, 'ls "$HOME/$1/releases"', APP_DIR)).trim().split('\n');
    expect(left).toContain(r.outputs['release-id']);
    const images = await onHost(pool, h, "docker image ls --format '{{.Tag}}'");
    expect(images).not.toMatch(/^unhealthy$/m); // only the pruned 3.0.0 used it
    expect(images).toMatch(/^1\.0\.0$/m);
    expect(images).toMatch(/^2\.0\.0$/m);
    // Nothing from the registry is needed to go back.
    await stopRegistry(sb.registry);
    const back = await rollback();
    expect(back.errors).toEqual([]);
    for (const x of sb.hosts) expect(await servedVersion(pool, x)).toBe('1.0.0');
  });
});
