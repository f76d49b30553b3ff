/** backup's and restore's job summaries, outputs and the DR drill report. */
import { formatDuration } from '../text.js';
import { code, esc, table } from './markdown.js';
import type { Manifest } from '../backup/manifest.js';
import type { BackupResult, RestoreResult } from '../backup/results.js';

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 2 : 1)} MiB`;

export function backupOutputs(r: BackupResult): Record<string, string | number> {
  const m = r.manifest;
  return {
    'backup-id': m?.id ?? '',
    location: r.location ?? '',
    'size-bytes': m?.ciphertext.bytes ?? '',
    sha256: m?.ciphertext.sha256 ?? '',
    'duration-ms': r.durationMs,
    deleted: r.deleted.join(','),
  };
}

/** What of the source was backed up: the database, file, paths or volume. */
function sourceWhat(s: Manifest['source']): string {
  const what = s.database ?? s.path ?? s.volume ?? s.paths?.join(', ');
  return what ? code(what) : '';
}

export function backupSummary(r: BackupResult, title: string): string {
  const m = r.manifest;
  const lines = [`## ${title}: ${r.ok ? '✅ complete' : '❌ failed'}`, ''];
  if (!r.ok) lines.push(esc(r.error ?? 'failed'), '');
  if (m) {
    lines.push(
      table(
        ['', ''],
        [
          ['backup', code(m.id)],
          ['where', code(r.location ?? '')],
          ['source', `${esc(m.source.kind)} ${sourceWhat(m.source)} on ${code(m.host)} (${esc(m.tool)})`],
          ['data', `${mib(m.plaintext.bytes)}, sha256 ${code(m.plaintext.sha256.slice(0, 16))}…`],
          [
            'stored',
            `${mib(m.ciphertext.bytes)} (${m.dump_compression ? `compressed by ${esc(m.dump_compression)}` : esc(m.compression)}, ${m.encryption.kind === 'none' ? '⚠️ not encrypted' : esc(m.encryption.kind)})`,
          ],
          ['took', formatDuration(r.durationMs)],
        ],
      ),
    );
  }
  if (r.kept.length || r.deleted.length) {
    lines.push('### Retention', '', table(['backup', 'kept because'], [...r.kept.map((k) => [code(k.id), esc(k.reasons.join(', '))]), ...r.deleted.map((d) => [code(d), '🗑️ deleted'])]));
  }
  if (r.orphansRemoved.length) lines.push(`Removed ${r.orphansRemoved.length} incomplete backup(s) older than a day: ${r.orphansRemoved.map(code).join(', ')}`, '');
  for (const w of r.warnings) lines.push(`> ⚠️ ${esc(w)}`, '');
  return lines.join('\n');
}

export function restoreOutputs(r: RestoreResult, reportPath: string): Record<string, string | number | boolean> {
  return {
    'backup-id': r.manifest?.id ?? '',
    'duration-ms': r.durationMs,
    'rto-met': r.rtoMet ?? false,
    'rpo-met': r.rpoMet ?? false,
    'backup-age-s': r.backupAgeS ?? '',
    'report-path': reportPath,
  };
}

/** The DR drill report: what was restored, each phase's time, RTO and RPO against their targets. */
export function drReport(r: RestoreResult, o: { title: string; mode: string; target: string; rtoTargetMs: number; rpoTargetMs: number; when: string }): string {
  const m = r.manifest;
  const verdict = (met: boolean | undefined) => (met === undefined ? '–' : met ? '✅ met' : '❌ missed');
  return [
    `## ${o.title}: ${r.ok ? '✅ passed' : '❌ failed'}`,
    '',
    `${esc(o.when)} · mode ${code(o.mode)} · target ${esc(o.target)}`,
    '',
    ...(r.error ? [`**${esc(r.error)}**`, ''] : []),
    table(
      ['objective', 'target', 'measured', 'result'],
      [
        ['RTO (time to restore)', formatDuration(o.rtoTargetMs), formatDuration(r.durationMs), verdict(r.rtoMet)],
        ['RPO (age of the backup)', formatDuration(o.rpoTargetMs), r.backupAgeS === undefined ? '' : formatDuration(r.backupAgeS * 1000), verdict(r.rpoMet)],
      ],
    ),
    '### Phases',
    '',
    table(
      ['phase', 'duration', 'result'],
      r.phases.map((p) => [esc(p.name), formatDuration(p.ms), p.ok ? '✅' : '❌']),
    ),
    ...(m
      ? [
          '### Backup',
          '',
          table(
            ['', ''],
            [
              ['backup', code(m.id)],
              ['of', `${esc(m.app)}/${esc(m.environment)}/${esc(m.name)}: ${esc(m.source.kind)} on ${code(m.host)}`],
              ['finished', esc(m.finished)],
              ['data', `${mib(m.plaintext.bytes)} (sha256 ${code(m.plaintext.sha256.slice(0, 16))}… checked)`],
              ['restored', r.restored ? 'yes' : o.mode === 'validation-only' ? 'no (validation only)' : 'no'],
            ],
          ),
        ]
      : []),
  ].join('\n');
}
