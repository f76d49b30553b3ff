/** Inputs backup and restore share: what the data is (source) and where backups live (storage). */
import { f } from '../inputs/schema.js';
import { ParseError } from '../text.js';

const DB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_$.-]{0,62}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const absolutePaths = (raw: string) => {
  const paths = raw
    .split(/\n|,/)
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith('#'));
  for (const p of paths) if (!p.startsWith('/') || p.split('/').includes('..')) throw new ParseError(`'${p}' must be an absolute path without '..'`);
  return paths;
};

export const sourceSchema = {
  source: f.enumOf(['postgres', 'mysql', 'sqlite', 'files', 'volume'] as const, { required: true }),
  name: f.string({ pattern: NAME, hint: 'letters, digits, . _ - (the backup set; default: the source kind)' }),
  database: f.string({ pattern: DB_NAME, hint: 'a database name: letters, digits, _ $ . -' }),
  'db-user': f.string({ pattern: /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,62}$/, hint: 'a database user name' }),
  'db-password': f.optionalString({ secret: true }),
  'db-host': f.string({ pattern: /^[A-Za-z0-9_.:-]{1,253}$/, hint: 'a host name or address as the server sees it' }),
  'db-port': f.optionalInt(1, 65535),
  container: f.string({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, hint: 'a container name or id' }),
  'compose-service': f.string({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, hint: 'a compose service name' }),
  'sqlite-path': f.custom((raw) => absolutePaths(raw)[0] ?? '', { default: '' }),
  paths: f.custom(absolutePaths, { default: [] as string[] }),
  volume: f.string({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, hint: 'a docker volume name' }),
  'volume-image': f.string({ default: 'busybox:1.36', pattern: /^[a-z0-9][a-z0-9._/:@-]*$/, hint: 'an image with tar, e.g. busybox:1.36' }),
};

export const storageSchema = {
  storage: f.custom(parseStorageUrl, { required: true }),
  's3-endpoint': f.optionalString(),
  's3-region': f.string({ default: '' }),
  's3-force-path-style': f.bool({ default: false }),
  's3-checksum': f.enumOf(['when-supported', 'when-required'] as const, { default: 'when-supported' }),
  's3-access-key-id': f.optionalString({ secret: true }),
  's3-secret-access-key': f.optionalString({ secret: true }),
  's3-session-token': f.optionalString({ secret: true }),
};

export type StorageUrl = { kind: 's3'; bucket: string; prefix: string } | { kind: 'sftp'; user?: string; host: string; port?: number; path: string } | { kind: 'file'; path: string };

/** `s3://bucket/prefix`, `sftp://[user@]host[:port]/path`, `file:///path`. */
export function parseStorageUrl(raw: string): StorageUrl {
  const s = raw.trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ParseError(`'${s}' is not a storage URL; use s3://bucket/prefix, sftp://[user@]host[:port]/path or file:///path`);
  }
  const p = decodeURIComponent(u.pathname);
  if (p.split('/').includes('..')) throw new ParseError(`'${s}': the path may not contain '..'`);
  if (u.protocol === 's3:') {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(u.hostname)) throw new ParseError(`'${s}': '${u.hostname}' is not a bucket name`);
    return { kind: 's3', bucket: u.hostname, prefix: p.replace(/^\/+|\/+$/g, '') };
  }
  if (u.protocol === 'sftp:') {
    if (!u.hostname) throw new ParseError(`'${s}': no host`);
    if (!p.startsWith('/') || p === '/') throw new ParseError(`'${s}': give an absolute directory, e.g. sftp://backup@vault.example.com/srv/backups`);
    return { kind: 'sftp', user: u.username || undefined, host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : undefined, path: p.replace(/\/+$/, '') };
  }
  if (u.protocol === 'file:') {
    if (!p.startsWith('/') || p === '/') throw new ParseError(`'${s}': give an absolute directory, e.g. file:///mnt/backups`);
    return { kind: 'file', path: p.replace(/\/+$/, '') };
  }
  throw new ParseError(`'${s}': ${u.protocol.replace(':', '')} is not a storage; use s3://, sftp:// or file://`);
}
