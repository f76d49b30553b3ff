import type { HealthResult } from '../health/check.js';
import { formatDuration } from '../text.js';
import { code, esc, table } from './markdown.js';

const ms = (v?: number) => (v === undefined ? '' : `${v}ms`);

/** The health gate's summary: a row per URL (per host) and a latency line. */
export function healthSummary(r: HealthResult, title = 'Health gate'): string {
  const rows = r.gates.map((g) => [
    code(g.label),
    g.healthy ? '✅ healthy' : '❌ unhealthy',
    String(g.attempts),
    g.status === undefined ? '' : String(g.status),
    ms(g.p50),
    ms(g.p95),
    g.certDaysLeft === undefined ? '' : `${g.certDaysLeft}`,
    esc((g.failure ?? '').split('\n')[0]!.slice(0, 300)),
  ]);
  const latency = r.p50 === undefined ? 'No probe passed.' : `Latency over ${r.gates.reduce((n, g) => n + g.latencies.length, 0)} passing probes: p50 ${r.p50}ms, p95 ${r.p95}ms.`;
  return [
    `## ${title}: ${r.healthy ? '✅ healthy' : '❌ unhealthy'}`,
    '',
    table(['target', 'result', 'attempts', 'status', 'p50', 'p95', 'cert days left', 'detail'], rows),
    `${latency} ${r.attempts} request(s) in ${formatDuration(r.elapsedMs)}.`,
    '',
  ].join('\n');
}
