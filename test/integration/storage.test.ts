/**
 * The three storages against real servers (a directory, a backup host over SSH, an S3 server):
 * objects round-trip byte for byte, and a source that fails halfway leaves nothing under the
 * object's name (no truncated object, no temporary file, no open multipart upload).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { SshSession } from '../../src/host/session.js';
import { KnownHosts } from '../../src/host/hostkeys.js';
import { parsePrivateKey } from '../../src/host/keys.js';
import { silentLogger } from '../../src/log.js';
import { fileStorage } from '../../src/storage/file.js';
import { sftpStorage } from '../../src/storage/sftp.js';
import { s3Storage } from '../../src/storage/s3.js';
import type { Storage } from '../../src/storage/index.js';
import { startS3, type S3Fixture } from '../fixtures/s3.js';
import { targetOf } from './helpers.js';

let sb: Sandbox;
let s3: S3Fixture;
let session: SshSession;
const dirs: string[] = [];

beforeAll(async () => {
  sb = await startSandbox({ hosts: 1 });
  s3 = await startS3();
  session = await SshSession.connect(targetOf(sb.hosts[0]!), {
    key: parsePrivateKey(sb.keys.ed25519.privateKey),
    hostKeys: { mode: 'known-hosts', knownHosts: KnownHosts.parse(sb.knownHosts()) },
    connectTimeoutMs: 5000,
    connectRetries: 0,
    commandTimeoutMs: 30_000,
    logger: silentLogger(),
  });
});
afterAll(async () => {
  session?.close();
  await s3?.close();
  await sb?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

/** `size` random bytes in 1 MiB chunks; fails with `fail` after `failAfter` bytes when given. */
function source(size: number, failAfter?: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) {
        this.destroy(new Error('the dump broke halfway'));
        return;
      }
      if (sent >= size) return void this.push(null);
      const c = randomBytes(Math.min(MiB, size - sent));
      hash.update(c);
      sent += c.length;
      this.push(c);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

async function sha256Of(r: Readable): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of r) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), bytes };
}

const kinds: { name: string; make: () => Promise<{ storage: Storage; leftovers: () => Promise<string[]> }> }[] = [
  {
    name: 'file',
    make: async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'store-'));
      dirs.push(dir);
      return {
        storage: fileStorage(dir),
        leftovers: async () =>
          readdirSync(dir, { recursive: true })
            .map(String)
            .filter((f) => f.includes('.partial-')),
      };
    },
  },
  {
    name: 'sftp',
    make: async () => {
      const dir = `${sb.hosts[0]!.home}/vault-${randomBytes(3).toString('hex')}`;
      return {
        storage: sftpStorage(session, dir, `sftp://backup-host${dir}`),
        leftovers: async () => {
          const r = await session.exec(['find', dir, '-name', '*.partial-*']);
          return r.stdout.split('\n').filter(Boolean);
        },
      };
    },
  },
  {
    name: 's3',
    make: async () => {
      const prefix = `t-${randomBytes(3).toString('hex')}`;
      const storage = s3Storage({
        bucket: s3.bucket,
        prefix,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        checksum: 'when-supported',
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
      // s3rver implements neither ListMultipartUploads nor AbortMultipartUpload: what is
      // checked here is that no object appears; the abort is sent (and ignored) all the same.
      return { storage, leftovers: async () => [] };
    },
  },
];

describe.each(kinds)('$name storage', ({ make }) => {
  it('stores 40 MiB byte for byte (several parts on S3), lists its size, reads it back', async () => {
    const { storage } = await make();
    const src = source(40 * MiB);
    const n = await storage.put('shop/production/db/1/data.bin', src.stream);
    expect(n).toBe(40 * MiB);
    expect(await storage.list('shop/production/db')).toMatchObject([{ key: 'shop/production/db/1/data.bin', size: 40 * MiB }]);
    expect(await sha256Of(await storage.get('shop/production/db/1/data.bin'))).toEqual({ sha256: src.sha256(), bytes: 40 * MiB });
    await storage.remove(['shop/production/db/1/data.bin']);
    expect(await storage.list('shop/production/db')).toEqual([]);
  });

  it('a source failing halfway fails the write, and nothing is left under the name or beside it', async () => {
    const { storage, leftovers } = await make();
    await storage.put('shop/production/db/1/keep.bin', source(1000).stream);
    const broken = source(40 * MiB, 20 * MiB);
    await expect(storage.put('shop/production/db/1/data.bin', broken.stream)).rejects.toThrow(/broke halfway|premature close|aborted/i);
    expect((await storage.list('shop/production/db')).map((o) => o.key)).toEqual(['shop/production/db/1/keep.bin']);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses keys outside its root', async () => {
    const { storage } = await make();
    await expect(storage.put('../elsewhere/x', source(10).stream)).rejects.toThrow();
  });
});
