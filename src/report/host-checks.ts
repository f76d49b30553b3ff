import type { HostChecksResult, Verdict } from '../health/host-checks.js';
import { code, esc, table } from './markdown.js';

const ICON: Record<Verdict, string> = { ok: '✅', warn: '⚠️', fail: '❌', error: '⛔' };
/** Inline code inside a table cell: a | would end the cell (GFM takes \| inside code spans too). */
const cell = (t: string) => code(t).replace(/\|/g, '\\|');

/** Host checks as a host × check table, then what failed or warns, host by host. */
export function hostChecksSummary(r: HostChecksResult): string {
  const checks = [...new Set(r.hosts.flatMap((h) => h.checks.map((c) => c.check)))];
  const rows = r.hosts.map((h) => [
    cell(h.host),
    ...checks.map((name) => {
      const c = h.checks.find((x) => x.check === name);
      return c ? `${ICON[c.verdict]} ${esc(c.value || c.verdict)}` : '';
    }),
  ]);
  const limits = checks.map((name) => r.hosts.flatMap((h) => h.checks).find((c) => c.check === name && c.limit)?.limit ?? '');
  const problems = r.hosts.flatMap((h) => h.checks.filter((c) => c.verdict !== 'ok').map((c) => `- ${ICON[c.verdict]} ${code(h.host)} ${code(c.check)}: ${esc(c.detail ?? c.value)}`));
  const failed = r.hosts.filter((h) => !h.healthy).length;
  return [
    `## Host checks: ${r.healthy ? '✅ healthy' : `❌ ${failed} of ${r.hosts.length} host(s) failed`}`,
    '',
    table(['host', ...checks.map((c) => cell(c))], [...rows, ['*limit*', ...limits.map(esc)]]),
    ...problems,
    '',
  ].join('\n');
}
