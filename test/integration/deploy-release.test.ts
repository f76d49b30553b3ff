import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { runAction, secretLeaks } from '../harness.js';
import { currentOf, historyOf, inspector, onHost } from './helpers.js';
import { startGitHubApi } from '../fixtures/github-api.js';
import { startDeployment } from '../../src/report/github.js';
import { LineLogger } from '../../src/log.js';
import type { SshPool } from '../../src/host/pool.js';
import { startProxy } from '../fixtures/tcp-proxy.js';
import { hideCommands, knownHostsFor } from '../../sandbox/hosts.js';
import { sleep } from '../../sandbox/procs.js';

const execFileP = promisify(execFile);
const waitFor = async (cond: () => Promise<boolean>) => {
  for (let i = 0; i < 300 && !(await cond()); i++) await sleep(100);
};

let sb: Sandbox;
let pool: SshPool;
let h: SandboxHost;
const APP_DIR = 'apps/blog-production';

/** A workspace with a PHP-style app in app/. */
function workspace(version: string): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
  mkdirSync(path.join(ws, 'app', 'bin'), { recursive: true });
  writeFileSync(path.join(ws, 'app', 'VERSION'), version);
  writeFileSync(path.join(ws, 'app', 'index.php'), '<?php echo "hello";\n');
  writeFileSync(path.join(ws, 'app', 'bin', 'console'), '#!/bin/sh\necho console\n');
  chmodSync(path.join(ws, 'app', 'bin', 'console'), 0o755);
  return ws;
}

function deploy(version: string, extra: Record<string, string> = {}, ws = workspace(version)) {
  return runAction('deploy', {
    workspace: ws,
    inputs: {
      app: 'blog',
      strategy: 'release',
      source: 'app',
      version,
      'shared-paths': '.env\nstorage/',
      'build-command': 'test -f .env && ./bin/console > BUILD',
      'restart-command': 'echo "$OPS_RELEASE $OPS_VERSION" >> "$HOME/restarts.log"',
      'github-deployment': 'false',
      ...sb.sshInputs([h]),
      ...extra,
    },
  }).then((r) => r.main);
}

