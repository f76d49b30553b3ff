/** Storage in a directory of the runner (for self-hosted runners with a backup disk). */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Storage, StoredObject } from './index.js';

export function fileStorage(root: string): Storage {
  const abs = (key: string) => {
    const p = path.resolve(root, key);
    if (p !== root && !p.startsWith(root + path.sep)) throw new Error(`key ${key} is outside ${root}`);
    return p;
  };
  return {
    url: `file://${root}`,
    async put(key, body) {
      const p = abs(key);
      await fs.mkdir(path.dirname(p), { recursive: true });
      // Written under a temporary name and renamed: a half-written object never has its name.
      const tmp = `${p}.partial-${process.pid}`;
      let n = 0;
      const count = new Transform({
        transform(c: Buffer, _e, cb) {
          n += c.length;
          cb(null, c);
        },
      });
      try {
        await pipeline(body, count, createWriteStream(tmp, { mode: 0o600 }));
        await fs.rename(tmp, p);
      } catch (e) {
        await fs.rm(tmp, { force: true });
        throw e;
      }
      return n;
    },
    async get(key) {
      const p = abs(key);
      await fs.access(p);
      return createReadStream(p) as Readable;
    },
    async list(prefix) {
      const out: StoredObject[] = [];
      const walk = async (dir: string) => {
        const ents = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
        for (const e of ents) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) await walk(p);
          else if (e.isFile() && !e.name.includes('.partial-')) {
            const st = await fs.stat(p);
            out.push({ key: path.relative(root, p).split(path.sep).join('/'), size: st.size, modified: st.mtime });
          }
        }
      };
      await walk(abs(prefix));
      return out.sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    async remove(keys) {
      for (const k of keys) {
        await fs.rm(abs(k), { force: true });
        // The backup's directory goes with its last object.
        await fs.rmdir(path.dirname(abs(k))).catch(() => {});
      }
    },
    async close() {},
  };
}
