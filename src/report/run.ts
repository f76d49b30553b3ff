/** The run action's summary and outputs. */
import type { RunResult } from '../fleet/results.js';
import { formatDuration } from '../text.js';
import { code, esc, table } from './markdown.js';

const ICON: Record<string, string> = { succeeded: '✅ succeeded', failed: '❌ failed', skipped: '⏭️ not run' };

export function runSummary(r: RunResult, title: string): string {
  const rows = r.hosts.map((h) => [
    code(h.host),
    ICON[h.result] ?? h.result,
    h.timedOut ? 'timed out' : h.exitCode === null ? '' : String(h.exitCode),
    h.result === 'skipped' ? '' : formatDuration(h.durationMs),
    esc((h.result === 'failed' ? (h.error ?? '') : h.stdout).split('\n').slice(-3).join(' ⏎ ').slice(0, 300)),
  ]);
  const ok = r.hosts.filter((h) => h.result === 'succeeded').length;
  return [`## ${title}: ${r.ok ? '✅ succeeded' : '❌ failed'} (${ok}/${r.hosts.length} hosts)`, '', table(['host', 'result', 'exit code', 'duration', 'last output'], rows), ''].join('\n');
}

export function runOutputs(r: RunResult): Record<string, string> {
  const results = Object.fromEntries(
    r.hosts.map((h) => [h.host, { result: h.result, exit_code: h.exitCode, duration_ms: h.durationMs, ...(h.timedOut ? { timed_out: true } : {}), stdout: h.stdout, stderr: h.stderr }]),
  );
  return {
    results: JSON.stringify(results),
    // GitHub keeps step outputs up to about 1 MB: the end of a longer stdout.
    stdout: (r.stdout ?? '').length > 900_000 ? `(first ${(r.stdout ?? '').length - 900_000} characters left out)\n${(r.stdout ?? '').slice(-900_000)}` : (r.stdout ?? ''),
    'hosts-succeeded': r.hosts
      .filter((h) => h.result === 'succeeded')
      .map((h) => h.host)
      .join(','),
    'hosts-failed': r.hosts
      .filter((h) => h.result === 'failed')
      .map((h) => h.host)
      .join(','),
  };
}
