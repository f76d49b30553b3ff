/**
 * Storage on a backup server reached over SSH (`sftp://[user@]host[:port]/path`), verified
 * like any host. Objects are streamed through the SSH connection (never whole in memory),
 * written 0600 under a temporary name and renamed.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { catCommand, commitObjectCommand, listFilesCommand, removePathsCommand, writeStdinCommand } from '../commands/storage.js';
import type { SshSession } from '../host/session.js';
import { removeFilesCommand } from '../commands/host.js';
import { errorMessage } from '../log.js';
import type { Storage, StoredObject } from './index.js';

export function sftpStorage(session: SshSession, root: string, url: string): Storage {
  const abs = (key: string) => {
    const p = path.posix.normalize(path.posix.join(root, key));
    if (p !== root && !p.startsWith(root.endsWith('/') ? root : `${root}/`)) throw new Error(`key ${key} is outside ${root}`);
    return p;
  };
  return {
    url,
    async put(key, body) {
      let n = 0;
      const count = new Transform({
        transform(c: Buffer, _e, cb) {
          n += c.length;
          cb(null, c);
        },
      });
      const final = abs(key);
      const tmp = `${final}.partial-${randomBytes(6).toString('hex')}`;
      // A failing source destroys the whole chain (and so the channel): the remote write
      // then ends early, and the object is never renamed into place.
      const sent = pipeline(body, count);
      sent.catch(() => {});
      try {
        const r = await session.stream(writeStdinCommand(tmp), { stdin: count, step: 'storage write', timeoutMs: 24 * 3600_000 });
        const drained = pipeline(r.stdout, new Writable({ write: (_c, _e, cb) => cb() }));
        drained.catch(() => {});
        const [s] = await Promise.allSettled([sent, drained]);
        const done = await r.done;
        if (s.status === 'rejected') throw s.reason;
        if (done.code !== 0) throw new Error(`exit ${done.code}: ${done.stderrTail}`);
        const mv = await session.exec(commitObjectCommand(tmp, final), { step: 'storage write' });
        if (mv.code !== 0) throw new Error(`renaming into place failed (exit ${mv.code}): ${mv.stderr.trim()}`);
      } catch (e) {
        await session.exec(removeFilesCommand([tmp])).catch(() => {});
        throw new Error(`writing ${url}/${key} failed on ${session.target.name}: ${errorMessage(e)}`);
      }
      return n;
    },
    async get(key) {
      const r = await session.stream(catCommand(abs(key)), { step: 'storage read', timeoutMs: 24 * 3600_000 });
      r.done.then(
        (d) => {
          if (d.code !== 0) r.stdout.destroy(new Error(`reading ${url}/${key} failed on ${session.target.name} (exit ${d.code}): ${d.stderrTail}`));
        },
        (e) => r.stdout.destroy(e),
      );
      return r.stdout as Readable;
    },
    async list(prefix) {
      const r = await session.run(listFilesCommand(abs(prefix)), { step: 'storage list' });
      const base = path.posix.relative(root, abs(prefix));
      const out: StoredObject[] = [];
      for (const line of r.stdout.split('\n')) {
        const [p, size, mtime] = line.split('\t');
        if (!p || size === undefined || mtime === undefined) continue;
        out.push({ key: base ? `${base}/${p}` : p, size: Number(size), modified: new Date(Number(mtime) * 1000) });
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    async remove(keys) {
      if (keys.length) await session.run(removePathsCommand(root, keys), { step: 'storage remove' });
    },
    async close() {},
  };
}
