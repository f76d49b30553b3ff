/** migrate's job summary and outputs. */
import { formatDuration } from '../text.js';
import { code, esc, fenced, table } from './markdown.js';

interface MigrateReport {
  ok: boolean;
  durationMs: number;
  results: { host: string; exitCode: number | null; durationMs: number; output: string; timedOut: boolean }[];
  hosts: { host: string; status: string; error?: string }[];
}

export function migrateOutputs(r: MigrateReport): Record<string, string | number> {
  const firstBad = r.results.find((x) => x.exitCode !== 0);
  return {
    'exit-code': String((firstBad ?? r.results[0])?.exitCode ?? ''),
    'duration-ms': r.durationMs,
    output: r.results.map((x) => (r.results.length > 1 ? `## ${x.host}\n${x.output}` : x.output)).join('\n'),
    'hosts-failed': r.hosts
      .filter((h) => h.status === 'failed')
      .map((h) => h.host)
      .join(','),
  };
}

export function migrateSummary(r: MigrateReport, o: { app: string; environment: string; command: string; mode: string; service: string }): string {
  const row = (h: MigrateReport['hosts'][number]) => {
    const m = r.results.find((x) => x.host === h.host);
    const status = m ? (m.timedOut ? '⏱️ timed out' : m.exitCode === 0 ? '✅ 0' : `❌ ${m.exitCode}`) : h.status === 'failed' ? '❌ failed' : '⏭️ not run';
    return [code(h.host), status, m ? formatDuration(m.durationMs) : '', esc((h.error ?? '').split('\n')[0]!.slice(0, 300))];
  };
  return [
    `## Migration of ${esc(o.app)} in ${esc(o.environment)}: ${r.ok ? '✅ succeeded' : '❌ failed'}`,
    '',
    `Command ${code(o.command)} (${o.mode}${o.mode === 'host' ? '' : `, service ${code(o.service)}`})`,
    '',
    table(['host', 'exit code', 'duration', 'detail'], r.hosts.map(row)),
    ...r.results.map((x) => `<details><summary>${esc(x.host)}: output</summary>\n\n${fenced(x.output.split('\n').slice(-40).join('\n'))}\n</details>\n`),
  ].join('\n');
}
