import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractCommand, readTreeCommand, removeReleasesCommand, reuseFilesCommand, recordReleaseCommand } from '../../src/commands/index.js';
import { confirmReuse, NonUtf8NameError, parseHostFiles, parseTree, planDelta, scanTree, type HostFile, type Tree } from '../../src/deploy/tree.js';
import { checkSource } from '../../src/deploy/source.js';
import type { Command } from '../../src/shell/index.js';

/** Run a command built for a host with this machine's sh. */
const run = (c: Command, input?: string | Buffer) => execFileSync(String(c[0]), c.slice(1).map(String), { input, encoding: 'utf8' });
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function source(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'tree-'));
  mkdirSync(path.join(d, 'app', 'lib'), { recursive: true });
  writeFileSync(path.join(d, 'app', 'index.php'), 'hello');
  writeFileSync(path.join(d, 'app', 'lib', 'a.php'), 'a');
  writeFileSync(path.join(d, 'app', 'run.sh'), '#!/bin/sh\n');
  chmodSync(path.join(d, 'app', 'run.sh'), 0o755);
  symlinkSync('lib/a.php', path.join(d, 'app', 'alias.php'));
  for (const f of ['index.php', 'lib/a.php', 'run.sh']) utimesSync(path.join(d, 'app', f), 1_700_000_000.7, 1_700_000_000.7);
  return path.join(d, 'app');
}

describe('a file release tree', () => {
  it('lists every path (links recorded, never followed) with mode, size, whole-second mtime and hash', async () => {
    const t = scanTree(source());
    expect(t.entries.map((e) => [e.path, e.type])).toEqual([
      ['alias.php', 'l'],
      ['index.php', 'f'],
      ['lib', 'd'],
      ['lib/a.php', 'f'],
      ['run.sh', 'f'],
    ]);
    const byPath = new Map(t.entries.map((e) => [e.path, e]));
    expect(byPath.get('alias.php')!.target).toBe('lib/a.php');
    expect(byPath.get('index.php')).toMatchObject({ size: 5, mtime: 1_700_000_000, hash: sha('hello'), mode: 0o644 });
    expect(byPath.get('run.sh')!.mode).toBe(0o755);
    expect(parseTree(JSON.stringify(t))).toEqual(t);
    expect(parseTree('{"version":2,"entries":[]}')).toBeUndefined();
    expect(parseTree('not json')).toBeUndefined();
  });

  it('reuses a file only when its content, mode and size match and the host copy is as recorded', () => {
    const f = (p: string, hash: string, o: Partial<{ mode: number; size: number; mtime: number }> = {}) => ({ path: p, type: 'f' as const, mode: 0o644, size: 1, mtime: 100, hash, ...o });
    const base: Tree = { version: 1, entries: [f('same', 'h1'), f('changed', 'h2'), f('mode', 'h3'), f('touched', 'h4'), f('edited', 'h5'), f('gone-on-host', 'h6'), f('deleted', 'h7')] };
    const local: Tree = {
      version: 1,
      entries: [
        { path: 'dir', type: 'd', mode: 0o755, size: 0, mtime: 200 },
        f('same', 'h1', { mtime: 300 }),
        f('changed', 'h2b', { mtime: 300 }),
        f('mode', 'h3', { mode: 0o755 }),
        f('touched', 'h4'),
        f('edited', 'h5'),
        f('gone-on-host', 'h6'),
        f('new', 'h8', { size: 10 }),
      ],
    };
    const host = new Map<string, HostFile>([
      ['same', { size: 1, mtime: 100, mode: 0o644 }],
      ['changed', { size: 1, mtime: 100, mode: 0o644 }],
      ['mode', { size: 1, mtime: 100, mode: 0o644 }],
      ['touched', { size: 1, mtime: 101, mode: 0o644 }],
      ['edited', { size: 2, mtime: 100, mode: 0o644 }],
    ]);
    const d = planDelta(local, base, host);
    expect(d.reuse).toEqual(['same']);
    expect(d.send.map((e) => e.path)).toEqual(['dir', 'changed', 'mode', 'touched', 'edited', 'gone-on-host', 'new']);
    expect(d.sendBytes).toBe(15);
    expect(d.reuseBytes).toBe(1);
    // A reused file keeps the base's inode, so its recorded mtime is the base's; deleted files are gone.
    expect(d.stored.entries.find((e) => e.path === 'same')!.mtime).toBe(100);
    expect(d.stored.entries.map((e) => e.path)).not.toContain('deleted');
    // Without a base, everything is sent.
    expect(planDelta(local).reuse).toEqual([]);
    expect(planDelta(local).send).toHaveLength(local.entries.length);
  });

  it('reads the listing find prints, names with newlines and spaces included', () => {
    const m = parseHostFiles('a b\x003\x001700000000.5000000000\x00644\x00x\ny\x000\x001700000001.0000000000\x00755\x00');
    expect(m.get('a b')).toEqual({ size: 3, mtime: 1_700_000_000, mode: 0o644 });
    expect(m.get('x\ny')).toEqual({ size: 0, mtime: 1_700_000_001, mode: 0o755 });
  });
});

