/**
 * backup and restore of a docker volume on a host with its own Docker engine: the volume's
 * content streams out of a helper container and back into another volume.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import { mustDocker, type Engine } from '../../sandbox/docker.js';
import { runAction } from '../harness.js';
import { execFileSync } from 'node:child_process';

let sb: Sandbox;
let host: SandboxHost;
let engine: Engine;
let identity: string;
let recipient: string;
const IMAGE = 'ops-tar:1';

beforeAll(async () => {
  sb = await startSandbox({ hosts: 1, docker: true });
  host = sb.hosts[0]!;
  engine = sb.engines.get(host.name)!;
  // A helper image with busybox tar (users pass any image with tar, e.g. busybox).
  const ctx = path.join(sb.root, 'tar-image');
  mkdirSync(path.join(ctx, 'rootfs', 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(ctx, 'rootfs', 'bin', 'busybox'));
  chmodSync(path.join(ctx, 'rootfs', 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'tar', 'ls', 'find', 'sort', 'md5sum', 'mkdir', 'chmod', 'ln', 'head', 'printf', 'xargs', 'stat']) symlinkSync('busybox', path.join(ctx, 'rootfs', 'bin', a));
  writeFileSync(path.join(ctx, 'Dockerfile'), ['FROM scratch', 'COPY rootfs/ /', 'ENV PATH=/bin', ''].join('\n'));
  await mustDocker(engine, ['build', '-q', '-t', IMAGE, ctx], { timeoutMs: 120_000 });
  const out = execFileSync('age-keygen', { encoding: 'utf8' });
  identity = out.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  recipient = /public key: (age1\S+)/.exec(out)![1]!;
}, 180_000);
afterAll(async () => {
  await sb?.stop();
});

const inVolume = (volume: string, script: string) => mustDocker(engine, ['run', '--rm', '--network', 'none', '-v', `${volume}:/d`, IMAGE, 'sh', '-c', script]);
// Names, types, modes, owners, sizes and symlink targets of everything; mtimes and contents of files. (busybox tar
// restores file mtimes but not those of directories and symlinks, so theirs are not compared.)
const listing = (volume: string) =>
  inVolume(volume, "cd /d && find . | sort | xargs stat -c '%n %A %u:%g %s %N' && find . -type f | sort | xargs stat -c '%n %Y' && find . -type f | sort | xargs md5sum");

describe('volume', () => {
  it('backup → restore into another volume → identical; a volume that holds data needs drop-existing', async () => {
    await mustDocker(engine, ['volume', 'create', 'shop_data']);
    await inVolume('shop_data', 'mkdir -p /d/uploads && printf hello > /d/uploads/a.txt && chmod 0640 /d/uploads/a.txt && ln -s uploads/a.txt /d/link && head -c 200000 /dev/urandom > /d/blob');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vault-'));
    const common = { app: 'shop', ...sb.sshInputs([host]), source: 'volume', 'volume-image': IMAGE, storage: `file://${dir}` };
    const b = (await runAction('backup', { inputs: { ...common, volume: 'shop_data', 'encrypt-to': recipient } })).main;
    expect(b.errors).toEqual([]);
    expect(b.summary).toContain('shop_data');
    const restore = (inputs: Record<string, string>) => runAction('restore', { inputs: { ...common, name: 'volume', identity, mode: 'full', ...inputs } }).then((x) => x.main);
    const r = await restore({ volume: 'shop_data_restored' });
    expect(r.errors).toEqual([]);
    expect(await listing('shop_data_restored')).toBe(await listing('shop_data'));
    // Now the target holds data: refused without drop-existing, replaced with it.
    await inVolume('shop_data_restored', 'printf stray > /d/stray');
    const refused = await restore({ volume: 'shop_data_restored' });
    expect(refused.exitCode).toBe(1);
    expect(refused.errors[0]).toContain('drop-existing: true');
    const replaced = await restore({ volume: 'shop_data_restored', 'drop-existing': 'true' });
    expect(replaced.errors).toEqual([]);
    expect(await listing('shop_data_restored')).toBe(await listing('shop_data'));
  }, 180_000);
});
