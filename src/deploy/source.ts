/**
 * A file release's source, checked on the runner before anything is sent: no symlink may
 * point outside the release (absolute, or climbing out with `..`), and no archive member
 * may be absolute or climb out. Such a link would let the release (or a shared path, or
 * the manifest write) reach files outside the app directory on the host.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { NonUtf8NameError, scanTree, treeLinks, type Tree } from './tree.js';

export class SourceError extends Error {}

/**
 * Why a link at `linkPath` (relative to the release root) pointing at `target` escapes the
 * release, or undefined when it stays inside: `..` segments and every symlink of the tree
 * met on the way (`links`: path → target) are followed, so a chain of links that each look
 * harmless cannot climb out either.
 */
export function linkEscapes(linkPath: string, target: string, links: Map<string, string> = new Map()): string | undefined {
  if (target.startsWith('/')) return `points to the absolute path ${target}`;
  const why = walkInside(path.posix.dirname(linkPath), target, links);
  return why ? `points outside the release (${target}${why === target ? '' : `, through ${why}`})` : undefined;
}

/** Resolve `rel` from directory `from` inside the tree; the link or target it escapes by, or undefined. */
function walkInside(from: string, rel: string, links: Map<string, string>): string | undefined {
  const comps = [...(from === '.' ? [] : from.split('/')), ...rel.split('/')];
  const cur: string[] = [];
  let hops = 0;
  while (comps.length) {
    const c = comps.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (!cur.length) return rel;
      cur.pop();
      continue;
    }
    cur.push(c);
    const t = links.get(cur.join('/'));
    if (t === undefined) continue;
    if (++hops > 40) return `${cur.join('/')} (a loop of links)`;
    if (t.startsWith('/')) return `${cur.join('/')} -> ${t}`;
    cur.pop();
    comps.unshift(...t.split('/'));
  }
  return undefined;
}

/** A member whose parent directories lead outside the release through links. */
function memberEscapes(name: string, links: Map<string, string>): string | undefined {
  const dir = path.posix.dirname(name);
  return dir === '.' ? undefined : walkInside('.', dir, links);
}

/** A member name that is absolute or climbs out of the release. */
export function nameEscapes(name: string): boolean {
  const n = name.replace(/^\.\/+/, '');
  return n.startsWith('/') || n.split('/').includes('..');
}

/** Check a directory source: every symlink must stay inside it. */
export async function checkDirectory(root: string): Promise<void> {
  checkTreeLinks(scanTree(root, { hash: false, names: 'latin1' }));
}

/** Every symlink of a scanned tree must stay inside it. */
export function checkTreeLinks(tree: Tree): void {
  const links = treeLinks(tree);
  const bad: string[] = [];
  for (const [l, t] of links) {
    const why = linkEscapes(l, t, links);
    if (why) bad.push(`${l} ${why}`);
  }
  if (bad.length) throw new SourceError(refusal(bad));
}

function refusal(bad: string[]): string {
  return `the release source has links that point outside it, which could change files outside the app directory on the host: ${bad.slice(0, 10).join('; ')}${bad.length > 10 ? `; and ${bad.length - 10} more` : ''}. Make them relative links inside the release, or use shared-paths.`;
}

interface TarEntry {
  name: string;
  type: string;
  linkname: string;
}

const str = (b: Buffer, start: number, len: number) => {
  const s = b.subarray(start, start + len);
  const nul = s.indexOf(0);
  return (nul >= 0 ? s.subarray(0, nul) : s).toString('utf8');
};

function octal(b: Buffer, start: number, len: number): number {
  const f = b.subarray(start, start + len);
  if (f[0]! & 0x80) {
    // GNU base-256 for large sizes.
    let n = 0;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i]!;
    return n;
  }
  const t = str(b, start, len).trim();
  return t ? parseInt(t, 8) : 0;
}

function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.subarray(i, sp).toString());
    if (!len) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** The members of a tar stream (ustar, pax and GNU long names), headers only. */
