import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDirectory, checkTarball, linkEscapes, nameEscapes } from '../../src/deploy/source.js';

describe('release source links', () => {
  it.each([
    ['release.json', '/etc/passwd', 'points to the absolute path /etc/passwd'],
    ['a', '..', 'points outside the release (..)'],
    ['storage', '../../shared/storage', 'points outside the release (../../shared/storage)'],
    ['a/b/c', '../../../x', 'points outside the release (../../../x)'],
  ])('%s -> %s escapes', (link, target, why) => {
    expect(linkEscapes(link, target)).toBe(why);
  });

  it.each([
    ['link', 'bin/run.sh'],
    ['a/b', '../c'],
    ['a/b/c', '../../d'],
    ['x', '.'],
  ])('%s -> %s stays inside', (link, target) => {
    expect(linkEscapes(link, target)).toBeUndefined();
  });

  it('member names that are absolute or climb out', () => {
    expect(nameEscapes('/etc/passwd')).toBe(true);
    expect(nameEscapes('./../x')).toBe(true);
    expect(nameEscapes('a/../../x')).toBe(true);
    expect(nameEscapes('./a/b')).toBe(false);
    expect(nameEscapes('a..b')).toBe(false);
  });
});

describe('checking sources made by real tar', () => {
  const tree = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'src-'));
    mkdirSync(path.join(d, 'deep', 'er'), { recursive: true });
    writeFileSync(path.join(d, 'deep', 'er', 'file.txt'), 'x'.repeat(1500));
    symlinkSync('file.txt', path.join(d, 'deep', 'er', 'inside'));
    return d;
  };

  it('accepts a tree whose links stay inside, as a directory and as .tar and .tar.gz', async () => {
    const d = tree();
    // A name over 100 bytes (ustar prefix or pax header) must be read right too.
    const long = path.join(d, 'n'.repeat(120));
    mkdirSync(long);
    symlinkSync('../deep/er/file.txt', path.join(long, 'l'.repeat(110)));
    await checkDirectory(d);
    execFileSync('tar', ['-C', d, '-cf', `${d}.tar`, '.']);
    execFileSync('tar', ['-C', d, '--format=pax', '-czf', `${d}.tgz`, '.']);
    await checkTarball(`${d}.tar`);
    await checkTarball(`${d}.tgz`);
  });

  it('refuses a link that escapes, with a long name, in every form', async () => {
    const d = tree();
    const long = path.join(d, 'n'.repeat(120));
    mkdirSync(long);
    symlinkSync('../../outside', path.join(long, 'l'.repeat(110)));
    symlinkSync('/etc/shadow', path.join(d, 'release.json'));
    await expect(checkDirectory(d)).rejects.toThrow(
      /release\.json points to the absolute path \/etc\/shadow.*points outside the release \(\.\.\/\.\.\/outside\)|points outside the release \(\.\.\/\.\.\/outside\).*release\.json points to the absolute path/,
    );
    for (const [f, args] of [
      [`${d}.tar`, ['-cf']],
      [`${d}.gnu.tgz`, ['--format=gnu', '-czf']],
      [`${d}.pax.tgz`, ['--format=pax', '-czf']],
    ] as const) {
      execFileSync('tar', ['-C', d, ...args, f, '.']);
      await expect(checkTarball(f)).rejects.toThrow(/points to the absolute path \/etc\/shadow/);
      await expect(checkTarball(f)).rejects.toThrow(new RegExp(`${'l'.repeat(110)} points outside the release`));
    }
  });
});

describe('links that only escape together', () => {
  it('a chain of links, each harmless alone, that climbs out is refused (directory and tarball)', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'chain-'));
    mkdirSync(path.join(d, 'deep'));
    symlinkSync('..', path.join(d, 'deep', 'l1'));
    symlinkSync('deep/l1/..', path.join(d, 'up1'));
    symlinkSync('up1/..', path.join(d, 'up2'));
    symlinkSync('up2/..', path.join(d, 'up3'));
    await expect(checkDirectory(d)).rejects.toThrow(/up1 points outside the release \(deep\/l1\/\.\.\)/);
    execFileSync('tar', ['-C', d, '-cf', `${d}.tar`, '.']);
    await expect(checkTarball(`${d}.tar`)).rejects.toThrow(/up3 points outside the release/);
    expect(linkEscapes('x', 'a/b', new Map([['a', '/etc']]))).toBe('points outside the release (a/b, through a -> /etc)');
    expect(
      linkEscapes(
        'x',
        'a',
        new Map([
          ['a', 'b'],
          ['b', 'a'],
        ]),
      ),
    ).toMatch(/a loop of links/);
    expect(linkEscapes('public/storage', '../storage/app', new Map([['storage', 'shared']]))).toBeUndefined();
  });

  it('a pax global header that sets link targets, and a member written through an outside link, are refused', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'pax-'));
    const tar = path.join(d, 'g.tar');
    const py = [
      'import tarfile, io, sys',
      "t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT, pax_headers={'linkpath': '/etc/passwd'})",
      "i = tarfile.TarInfo('public/leak'); i.type = tarfile.SYMTYPE; i.linkname = 'index.html'; t.addfile(i)",
      't.close()',
    ].join('\n');
    execFileSync('python3', ['-c', py, tar]);
    await expect(checkTarball(tar)).rejects.toThrow(/pax global header that sets member names or link targets/);
    const tar2 = path.join(d, 'through.tar');
    const py2 = [
      'import tarfile, io, sys',
      "t = tarfile.open(sys.argv[1], 'w')",
      "i = tarfile.TarInfo('etc'); i.type = tarfile.SYMTYPE; i.linkname = '../../../../etc'; t.addfile(i)",
      "f = tarfile.TarInfo('etc/cron.d/x'); data = b'* * * * * root id\\n'; f.size = len(data); t.addfile(f, io.BytesIO(data))",
      't.close()',
    ].join('\n');
    execFileSync('python3', ['-c', py2, tar2]);
    await expect(checkTarball(tar2)).rejects.toThrow(/etc\/cron\.d\/x is written through etc/);
  });
});
