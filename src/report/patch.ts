/** security-update's job summary and outputs. */
import type { PatchResult } from '../maintenance/plan.js';
import { formatDuration } from '../text.js';
import { code, esc, table } from './markdown.js';

export function patchOutputs(r: PatchResult, dryRun: boolean): Record<string, string> {
  const by = <T>(f: (h: PatchResult['hosts'][number]) => T) => Object.fromEntries(r.hosts.map((h) => [h.host, f(h)]));
  return {
    upgraded: JSON.stringify(dryRun ? {} : by((h) => (h.status === 'planned' ? [] : h.packages))),
    planned: JSON.stringify(by((h) => h.packages)),
    rebooted: r.hosts
      .filter((h) => h.rebooted)
      .map((h) => h.host)
      .join(','),
    'services-restarted': JSON.stringify(by((h) => h.servicesRestarted)),
    'pending-reboot': r.hosts
      .filter((h) => h.pendingReboot)
      .map((h) => h.host)
      .join(','),
    'host-results': JSON.stringify(r.hosts.map((h) => ({ host: h.host, status: h.status, 'duration-ms': h.durationMs, step: h.step, error: h.error }))),
  };
}

const STATUS: Record<string, string> = {
  updated: '✅ updated',
  'up-to-date': '✅ up to date',
  planned: '📝 would update',
  failed: '❌ failed',
  'not-started': '⏸ not started',
};

export function patchSummary(r: PatchResult, o: { mode: string; dryRun: boolean }): string {
  const head = o.dryRun ? `## Security update (${o.mode}), dry run: nothing was changed` : `## Security update (${o.mode}): ${r.ok ? '✅ done' : '❌ stopped'}`;
  const lines = [head, ''];
  if (r.error) lines.push(esc(r.error), '');
  lines.push(
    table(
      ['host', 'status', 'packages', 'reboot', 'services', 'gate', 'time'],
      r.hosts.map((h) => [
        code(h.host),
        STATUS[h.status] ?? h.status,
        h.packages.length ? `${h.packages.length}: ${h.packages.map((p) => esc(p.package)).join(', ')}` : '0',
        h.rebooted ? `rebooted (down ${formatDuration(h.downMs ?? 0)})` : h.pendingReboot ? '⚠️ pending' : '—',
        h.servicesRestarted.length ? `restarted ${h.servicesRestarted.map(esc).join(', ')}` : h.servicesNeedingRestart.length ? `need restart: ${h.servicesNeedingRestart.map(esc).join(', ')}` : '—',
        h.gate ?? '—',
        h.status === 'not-started' ? '' : formatDuration(h.durationMs),
      ]),
    ),
    '',
  );
  for (const h of r.hosts) {
    if (h.error) lines.push(`**${esc(h.host)}** failed at ${code(h.step ?? '?')}: ${esc(h.error)}`, '');
    if (h.excluded.length) lines.push(`**${esc(h.host)}** left alone (excluded): ${h.excluded.map((p) => `${esc(p.package)} ${esc(p.from)} → ${esc(p.to)}`).join(', ')}`, '');
    for (const w of h.warnings) lines.push(`⚠️ **${esc(h.host)}**: ${esc(w)}`, '');
  }
  const detail = r.hosts.filter((h) => h.packages.length);
  if (detail.length) {
    lines.push(`<details><summary>Packages</summary>`, '');
    lines.push(
      table(
        ['host', 'package', 'from', 'to'],
        detail.flatMap((h) => h.packages.map((p) => [code(h.host), esc(p.package), code(p.from || '(new)'), code(p.to)])),
      ),
      '',
      '</details>',
      '',
    );
  }
  return lines.join('\n');
}
