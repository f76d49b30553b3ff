import type { HostResult } from '../fleet/run.js';
import { formatDuration } from '../text.js';
import { STATUS_ICON, code, esc, table } from './markdown.js';

/** The per-host table every fleet action shows: host, result, duration, detail. */
export function hostTable<T>(rs: HostResult<T>[], detail: (r: HostResult<T>) => string = (r) => r.error ?? ''): string {
  return table(
    ['host', 'result', 'duration', 'detail'],
    rs.map((r) => [code(r.target.name), STATUS_ICON[r.status] ?? r.status, r.status === 'skipped' ? '' : formatDuration(r.durationMs), esc(firstLine(detail(r)))]),
  );
}

function firstLine(s: string): string {
  const l = s.split('\n')[0] ?? '';
  return l.length > 300 ? l.slice(0, 300) + '…' : l;
}

/** The per-host results as a JSON output (host, status, duration-ms, error). */
export function hostResultsJson<T>(rs: HostResult<T>[]): string {
  return JSON.stringify(rs.map((r) => ({ host: r.target.name, status: r.status, 'duration-ms': r.durationMs, ...(r.error ? { error: r.error } : {}) })));
}
