/**
 * Where backups live: an S3-compatible bucket, a directory on a backup server over SFTP,
 * or a directory on the runner. The same small interface for all: objects are written from
 * a stream (never held whole in memory), read as a stream, listed with sizes and times,
 * and deleted.
 */
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  modified: Date;
}

export interface Storage {
  /** `s3://bucket/prefix`, `sftp://host/path`, `file:///path`, for messages and manifests. */
  readonly url: string;
  /** Write an object from a stream; resolves with the bytes written. */
  put(key: string, body: Readable): Promise<number>;
  get(key: string): Promise<Readable>;
  /** Every object under a prefix (recursively). */
  list(prefix: string): Promise<StoredObject[]>;
  remove(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

/** The object key under the storage prefix. */
export function joinKey(...parts: string[]): string {
  const segments = parts.flatMap((p) => p.split('/')).filter(Boolean);
  const bad = segments.find((s) => s === '.' || s === '..');
  if (bad) throw new Error(`object key ${parts.join('/')} has a '${bad}' segment`);
  return segments.join('/');
}

/** `s3://bucket/prefix`, as messages and manifests name an S3 storage. */
export const s3Url = (o: { bucket: string; prefix?: string }) => `s3://${o.bucket}${o.prefix ? `/${joinKey(o.prefix)}` : ''}`;

/** A whole small object (a manifest) as text. */
export async function readText(s: Storage, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await s.get(key)) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A storage whose implementation is loaded on first use (`url` known at once): a heavy
 * client (the AWS SDK) costs nothing to the steps that never touch it.
 */
export function lazyStorage(url: string, load: () => Promise<Storage>): Storage {
  let s: Promise<Storage> | undefined;
  const get = () => {
    s ??= load();
    return s;
  };
  return {
    url,
    put: async (key, body) => (await get()).put(key, body),
    get: async (key) => (await get()).get(key),
    list: async (prefix) => (await get()).list(prefix),
    remove: async (keys) => (await get()).remove(keys),
    close: async () => {
      if (s) await (await s).close();
    },
  };
}