beforeAll(async () => {
  sb = await startSandbox({ hosts: 2 });
  h = sb.hosts[0]!;
  pool = inspector(sb);
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

describe('deploy with the release strategy', () => {
  it('fails clearly when a declared shared file is missing, switching nothing', async () => {
    const r = await deploy('0.9.0');
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain('shared file');
    expect(r.errors[0]).toContain('.env does not exist: create it on the host (it is declared in shared-paths)');
    expect(r.errors[0]).toContain('no host was switched, the previous release keeps serving');
    expect(await currentOf(pool, h, APP_DIR)).toBe('');
    expect((await onHost(pool, h, 'ls "$HOME/$1/releases" 2>/dev/null | wc -l', APP_DIR)).trim()).toBe('0');
    expect((await historyOf(pool, h, APP_DIR)).map((e) => e.type)).toContain('deploy-failed');
  });

  it('deploys files with modes, links shared paths, builds before and restarts after the switch', async () => {
    await onHost(pool, h, 'mkdir -p "$HOME/$1/shared" && echo "APP_KEY=x" > "$HOME/$1/shared/.env"', APP_DIR);
    const r = await deploy('1.0.0');
    expect(r.errors).toEqual([]);
    const id = r.outputs['release-id']!;
    expect(await currentOf(pool, h, APP_DIR)).toBe(id);
    const check = await onHost(
      pool,
      h,
      'cd "$HOME/$1/current" && cat VERSION && echo && readlink .env && readlink storage && test -d storage && cat BUILD && stat -c %a bin/console && tail -n 1 "$HOME/restarts.log"',
      APP_DIR,
    );
    expect(check.split('\n')).toEqual(['1.0.0', `${h.home}/${APP_DIR}/shared/.env`, `${h.home}/${APP_DIR}/shared/storage`, 'console', '755', `${id} 1.0.0`, '']);
  });

  it('switches current atomically: a reader looping on it never sees a missing or partial release', async () => {
    const s = await pool.get({ name: h.spec, host: h.address, port: h.port, user: h.user });
    await s.exec(['rm', '-f', `${h.home}/stop-reader`]);
    const reader = s.exec(
      [
        'sh',
        '-c',
        'n=0; bad=0; while [ ! -e "$HOME/stop-reader" ]; do v=$(cat "$HOME/$1/current/VERSION" 2>/dev/null || true); case "$v" in [0-9]*.[0-9]*.[0-9]*) ;; *) bad=$((bad+1)) ;; esac; n=$((n+1)); done; echo "$n $bad"',
        'sh',
        APP_DIR,
      ],
      { timeoutMs: 300_000 },
    );
    for (const v of ['2.0.0', '2.1.0', '2.2.0']) expect((await deploy(v)).exitCode).toBe(0);
    await s.exec(['touch', `${h.home}/stop-reader`]);
    const [reads, bad] = (await reader).stdout.trim().split(' ').map(Number);
    expect(reads).toBeGreaterThan(100);
    expect(bad).toBe(0);
  });

  it('keeps keep-releases releases, never the current one', async () => {
    const r = await deploy('3.0.0', { 'keep-releases': '2' });
    expect(r.exitCode).toBe(0);
    const left = (await onHost(pool, h, 'ls "$HOME/$1/releases"', APP_DIR)).trim().split('\n');
    expect(left).toHaveLength(2);
    expect(left).toContain(r.outputs['release-id']);
    expect(left).toContain(r.outputs['previous-release-id']);
    expect((await historyOf(pool, h, APP_DIR)).some((e) => e.type === 'pruned')).toBe(true);
  });

  it('deploys a tarball', async () => {
    const ws = workspace('4.0.0');
    execFileSync('tar', ['-C', path.join(ws, 'app'), '-czf', path.join(ws, 'app.tar.gz'), '.']);
    const r = await deploy('4.0.0', { source: 'app.tar.gz' }, ws);
    expect(r.exitCode).toBe(0);
    expect((await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', APP_DIR)).trim()).toBe('4.0.0');
  });
});

describe('file releases send only what changed', () => {
  const SITE = 'apps/site-production';
  const ws = mkdtempSync(path.join(os.tmpdir(), 'site-'));
  const src = path.join(ws, 'site');
  const put = (rel: string, content: string | Buffer, mode = 0o644) => {
    mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    writeFileSync(path.join(src, rel), content);
    chmodSync(path.join(src, rel), mode);
  };
  const site = (version: string, extra: Record<string, string> = {}) =>
    runAction('deploy', {
      workspace: ws,
      inputs: { app: 'site', strategy: 'release', source: 'site', version, 'github-deployment': 'false', ...sb.sshInputs([h]), ...extra },
    }).then((r) => r.main);
  /** What the host's release holds (release.json aside): path, type, mode, and a file's sha256 or a link's target. */
  const onHostTree = async (rel: string) =>
    (
      await onHost(
        pool,
        h,
        'cd "$HOME/$1/$2" && find . -mindepth 1 ! -path ./release.json -printf "%P %y %m\n" | sort | while read -r p t m; do case $t in f) set -- "$(sha256sum "$p" | cut -c1-64)" ;; l) set -- "$(readlink "$p")" ;; *) set -- - ;; esac; echo "$p $t $m $1"; done',
        SITE,
        rel,
      )
    ).trim();
  const localTree = () =>
    execFileSync(
      'sh',
      [
        '-c',
        'cd "$1" && find . -mindepth 1 -printf "%P %y %m\n" | sort | while read -r p t m; do case $t in f) set -- "$(sha256sum "$p" | cut -c1-64)" ;; l) set -- "$(readlink "$p")" ;; *) set -- - ;; esac; echo "$p $t $m $1"; done',
        'sh',
        src,
      ],
      {
        encoding: 'utf8',
      },
    ).trim();
  const inode = async (release: string, file: string) => (await onHost(pool, h, 'stat -c %i "$HOME/$1/releases/$2/$3"', SITE, release, file)).trim();

  it('the next release starts from the previous one: unchanged files are hard links, new and changed ones are sent, deleted ones are gone, and the previous release is untouched', async () => {
    for (let i = 0; i < 40; i++) put(`src/module${i % 4}/file${i}.php`, `<?php // file ${i}\n${'x'.repeat(2000 + i)}\n`);
    put('bin/console', '#!/bin/sh\necho console\n', 0o755);
    put('public/index.php', '<?php echo "v1";\n');
    put('obsolete.txt', 'old');
    symlinkSync('src/module0', path.join(src, 'current-module'));
    const v1 = await site('1.0.0');
    expect(v1.errors).toEqual([]);
    expect(v1.log).toMatch(/sent 43 file\(s\), [\d.]+ KiB\n/);
    const id1 = v1.outputs['release-id']!;
    expect(await onHostTree(`releases/${id1}`)).toBe(localTree());
    const before = await onHostTree(`releases/${id1}`);

    put('public/index.php', '<?php echo "v2";\n');
    put('src/module1/new.php', '<?php // new\n');
    chmodSync(path.join(src, 'src/module2/file2.php'), 0o600);
    rmSync(path.join(src, 'obsolete.txt'));
    const v2 = await site('2.0.0');
    expect(v2.errors).toEqual([]);
    const id2 = v2.outputs['release-id']!;
    expect(v2.log).toContain(`sent 3 file(s)`);
    expect(v2.log).toMatch(new RegExp(`; 40 unchanged file\\(s\\), [\\d.]+ KiB, linked from ${id1}`));
    // The new release is exactly the source; the one before it is exactly what it was.
    expect(await onHostTree(`releases/${id2}`)).toBe(localTree());
    expect(await onHostTree(`releases/${id1}`)).toBe(before);
    expect(await inode(id2, 'src/module3/file3.php')).toBe(await inode(id1, 'src/module3/file3.php'));
    expect(await inode(id2, 'public/index.php')).not.toBe(await inode(id1, 'public/index.php'));
    expect(await inode(id2, 'src/module2/file2.php')).not.toBe(await inode(id1, 'src/module2/file2.php'));
    expect(await currentOf(pool, h, SITE)).toBe(id2);
    expect((await onHost(pool, h, 'stat -c %a "$HOME/$1/.tree" "$HOME/$1/.tree/$2.json"', SITE, id2)).trim().split('\n')).toEqual(['700', '600']);
    // The release directory takes the source's mode, whole tree or not.
    const rootMode = (statSync(src).mode & 0o777).toString(8);
    expect((await onHost(pool, h, 'stat -c %a "$HOME/$1/releases/$2" "$HOME/$1/releases/$3"', SITE, id1, id2)).trim().split('\n')).toEqual([rootMode, rootMode]);
  });

  it('a file changed on the host since it was sent is sent again, never reused', async () => {
    const id2 = await currentOf(pool, h, SITE);
    // A hand edit in place (through every hard link of that inode).
    await onHost(pool, h, 'printf "hotfix" >> "$HOME/$1/releases/$2/src/module0/file0.php"', SITE, id2);
    const v3 = await site('3.0.0');
    expect(v3.errors).toEqual([]);
    expect(v3.log).toContain('sent 1 file(s)');
    const id3 = v3.outputs['release-id']!;
    expect(await onHostTree(`releases/${id3}`)).toBe(localTree());
    expect(await inode(id3, 'src/module0/file0.php')).not.toBe(await inode(id2, 'src/module0/file0.php'));
  });

  it('with a build step, unchanged files are copied, so the build cannot write into an older release', async () => {
    const id3 = await currentOf(pool, h, SITE);
    const before = await onHostTree(`releases/${id3}`);
    const v4 = await site('4.0.0', { 'build-command': 'echo built >> src/module3/file3.php' });
    expect(v4.errors).toEqual([]);
    expect(v4.log).toMatch(/sent 0 file\(s\), 0 B; 43 unchanged file\(s\), [\d.]+ KiB, copied from/);
    const id4 = v4.outputs['release-id']!;
    expect(await onHostTree(`releases/${id3}`)).toBe(before);
    expect((await onHost(pool, h, 'tail -n 1 "$HOME/$1/releases/$2/src/module3/file3.php"', SITE, id4)).trim()).toBe('built');
    // The next deploy sees the build's change on the host and sends that file again.
    const v5 = await site('5.0.0');
    expect(v5.log).toContain('sent 1 file(s)');
    expect(await onHostTree(`releases/${v5.outputs['release-id']!}`)).toBe(localTree());
  });

  it('a read-only directory in the source: reused and changed files land in it, and old releases are pruned', async () => {
    put('locked/a.txt', 'a');
    put('locked/b.txt', 'b');
    chmodSync(path.join(src, 'locked'), 0o555);
    try {
      expect((await site('5.1.0')).errors).toEqual([]);
      chmodSync(path.join(src, 'locked'), 0o755);
      put('locked/b.txt', 'b2');
      chmodSync(path.join(src, 'locked'), 0o555);
      const r = await site('5.2.0');
      expect(r.errors).toEqual([]);
      expect(r.log).toMatch(/sent 1 file\(s\).*unchanged file\(s\).*linked from/);
      expect(await onHostTree(`releases/${r.outputs['release-id']!}`)).toBe(localTree());
    } finally {
      chmodSync(path.join(src, 'locked'), 0o755);
    }
  });

  it('unchanged-files: a command that runs inside the release makes them copies (auto); link and copy can be asked for', async () => {
    const restart = await site('5.3.0', { 'restart-command': 'true' });
    expect(restart.errors).toEqual([]);
    expect(restart.log).toMatch(/unchanged file\(s\), [\d.]+ KiB, copied from/);
    const linked = await site('5.4.0', { 'restart-command': 'true', 'unchanged-files': 'link' });
    expect(linked.log).toMatch(/unchanged file\(s\), [\d.]+ KiB, linked from/);
    const copied = await site('5.5.0', { 'unchanged-files': 'copy' });
    expect(copied.log).toMatch(/unchanged file\(s\), [\d.]+ KiB, copied from/);
    const [a, b] = [linked.outputs['release-id']!, copied.outputs['release-id']!];
    expect(await inode(b, 'src/module3/file3.php')).not.toBe(await inode(a, 'src/module3/file3.php'));
  });

  it('pruning removes the trees of the releases it removes', async () => {
    const v6 = await site('6.0.0', { 'keep-releases': '2' });
    expect(v6.errors).toEqual([]);
    const releases = (await onHost(pool, h, 'ls "$HOME/$1/releases"', SITE)).trim().split('\n');
    const trees = (await onHost(pool, h, 'ls "$HOME/$1/.tree"', SITE)).trim().split('\n');
    expect(releases).toHaveLength(2);
    expect(trees).toEqual(releases.map((r) => `${r}.json`));
  });
});

describe('release sources and failures that must fail cleanly', () => {
  it('refuses symlinks that point outside the release (directory and tarball), changing nothing', async () => {
    const before = await onHost(pool, h, 'cat "$HOME/$1/history.jsonl" | wc -l; ls "$HOME/$1/releases"', APP_DIR);
    await onHost(pool, h, 'echo precious > "$HOME/outside.txt" && chmod 600 "$HOME/outside.txt"');
    const ws = workspace('4.1.0');
    symlinkSync(`${h.home}/outside.txt`, path.join(ws, 'app', 'release.json'));
    const r = await deploy('4.1.0', {}, ws);
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(`release.json points to the absolute path ${h.home}/outside.txt`);
    expect(r.errors[0]).toContain('Nothing was changed.');
    // Climbing out with .., inside a tarball, next to a shared path.
    const ws2 = workspace('4.2.0');
    symlinkSync('../../../../outside-dir', path.join(ws2, 'app', 'storage'));
    execFileSync('tar', ['-C', path.join(ws2, 'app'), '-czf', path.join(ws2, 'app.tar.gz'), '.']);
    const t = await deploy('4.2.0', { source: 'app.tar.gz' }, ws2);
    expect(t.exitCode).toBe(1);
    expect(t.errors[0]).toContain('storage points outside the release (../../../../outside-dir)');
    expect(await onHost(pool, h, 'cat "$HOME/$1/history.jsonl" | wc -l; ls "$HOME/$1/releases"', APP_DIR)).toBe(before);
    expect((await onHost(pool, h, 'cat "$HOME/outside.txt"; stat -c %a "$HOME/outside.txt"')).trim()).toBe('precious\n600');
    // A link inside the release is fine, and a release.json in the source is replaced, not written through.
    const ws3 = workspace('4.3.0');
    writeFileSync(path.join(ws3, 'app', 'real.json'), '{}');
    symlinkSync('real.json', path.join(ws3, 'app', 'release.json'));
    const ok = await deploy('4.3.0', {}, ws3);
    expect(ok.errors).toEqual([]);
    expect((await onHost(pool, h, 'cd "$HOME/$1/current" && cat real.json && test ! -L release.json && grep -c \'"version": "4.3.0"\' release.json', APP_DIR)).trim()).toBe('{}1');
  });

  it("a failed upload (the host's disk is full) fails the step and exits; the previous release keeps serving", async () => {
    const dir = `${h.home}/small-disk`;
    await execFileP('mkdir', ['-p', dir]);
    await execFileP('mount', ['-t', 'tmpfs', '-o', `size=512k,uid=${h.uid},gid=${h.gid}`, 'tmpfs', dir]);
    try {
      const first = await deploy('1.0.0', { 'app-dir': dir, 'shared-paths': '', 'build-command': 'true' });
      expect(first.errors).toEqual([]);
      const ws = workspace('1.1.0');
      // Incompressible bytes, bigger than the disk and than any pipe buffer.
      writeFileSync(path.join(ws, 'app', 'blob.bin'), randomBytes(8 * 1024 * 1024));
      const started = Date.now();
      const r = await runAction('deploy', {
        workspace: ws,
        timeoutMs: 60_000,
        inputs: { app: 'blog', strategy: 'release', source: 'app', version: '1.1.0', 'app-dir': dir, 'github-deployment': 'false', ...sb.sshInputs([h]) },
      }).then((x) => x.main);
      expect(r.signal).toBeNull();
      expect(r.exitCode).toBe(1);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(r.errors[0]).toMatch(
        /step 'upload' exited with code 2; last output:\n[\s\S]*The host's file system holding \S+ has [\d.]+ (B|KiB) free and this release sends 8\.0 MiB: free space there/,
      );
      expect(r.errors[0]).toContain('no host was switched, the previous release keeps serving');
      expect((await onHost(pool, h, 'cat "$1/current/VERSION"', dir)).trim()).toBe('1.0.0');
    } finally {
      await execFileP('umount', [dir]).catch(() => {});
    }
  });

  it('an upload the host stops reading at once (it has no tar) fails the step and exits, instead of hanging', async () => {
    const bare = sb.hosts[1]!;
    await hideCommands(bare, ['tar']);
    const ws = workspace('1.2.0');
    // More than any pipe holds: the local tar blocks unless it is stopped.
    writeFileSync(path.join(ws, 'app', 'blob.bin'), randomBytes(8 * 1024 * 1024));
    const r = await runAction('deploy', {
      workspace: ws,
      timeoutMs: 60_000,
      inputs: { app: 'blog', strategy: 'release', source: 'app', version: '1.2.0', 'github-deployment': 'false', ...sb.sshInputs([bare]) },
    }).then((x) => x.main);
    expect(r.signal).toBeNull();
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/step 'upload' exited with code 127; last output:\n.*tar: not found/);
    expect(r.errors[0]).toContain('a command was not found');
  });

  it('a failing post-deploy hook fails the step; the release stays live and the summary says so', async () => {
    const r = await deploy('4.4.0', { 'post-deploy': 'echo warming caches; false' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/release \S+-4\.4\.0 is live on every host, but after the switch:\nhost .*: step 'post-deploy' exited with code 1/);
    expect(r.outputs['hosts-succeeded']).toBe(h.spec);
    expect(r.outputs['rolled-back']).toBe('false');
    expect(r.summary).toContain('⚠️ live, but a step after the switch failed');
    expect(r.summary).toContain('live, but:');
    expect((await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', APP_DIR)).trim()).toBe('4.4.0');
  });

  it('an unreachable host is named in the summary and in hosts-failed; nothing changes anywhere', async () => {
    const before = await currentOf(pool, h, APP_DIR);
    const dead = '127.0.0.1:1';
    const r = await runAction('deploy', {
      workspace: workspace('4.5.0'),
      inputs: {
        app: 'blog',
        strategy: 'release',
        source: 'app',
        version: '4.5.0',
        'github-deployment': 'false',
        'connect-retries': '0',
        ...sb.sshInputs([h]),
        hosts: `${h.spec}\n${h.user}@${dead}`,
      },
    }).then((x) => x.main);
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain('cannot reach every host; nothing was changed');
    expect(r.outputs['hosts-failed']).toBe(`${h.user}@${dead}`);
    expect(r.outputs['hosts-succeeded']).toBe('');
    expect(r.summary).toContain(`\`${h.user}@${dead}\` | ❌ failed`);
    expect(r.summary).toContain(`\`${h.spec}\` | ⏭️ untouched`);
    expect(await currentOf(pool, h, APP_DIR)).toBe(before);
  });

  it('a connection that drops during a hook fails that host cleanly: error, rollback path, history, summary and outputs', async () => {
    const proxy = await startProxy(h.address, h.port);
    try {
      const spec = `${h.user}@${proxy.address}:${proxy.port}`;
      const known = knownHostsFor(proxy.address, proxy.port, h.hostKeys);
      const api = await startGitHubApi();
      const running = runAction('deploy', {
        workspace: workspace('4.6.0'),
        env: { GITHUB_API_URL: api.url },
        githubToken: 'ghs_jobToken0123456789',
        inputs: {
          app: 'blog',
          strategy: 'release',
          source: 'app',
          version: '4.6.0',
          'shared-paths': '.env',
          'pre-deploy': 'sleep 3',
          'ssh-key': sb.keys.ed25519.privateKey,
          hosts: spec,
          'known-hosts': known,
        },
      }).then((x) => x.main);
      await waitFor(async () => (await historyOf(pool, h, APP_DIR)).some((e) => e.version === '4.6.0' && e.type === 'staged'));
      await sleep(500);
      proxy.reset();
      const r = await running;
      await api.close();
      expect(r.rawLog).not.toMatch(/ECONNRESET\n\s+at |Unhandled|node:internal/);
      expect(r.exitCode).toBe(1);
      expect(r.errors[0]).toContain(`host ${spec}: the SSH connection was lost while step 'pre-deploy' was running`);
      expect(r.outputs['hosts-failed']).toBe(spec);
      expect(r.summary).toContain('❌ failed');
      // The run reconnected to record the failure; the deployment is not left in progress.
      const events = await historyOf(pool, h, APP_DIR);
      expect(events.filter((e) => e.version === '4.6.0').map((e) => e.type)).toContain('deploy-failed');
      expect(api.calls.slice(1).map((c) => c.body.state)).toEqual(['in_progress', 'failure']);
      expect((await onHost(pool, h, 'cat "$HOME/$1/current/VERSION"', APP_DIR)).trim()).not.toBe('4.6.0');
    } finally {
      await proxy.close();
    }
  });
});

describe('hooks and GitHub deployments', () => {
  it('hooks get the OPS_* variables and nothing else from the runner', async () => {
    const r = await deploy('5.0.0', { 'post-deploy': 'env | sort > "$HOME/hook-env"', 'pre-deploy': 'test "$OPS_RELEASE" = "$(basename "$PWD")"' });
    expect(r.errors).toEqual([]);
    const env = await onHost(pool, h, 'cat "$HOME/hook-env"');
    expect(env).toContain('OPS_APP=blog\n');
    expect(env).toContain('OPS_ENVIRONMENT=production\n');
    expect(env).toContain('OPS_VERSION=5.0.0\n');
    expect(env).toContain(`OPS_RELEASE=${r.outputs['release-id']}\n`);
    expect(env).toContain(`OPS_HOST=${h.spec}\n`);
    expect(env).toContain('OPS_RUN_URL=https://github.com/acme/shop/actions/runs/4242\n');
    expect(env).not.toMatch(/INPUT_|GITHUB_TOKEN|PRIVATE KEY/);
  });

  it('creates a GitHub deployment with in_progress and success statuses; the token never shows', async () => {
    const api = await startGitHubApi();
    try {
      const token = 'ghs_fakeToken0123456789abcdef';
      const r = await runAction('deploy', {
        workspace: workspace('6.0.0'),
        env: { GITHUB_API_URL: api.url },
        inputs: {
          app: 'blog',
          strategy: 'release',
          source: 'app',
          version: '6.0.0',
          'shared-paths': '.env',
          'github-token': token,
          'environment-url': 'https://blog.example.com',
          ...sb.sshInputs([h]),
        },
      });
      expect(r.main.errors).toEqual([]);
      const [create, ...statuses] = api.calls;
      expect(create).toMatchObject({ method: 'POST', path: '/repos/acme/shop/deployments', auth: `token ${token}` });
      expect(create!.body).toMatchObject({ ref: '0123456789abcdef0123456789abcdef01234567', environment: 'production', auto_merge: false, required_contexts: [], production_environment: true });
      expect(statuses.map((c) => c.body.state)).toEqual(['in_progress', 'success']);
      expect(statuses[1]!.body).toMatchObject({ log_url: 'https://github.com/acme/shop/actions/runs/4242', environment_url: 'https://blog.example.com', auto_inactive: true });
      expect(secretLeaks(r.main, [token])).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('without a github-token input the job token is used (the default), and deployment texts are redacted', async () => {
    const api = await startGitHubApi();
    try {
      const job = 'ghs_jobToken9876543210abcdef';
      const r = await runAction('deploy', {
        workspace: workspace('6.1.0'),
        env: { GITHUB_API_URL: api.url },
        githubToken: job,
        inputs: { app: 'blog', strategy: 'release', source: 'app', version: '6.1.0', 'shared-paths': '.env', ...sb.sshInputs([h]) },
      });
      expect(r.main.errors).toEqual([]);
      expect(api.calls[0]).toMatchObject({ method: 'POST', path: '/repos/acme/shop/deployments', auth: `token ${job}` });
      expect(secretLeaks(r.main, [job])).toEqual([]);
    } finally {
      await api.close();
    }
    // The status text goes to GitHub, outside the log's masking: it is redacted first.
    const api2 = await startGitHubApi();
    try {
      const logger = new LineLogger(() => {});
      logger.secrets.add('hunter2-db-pass');
      process.env.GITHUB_API_URL = api2.url;
      const d = await startDeployment({
        token: 'ghs_x1234567',
        repository: 'acme/shop',
        ref: 'abc',
        environment: 'staging',
        logUrl: '',
        description: 'blog 1.0 hunter2-db-pass',
        payload: { v: 'hunter2-db-pass' },
        logger,
      });
      await d!.setStatus('failure', 'hook printed hunter2-db-pass');
      expect(JSON.stringify(api2.calls)).not.toContain('hunter2-db-pass');
      expect(api2.calls.map((c) => c.body.description)).toEqual(['blog 1.0 ***', 'blog 1.0 ***', 'hook printed ***']);
    } finally {
      delete process.env.GITHUB_API_URL;
      await api2.close();
    }
  });

  it('a failing deploy sets the deployment to failure; an unreachable API only warns', async () => {
    const api = await startGitHubApi();
    try {
      const r = await runAction('deploy', {
        workspace: workspace('7.0.0'),
        env: { GITHUB_API_URL: api.url },
        inputs: { app: 'blog', strategy: 'release', source: 'app', version: '7.0.0', 'shared-paths': 'missing-file', 'github-token': 'ghs_x1234567', ...sb.sshInputs([h]) },
      });
      expect(r.main.exitCode).toBe(1);
      expect(api.calls.slice(1).map((c) => c.body.state)).toEqual(['in_progress', 'failure']);
    } finally {
      await api.close();
    }
    const offline = await runAction('deploy', {
      workspace: workspace('7.0.1'),
      env: { GITHUB_API_URL: 'http://127.0.0.1:1' },
      inputs: { app: 'blog', strategy: 'release', source: 'app', version: '7.0.1', 'shared-paths': '.env', 'github-token': 'ghs_x1234567', ...sb.sshInputs([h]) },
    });
    expect(offline.main.exitCode).toBe(0);
    expect(offline.main.warnings.join('\n')).toContain('GitHub deployment could not be created (the deploy goes on)');
  });
});

describe('deploy input errors change nothing on any host', () => {
  it.each([
    [{ strategy: 'blue-green' }, "input 'strategy': 'blue-green' is not one of: compose, release"],
    [{ strategy: 'compose', 'compose-file': 'nope.yml' }, "input 'compose-file': 'nope.yml' does not exist in the workspace"],
    [{ strategy: 'compose', 'compose-file': 'app/VERSION', image: 'shop;rm -rf /' }, "input 'image': 'shop;rm -rf /' is not an image reference"],
    [{ 'keep-releases': '0' }, "input 'keep-releases': 0 is out of range; use 1..100"],
    [{ 'shared-paths': '../etc/passwd' }, "input 'shared-paths': '../etc/passwd' must be a relative path inside the app directory"],
    [{ 'health-url': 'localhost:8080' }, "input 'health-url'"],
  ])('%j', async (inputs, message) => {
    const before = await onHost(pool, h, 'cat "$HOME/$1/history.jsonl" | wc -l; ls "$HOME/$1/releases"', APP_DIR);
    const r = await deploy('9.9.9', inputs as Record<string, string>);
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(message);
    expect(await onHost(pool, h, 'cat "$HOME/$1/history.jsonl" | wc -l; ls "$HOME/$1/releases"', APP_DIR)).toBe(before);
  });
});
