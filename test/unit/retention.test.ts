import { describe, expect, it } from 'vitest';
import { applyRetention, parseRetention } from '../../src/backup/retention.js';
import { judgeDump } from '../../src/backup/sources.js';
import { partSize } from '../../src/storage/s3.js';
import { parseStorageUrl } from '../../src/schemas/backup-common.js';

const at = (iso: string) => ({ id: iso, time: iso });

describe('retention (restic semantics)', () => {
  it('keep-daily keeps the newest of each of the N most recent days that have a backup; a gap never empties it', () => {
    const backups = ['2026-11-01T01:00:00Z', '2026-11-01T23:00:00Z', '2026-11-02T12:00:00Z', '2026-11-20T12:00:00Z'].map(at);
    const r = applyRetention(backups, { daily: 2 });
    expect(r.keep.map((k) => k.backup.id)).toEqual(['2026-11-20T12:00:00Z', '2026-11-02T12:00:00Z']);
    expect(r.remove.map((b) => b.id)).toEqual(['2026-11-01T23:00:00Z', '2026-11-01T01:00:00Z']);
  });
  it('weekly counts ISO weeks, monthly and yearly calendar periods, in UTC; rules are independent', () => {
    const backups = ['2025-12-31T23:30:00Z', '2026-01-04T10:00:00Z', '2026-01-05T10:00:00Z', '2026-02-01T00:00:00Z'].map(at);
    const r = applyRetention(backups, { weekly: 2, yearly: 2, last: 1 });
    const reasons = Object.fromEntries(r.keep.map((k) => [k.backup.id, k.reasons]));
    // 2026-01-04 is a Sunday: ISO week 2026-W01, with 2025-12-31; 2026-01-05 starts W02.
    expect(reasons).toEqual({
      '2026-02-01T00:00:00Z': ['last 1', 'weekly 2026-W05', 'yearly 2026'],
      '2026-01-05T10:00:00Z': ['weekly 2026-W02'],
      '2025-12-31T23:30:00Z': ['yearly 2025'],
    });
  });
  it('the newest backup is always kept', () => {
    expect(applyRetention([at('2026-01-01T00:00:00Z')], { hourly: 1 }).remove).toEqual([]);
  });
  it('parses rules and names the bad one', () => {
    expect(parseRetention('keep-last=3, keep-daily=7\nkeep-monthly=12')).toEqual({ last: 3, daily: 7, monthly: 12 });
    expect(() => parseRetention('keep-daily=0')).toThrow('keep at least 1');
    expect(() => parseRetention('days=30')).toThrow("'days=30' is not a rule");
  });
});

describe('judging a dump', () => {
  it('tar exit 1 (files changed while read) is a warning; 2 fails; an empty or unfinished dump fails', () => {
    expect(judgeDump('files', 1, Buffer.from('x'), 10)).toEqual({ warnings: ['tar exited 1: some files changed while they were read; the archive has what was there'] });
    expect(judgeDump('files', 2, Buffer.from('x'), 10).error).toBe('the dump exited with code 2');
    expect(judgeDump('postgres', 0, Buffer.alloc(0), 0).error).toBe('the dump produced no data (0 bytes)');
    expect(judgeDump('mysql', 0, Buffer.from('INSERT ...;\n'), 100).error).toContain("does not end with '-- Dump completed'");
    expect(judgeDump('mysql', 0, Buffer.from('...\n-- Dump completed on 2026-12-01 21:00:00\n'), 100)).toEqual({ warnings: [] });
  });
});

describe('storage', () => {
  it('S3 parts grow so an unknown length fits past 1 TB in 10 000 parts', () => {
    let total = 0;
    for (let n = 1; n <= 10_000; n++) total += partSize(n);
    expect(total).toBeGreaterThan(1024 ** 4);
    expect(partSize(1)).toBe(16 * 1024 * 1024);
  });
  it('storage URLs', () => {
    expect(parseStorageUrl('s3://my-bucket/a/b/')).toEqual({ kind: 's3', bucket: 'my-bucket', prefix: 'a/b' });
    expect(parseStorageUrl('sftp://backup@vault.example.com:2222/srv/backups')).toEqual({ kind: 'sftp', user: 'backup', host: 'vault.example.com', port: 2222, path: '/srv/backups' });
    expect(parseStorageUrl('file:///mnt/b')).toEqual({ kind: 'file', path: '/mnt/b' });
    expect(() => parseStorageUrl('sftp://h/')).toThrow('give an absolute directory');
    expect(() => parseStorageUrl('s3://Bad_Bucket/x')).toThrow('is not a bucket name');
  });
});