describe('the host side of a file release, run by this machine', () => {
  it('reads the base, links unchanged files, extracts the rest without writing through a link, records and prunes the tree', async () => {
    const app = mkdtempSync(path.join(os.tmpdir(), 'appdir-'));
    const src = source();
    const v1 = scanTree(src);
    // Release 1: the whole tree.
    const r1 = path.join(app, 'releases', 'R1');
    run(extractCommand(r1, false), execFileSync('tar', ['-C', src, '-cf', '-', '.']));
    // A release.json in the source, even a link pointing out, is replaced, never written through.
    const outside = path.join(app, 'outside.json');
    writeFileSync(outside, 'precious');
    symlinkSync(outside, path.join(r1, 'release.json'));
    run(recordReleaseCommand(app, 'R1', '{"id":"R1"}\n', true), JSON.stringify(v1));
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    expect(readFileSync(path.join(r1, 'release.json'), 'utf8')).toBe('{"id":"R1"}\n');
    expect(statSync(path.join(r1, 'release.json')).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(app, '.tree', 'R1.json')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(app, '.tree', 'R1.json')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(app, '.tree')).mode & 0o777).toBe(0o700);

    const out = run(readTreeCommand(app, 'R1'));
    const cut = out.indexOf('\n\0\n');
    expect(parseTree(out.slice(0, cut))).toEqual(v1);
    const host = parseHostFiles(out.slice(cut + 3));
    expect([...host.keys()].sort()).toEqual(['index.php', 'lib/a.php', 'release.json', 'run.sh']);
    expect(host.get('run.sh')).toEqual({ size: 10, mtime: 1_700_000_000, mode: 0o755 });
    expect(run(readTreeCommand(app, 'nothing'))).toBe('');

    // Release 2: index.php changed, lib/a.php and run.sh unchanged.
    writeFileSync(path.join(src, 'index.php'), 'hello v2');
    const v2 = scanTree(src);
    const d = planDelta(v2, v1, host);
    expect(d.reuse).toEqual(['lib/a.php', 'run.sh']);
    const r2 = path.join(app, 'releases', 'R2');
    run(reuseFilesCommand(r1, r2, 'link'), d.reuse.map((p) => `./${p}\0`).join(''));
    expect(statSync(path.join(r2, 'lib', 'a.php')).ino).toBe(statSync(path.join(r1, 'lib', 'a.php')).ino);
    // Even a file of the archive that exists as a link is replaced, never written through.
    run(reuseFilesCommand(r1, r2, 'link'), './index.php\0');
    const list = d.send.map((e) => `./${e.path}\0`).join('');
    run(extractCommand(r2, false), execFileSync('tar', ['-C', src, '-cf', '-', '--null', '--no-recursion', '-T', '-'], { input: list }));
    expect(readFileSync(path.join(r2, 'index.php'), 'utf8')).toBe('hello v2');
    expect(readFileSync(path.join(r1, 'index.php'), 'utf8')).toBe('hello');
    expect(readFileSync(path.join(r2, 'alias.php'), 'utf8')).toBe('a');
    expect(statSync(path.join(r2, 'run.sh')).mode & 0o777).toBe(0o755);

    // Copies keep mode and mtime, on an inode of their own.
    const r3 = path.join(app, 'releases', 'R3');
    run(reuseFilesCommand(r1, r3, 'copy'), './run.sh\0');
    const [a, b] = [statSync(path.join(r1, 'run.sh')), statSync(path.join(r3, 'run.sh'))];
    expect(b.ino).not.toBe(a.ino);
    expect([b.mode, Math.floor(b.mtimeMs / 1000)]).toEqual([a.mode, Math.floor(a.mtimeMs / 1000)]);

    run(removeReleasesCommand(app, ['R1']));
    expect(() => statSync(path.join(app, '.tree', 'R1.json'))).toThrow();
    expect(readFileSync(path.join(r2, 'lib', 'a.php'), 'utf8')).toBe('a');
  });
});

