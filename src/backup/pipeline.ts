/**
 * The backup stream, on the runner: plaintext tap (sha256, byte count, the last bytes for
 * completion markers) → compression (zstd, gzip or none) → age encryption (X25519
 * recipients or an scrypt passphrase) → ciphertext tap → storage. Everything is streamed
 * with backpressure: memory does not grow with the size of the dump, and no temporary
 * file of the whole dump is written. Restore runs the same steps backwards.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { Compression } from './manifest.js';

export interface Tapped {
  bytes: number;
  sha256: string;
  /** The last bytes that went through (up to 4 KiB). */
  tail: Buffer;
}

/** A pass-through that hashes and counts what goes through it. */
export function tap(): { stream: Transform; result: () => Tapped } {
  const hash = createHash('sha256');
  let bytes = 0;
  let last: Buffer = Buffer.alloc(0);
  let digest: string | undefined;
  const stream = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      last = chunk.length >= 4096 ? chunk.subarray(chunk.length - 4096) : Buffer.concat([last, chunk]).subarray(-4096);
      cb(null, chunk);
    },
  });
  return {
    stream,
    result: () => {
      digest ??= hash.digest('hex');
      return { bytes, sha256: digest, tail: Buffer.from(last) };
    },
  };
}

type Zlib = typeof zlib & {
  createZstdCompress?: (o?: object) => Transform;
  createZstdDecompress?: (o?: object) => Transform;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number };
};
const z = zlib as Zlib;

/** zstd comes with Node's zlib from Node 22.15 on (the actions run on Node 24). */
export function zstdAvailable(): boolean {
  return typeof z.createZstdCompress === 'function';
}

export function compressor(kind: Compression): Transform {
  if (kind === 'gzip') return zlib.createGzip({ level: 6 });
  if (kind === 'zstd') {
    if (!z.createZstdCompress) throw new Error(`zstd needs Node 22.15 or later (this is ${process.version}); use compression: gzip`);
    return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel!]: 3 } });
  }
  return new PassThrough();
}

export function decompressor(kind: Compression): Transform {
  if (kind === 'gzip') return zlib.createGunzip();
  if (kind === 'zstd') {
    if (!z.createZstdDecompress) throw new Error(`zstd needs Node 22.15 or later (this is ${process.version})`);
    return z.createZstdDecompress();
  }
  return new PassThrough();
}

export type Encryption = { recipients: string[] } | { passphrase: string } | { none: true };

/** The age-encrypted stream of `input` (or `input` itself without encryption). */
export async function encrypt(input: Readable, e: Encryption): Promise<Readable> {
  if ('none' in e) return input;
  // Loaded when used: age and its post-quantum curves are a third of the bundle.
  const { Encrypter } = await import('age-encryption');
  const enc = new Encrypter();
  if ('passphrase' in e) enc.setPassphrase(e.passphrase);
  else for (const r of e.recipients) enc.addRecipient(r);
  const out = await enc.encrypt(Readable.toWeb(input) as ReadableStream<Uint8Array>);
  return Readable.fromWeb(out as never);
}

export type Decryption = { identities: string[] } | { passphrase: string } | { none: true };

export async function decrypt(input: Readable, d: Decryption): Promise<Readable> {
  if ('none' in d) return input;
  const { Decrypter } = await import('age-encryption');
  const dec = new Decrypter();
  if ('passphrase' in d) dec.addPassphrase(d.passphrase);
  else for (const i of d.identities) dec.addIdentity(i);
  const out = await dec.decrypt(Readable.toWeb(input) as ReadableStream<Uint8Array>);
  return Readable.fromWeb(out as never);
}

/** An age X25519 recipient (`age1...`), as `age-keygen -y` prints it. */
export const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
export const AGE_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;
