/**
 * Retention with restic's semantics (`forget --keep-*`): keep-last keeps the N newest;
 * each keep-<period> keeps the newest backup of each of the N most recent periods that
 * have a backup (so a gap in backups never empties a rule); rules are independent and
 * their union is kept. Periods are UTC. The newest complete backup is always kept.
 */
import { ParseError } from '../text.js';

export interface Retention {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
}

const KEYS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

/** `keep-last=3,keep-daily=7,keep-weekly=4,keep-monthly=12` (commas or lines). */
export function parseRetention(raw: string): Retention {
  const out: Retention = {};
  for (const part of raw
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^keep-(last|hourly|daily|weekly|monthly|yearly)\s*=\s*(\d+)$/.exec(part);
    if (!m) throw new ParseError(`'${part}' is not a rule; use keep-last=N, keep-hourly=N, keep-daily=N, keep-weekly=N, keep-monthly=N or keep-yearly=N`);
    const n = Number(m[2]);
    if (n < 1) throw new ParseError(`'${part}': keep at least 1`);
    out[m[1] as (typeof KEYS)[number]] = n;
  }
  if (!Object.keys(out).length) throw new ParseError('names no rule');
  return out;
}

/** ISO 8601 week: `2026-W49`. */
function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const BUCKET: Record<Exclude<(typeof KEYS)[number], 'last'>, (d: Date) => string> = {
  hourly: (d) => d.toISOString().slice(0, 13),
  daily: (d) => d.toISOString().slice(0, 10),
  weekly: isoWeek,
  monthly: (d) => d.toISOString().slice(0, 7),
  yearly: (d) => d.toISOString().slice(0, 4),
};

export interface Dated {
  id: string;
  time: string;
}

/** Which backups to keep and which to delete, each with the rules that keep it. */
export function applyRetention<T extends Dated>(backups: T[], r: Retention): { keep: { backup: T; reasons: string[] }[]; remove: T[] } {
  const newest = [...backups].sort((a, b) => (a.time > b.time ? -1 : a.time < b.time ? 1 : a.id > b.id ? -1 : 1));
  const reasons = new Map<string, string[]>();
  const mark = (b: T, why: string) => reasons.set(b.id, [...(reasons.get(b.id) ?? []), why]);
  if (r.last) for (const [i, b] of newest.slice(0, r.last).entries()) mark(b, `last ${i + 1}`);
  for (const k of ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
    const n = r[k];
    if (!n) continue;
    const seen = new Set<string>();
    for (const b of newest) {
      const bucket = BUCKET[k](new Date(b.time));
      if (seen.has(bucket)) continue;
      if (seen.size >= n) break;
      seen.add(bucket);
      mark(b, `${k} ${bucket}`);
    }
  }
  if (newest[0] && !reasons.has(newest[0].id)) mark(newest[0], 'newest');
  return {
    keep: newest.filter((b) => reasons.has(b.id)).map((b) => ({ backup: b, reasons: reasons.get(b.id)! })),
    remove: newest.filter((b) => !reasons.has(b.id)),
  };
}

export function describeRetention(r: Retention): string {
  return KEYS.filter((k) => r[k])
    .map((k) => `keep-${k}=${r[k]}`)
    .join(',');
}