describe('sources the tree cannot name, and hosts that did not reuse as asked', () => {
  it('a name that is not UTF-8: no tree (the whole source is sent), and its links are still checked byte for byte', async () => {
    const src = source();
    const bad = Buffer.concat([Buffer.from(`${src}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]);
    writeFileSync(bad, 'latin-1 name');
    expect(() => scanTree(src)).toThrow(NonUtf8NameError);
    expect(await checkSource(src)).toBeUndefined();
    symlinkSync('../../etc/passwd', Buffer.concat([Buffer.from(`${src}/l`), Buffer.from([0xe9])]));
    await expect(checkSource(src)).rejects.toThrow(/points outside the release/);
  });

  it('a reused file the new release does not hold as expected is sent after all', () => {
    const f = (p: string, o: Partial<{ size: number; mtime: number }> = {}) => ({ path: p, type: 'f' as const, mode: 0o644, size: 1, mtime: 100, hash: p, ...o });
    const local: Tree = { version: 1, entries: [f('a', { mtime: 300 }), f('b', { mtime: 300 }), f('c', { mtime: 300 })] };
    const base: Tree = { version: 1, entries: [f('a'), f('b'), f('c')] };
    const host = new Map<string, HostFile>(['a', 'b', 'c'].map((p) => [p, { size: 1, mtime: 100, mode: 0o644 }]));
    const d = planDelta(local, base, host);
    expect(d.reuse).toEqual(['a', 'b', 'c']);
    // b changed on the host after its listing; c did not make it.
    const now = new Map<string, HostFile>([
      ['a', { size: 1, mtime: 100, mode: 0o644 }],
      ['b', { size: 1, mtime: 101, mode: 0o644 }],
    ]);
    const c = confirmReuse(local, d, now);
    expect(c.reuse).toEqual(['a']);
    expect(c.send.map((e) => e.path)).toEqual(['b', 'c']);
    expect(c.stored.entries.map((e) => [e.path, e.mtime])).toEqual([
      ['a', 100],
      ['b', 300],
      ['c', 300],
    ]);
    expect([c.sendBytes, c.reuseBytes]).toEqual([2, 1]);
    expect(confirmReuse(local, d, host)).toBe(d);
  });

  it('read-only directories: reused files land, the directories stay writable for the archive, and pruning removes them', () => {
    const app = mkdtempSync(path.join(os.tmpdir(), 'appdir-ro-'));
    const base = path.join(app, 'releases', 'B');
    mkdirSync(path.join(base, 'ro'), { recursive: true });
    writeFileSync(path.join(base, 'ro', 'a'), 'a');
    writeFileSync(path.join(base, 'ro', 'b'), 'b');
    chmodSync(path.join(base, 'ro'), 0o555);
    const next = path.join(app, 'releases', 'N');
    const out = run(reuseFilesCommand(base, next, 'link'), './ro/a\0./ro/b\0');
    const copied = path.join(app, 'releases', 'C');
    // A name that looks like an option is a name.
    writeFileSync(path.join(base, '--checkpoint-action=exec=touch pwned'), 'x');
    run(reuseFilesCommand(base, copied, 'copy'), './ro/a\0./--checkpoint-action=exec=touch pwned\0');
    expect(readFileSync(path.join(copied, 'ro', 'a'), 'utf8')).toBe('a');
    expect(readFileSync(path.join(copied, '--checkpoint-action=exec=touch pwned'), 'utf8')).toBe('x');
    expect(() => statSync(path.join(base, 'pwned'))).toThrow();
    expect(statSync(path.join(copied, 'ro')).mode & 0o200).toBe(0o200);
    expect([...parseHostFiles(out).keys()].sort()).toEqual(['ro/a', 'ro/b']);
    expect(statSync(path.join(next, 'ro')).mode & 0o200).toBe(0o200);
    for (const id of ['B', 'N', 'C']) {
      run(removeReleasesCommand(app, [id]));
      expect(() => statSync(path.join(app, 'releases', id))).toThrow();
    }
  });
});
