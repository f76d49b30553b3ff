/**
 * The manifest: written LAST, after the data object is stored and its size checked. A
 * backup without one is incomplete: listing, retention and restore never see it (and
 * orphaned data older than a day is cleaned up).
 */
import { joinKey, readText, type Storage, type StoredObject } from '../storage/index.js';

export const MANIFEST_FORMAT = 'ops-actions-backup/1';

export type SourceKind = 'postgres' | 'mysql' | 'sqlite' | 'files' | 'volume';
export type Compression = 'zstd' | 'gzip' | 'none';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  app: string;
  environment: string;
  /** The backup set's name (default: the source kind): one per source a workflow backs up. */
  name: string;
  host: string;
  source: { kind: SourceKind; database?: string; paths?: string[]; volume?: string; path?: string; place?: string };
  /** The dump tool's version line, e.g. `pg_dump (PostgreSQL) 15.8`. */
  tool: string;
  /** The data object's key, relative to the backup's directory. */
  object: string;
  compression: Compression;
  /** The dump compressed itself (pg_dump's custom format): our pipeline left it as it was. */
  dump_compression?: 'pg_dump';
  encryption: { kind: 'age-recipients'; recipients: string[] } | { kind: 'age-passphrase' } | { kind: 'none' };
  plaintext: { bytes: number; sha256: string };
  ciphertext: { bytes: number; sha256: string };
  started: string;
  finished: string;
  exit_code: number;
  warnings: string[];
  run_url?: string;
}

/** Where a backup set lives: `<app>/<environment>/<name>/`. */
export function setPrefix(app: string, environment: string, name: string): string {
  return joinKey(app, environment, name);
}

export function backupDir(app: string, environment: string, name: string, id: string): string {
  return joinKey(setPrefix(app, environment, name), id);
}

/** Backup ids sort by time: `20261201T020000Z-1a2b`. */
export function newBackupId(now = new Date(), rand = Math.random().toString(16).slice(2, 6).padEnd(4, '0')): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${rand}`;
}

export function isManifest(x: unknown): x is Manifest {
  const m = x as Manifest;
  return !!m && m.format === MANIFEST_FORMAT && typeof m.id === 'string' && typeof m.object === 'string' && typeof m.finished === 'string' && !!m.ciphertext && typeof m.ciphertext.sha256 === 'string';
}

export interface Listing {
  /** Complete backups (with a valid manifest), oldest first. */
  complete: Manifest[];
  /** Objects of backups that have no manifest, by backup id. */
  incomplete: Map<string, StoredObject[]>;
}

/** Every backup of a set: the complete ones (manifest read) and the rest. */
export async function listBackups(s: Storage, prefix: string): Promise<Listing> {
  const objects = await s.list(prefix);
  const byId = new Map<string, StoredObject[]>();
  for (const o of objects) {
    const rest = o.key.slice(prefix.length + 1);
    const id = rest.split('/')[0]!;
    if (!byId.has(id)) byId.set(id, []);
    byId.get(id)!.push(o);
  }
  const complete: Manifest[] = [];
  const incomplete = new Map<string, StoredObject[]>();
  for (const [id, objs] of byId) {
    const m = objs.find((o) => o.key === joinKey(prefix, id, 'manifest.json'));
    let manifest: Manifest | undefined;
    if (m) {
      try {
        const parsed = JSON.parse(await readText(s, m.key));
        if (isManifest(parsed) && parsed.id === id) manifest = parsed;
      } catch {
        manifest = undefined;
      }
    }
    if (manifest) complete.push(manifest);
    else incomplete.set(id, objs);
  }
  complete.sort((a, b) => (a.finished < b.finished ? -1 : a.finished > b.finished ? 1 : a.id < b.id ? -1 : 1));
  return { complete, incomplete };
}