export async function* tarEntries(input: Readable): AsyncGenerator<TarEntry> {
  let buf = Buffer.alloc(0);
  let skip = 0;
  let pending: { kind: 'pax' | 'global' | 'longname' | 'longlink'; size: number } | undefined;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for await (const chunk of input) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        buf = buf.subarray(n);
        skip -= n;
        if (skip > 0) break;
      }
      if (pending) {
        const padded = Math.ceil(pending.size / 512) * 512;
        if (buf.length < padded) break;
        const data = buf.subarray(0, pending.size);
        if (pending.kind === 'pax') pax = { ...pax, ...paxRecords(data) };
        else if (pending.kind === 'global') {
          // A global header would set the name or link target of every member that follows.
          const g = paxRecords(data);
          if ('path' in g || 'linkpath' in g) throw new SourceError('the tarball has a pax global header that sets member names or link targets; refusing it');
        } else if (pending.kind === 'longname') longName = str(data, 0, data.length);
        else longLink = str(data, 0, data.length);
        buf = buf.subarray(padded);
        pending = undefined;
        continue;
      }
      if (buf.length < 512) break;
      const h = buf.subarray(0, 512);
      buf = buf.subarray(512);
      if (h.every((x) => x === 0)) continue;
      const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
      const size = octal(h, 124, 12);
      if (type === 'x' || type === 'L' || type === 'K') {
        pending = { kind: type === 'x' ? 'pax' : type === 'L' ? 'longname' : 'longlink', size };
        continue;
      }
      if (type === 'g') {
        pending = { kind: 'global', size };
        continue;
      }
      const prefix = str(h, 257, 6).startsWith('ustar') ? str(h, 345, 155) : '';
      const base = str(h, 0, 100);
      const name = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
      const linkname = pax.linkpath ?? longLink ?? str(h, 157, 100);
      yield { name, type, linkname };
      pax = {};
      longName = undefined;
      longLink = undefined;
      // Links, devices, directories and fifos have no data; everything else is followed by its bytes.
      skip = '123456'.includes(type) ? 0 : Math.ceil(size / 512) * 512;
    }
  }
}

/** Check a tarball source: no member outside the release, no link pointing out of it. */
export async function checkTarball(file: string): Promise<void> {
  const raw = createReadStream(file);
  const input = /\.(tgz|tar\.gz)$/i.test(file) ? raw.pipe(createGunzip()) : raw;
  const bad: string[] = [];
  const links = new Map<string, string>();
  const members: { name: string; type: string; linkname: string }[] = [];
  try {
    for await (const e of tarEntries(input)) {
      const name = e.name.replace(/^\.\/+/, '').replace(/\/+$/, '');
      if (nameEscapes(e.name)) bad.push(`${e.name} is outside the release`);
      else {
        members.push({ name, type: e.type, linkname: e.linkname });
        if (e.type === '2') links.set(name, e.linkname);
      }
    }
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`cannot read the tarball ${file}: ${(err as Error).message}`);
  } finally {
    raw.destroy();
  }
  for (const m of members) {
    const through = memberEscapes(m.name, links);
    if (through) bad.push(`${m.name} is written through ${through}, outside the release`);
    else if (m.type === '2') {
      const why = linkEscapes(m.name, m.linkname, links);
      if (why) bad.push(`${m.name} ${why}`);
    } else if (m.type === '1' && (nameEscapes(m.linkname) || walkInside('.', m.linkname, links))) bad.push(`${m.name} is a hard link to ${m.linkname}, outside the release`);
  }
  if (bad.length) throw new SourceError(refusal(bad));
}

/**
 * Check a source (directory or tarball) before it is sent. A directory is read once here:
 * its tree (hashed) is what the deploy sends and records.
 */
export async function checkSource(source: string): Promise<Tree | undefined> {
  const st = await fs.stat(source);
  if (!st.isDirectory()) {
    await checkTarball(source);
    return undefined;
  }
  try {
    const tree = scanTree(source);
    checkTreeLinks(tree);
    return tree;
  } catch (e) {
    if (!(e instanceof NonUtf8NameError)) throw e;
    // Names that are not UTF-8 cannot be listed for a partial send: checked byte for byte, sent whole.
    checkTreeLinks(scanTree(source, { hash: false, names: 'latin1' }));
    return undefined;
  }
}
