/**
 * Storage in an S3-compatible bucket, through @aws-sdk/client-s3.
 *
 * Objects of unknown length go up as a multipart upload whose parts grow: 16 MiB for the
 * first 2000 parts (32 GiB), 64 MiB up to part 4000 (160 GiB), then 256 MiB (past 1.6 TiB at
 * the 10 000-part limit). One part is held in memory at a time, so memory stays flat for
 * small backups and the size limit is far past 1 TB. (@aws-sdk/lib-storage's Upload uses one
 * fixed part size: 5 MiB fails past 48.8 GiB, and a size fit for 1 TB would hold 2 × 105 MiB
 * even for a small dump.) A stream that ends within the first part is one PutObject; a
 * failed upload is aborted, leaving nothing.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { joinKey, s3Url, type Storage, type StoredObject } from './index.js';

export interface S3Options {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** `when-required` for stores that reject the SDK's default CRC32 checksums (R2, B2, some MinIO). */
  checksum: 'when-supported' | 'when-required';
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

const MiB = 1024 * 1024;

/** The size of part `n` (1-based). */
export function partSize(n: number): number {
  if (n <= 2000) return 16 * MiB;
  if (n <= 4000) return 64 * MiB;
  return 256 * MiB;
}

/** Read exactly `size` bytes (fewer only at the end of the stream). */
async function* parts(body: Readable): AsyncGenerator<Buffer> {
  let n = 1;
  let chunks: Buffer[] = [];
  let have = 0;
  for await (const c of body) {
    let b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    while (b.length) {
      const want = partSize(n) - have;
      const take = b.subarray(0, want);
      chunks.push(take);
      have += take.length;
      b = b.subarray(take.length);
      if (have === partSize(n)) {
        yield Buffer.concat(chunks);
        chunks = [];
        have = 0;
        n++;
      }
    }
  }
  if (have || n === 1) yield Buffer.concat(chunks);
}

export function s3Storage(o: S3Options): Storage {
  const client = new S3Client({
    region: o.region,
    endpoint: o.endpoint,
    forcePathStyle: o.forcePathStyle,
    credentials: o.credentials,
    requestChecksumCalculation: o.checksum === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    responseChecksumValidation: o.checksum === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
  });
  const full = (key: string) => joinKey(o.prefix, key);
  const rel = (key: string) => (o.prefix ? key.slice(joinKey(o.prefix).length + 1) : key);
  const Bucket = o.bucket;
  return {
    url: s3Url(o),
    async put(key, body) {
      const Key = full(key);
      const it = parts(body);
      const first = await it.next();
      const firstPart = first.value ?? Buffer.alloc(0);
      const second = first.done ? { done: true as const, value: undefined } : await it.next();
      if (second.done) {
        await client.send(new PutObjectCommand({ Bucket, Key, Body: firstPart, ContentLength: firstPart.length }));
        return firstPart.length;
      }
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      const done: { ETag: string; PartNumber: number }[] = [];
      let total = 0;
      try {
        let n = 1;
        const upload = async (b: Buffer) => {
          const r = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: b, ContentLength: b.length }));
          done.push({ ETag: r.ETag!, PartNumber: n });
          total += b.length;
          n++;
        };
        await upload(firstPart);
        await upload(second.value);
        for await (const b of it) await upload(b);
        await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
        return total;
      } catch (e) {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
        throw e;
      }
    },
    async get(key) {
      const r = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }));
      return r.Body as Readable;
    },
    async list(prefix) {
      const out: StoredObject[] = [];
      let ContinuationToken: string | undefined;
      do {
        const r = await client.send(new ListObjectsV2Command({ Bucket, Prefix: `${full(prefix)}/`, ContinuationToken }));
        for (const c of r.Contents ?? []) if (c.Key) out.push({ key: rel(c.Key), size: c.Size ?? 0, modified: c.LastModified ?? new Date(0) });
        ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return out.sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    async remove(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        const r = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch.map((k) => ({ Key: full(k) })), Quiet: true } }));
        if (r.Errors?.length) throw new Error(`deleting from s3://${Bucket} failed: ${r.Errors.map((e) => `${e.Key}: ${e.Message}`).join('; ')}`);
      }
    },
    async close() {
      client.destroy();
    },
  };
}
