import type { HostOutcome } from '../deploy/context.js';
import type { Timeline } from '../host/timeline.js';
import type { ReleaseManifest } from '../host/state.js';
import { formatDuration } from '../text.js';
import { code, esc, fenced, table } from './markdown.js';
import { mermaidGantt } from './timeline.js';

const ICON: Record<string, string> = { succeeded: '✅ succeeded', failed: '❌ failed', 'rolled-back': '↩️ rolled back', skipped: '⏭️ untouched' };

type SummaryInput = { ok: boolean; rolledBack: boolean; hosts: HostOutcome[]; timeline: Timeline; notices?: string[] } & {
  release: Pick<ReleaseManifest, 'id' | 'version' | 'image' | 'image_digest'>;
};

export function deploySummary(r: SummaryInput, title: string): string {
  const d = (host: string, s: string) => {
    const v = r.timeline.duration(host, s);
    return v === undefined ? '' : formatDuration(v);
  };
  const rows = r.hosts.map((h) => [
    code(h.host),
    ICON[h.result] ?? h.result,
    h.serving ? code(h.serving) : '',
    h.previous ? code(h.previous) : '',
    d(h.host, 'stage'),
    d(h.host, 'switch'),
    h.health?.p95 !== undefined ? `${h.health.p95}ms` : '',
    esc((h.error ?? (h.after ? `live, but: ${h.after}` : '')).split('\n')[0]!.slice(0, 300)),
  ]);
  const m = r.release;
  return [
    `## ${title}: ${r.ok ? '✅ succeeded' : r.rolledBack ? '↩️ failed and rolled back' : r.hosts.length && r.hosts.every((h) => h.result === 'succeeded') ? '⚠️ live, but a step after the switch failed' : '❌ failed'}`,
    '',
    `Release ${code(m.id)} · version ${code(m.version)}${m.image ? ` · image ${code(m.image)}` : ''}${m.image_digest ? ` · digest ${code(m.image_digest)}` : ''}`,
    '',
    ...(r.notices?.length ? ['> [!WARNING]', '> Since the last run, on the hosts:', ...r.notices.map((n) => `> - ${esc(n)}`), ''] : []),
    table(['host', 'result', 'serving', 'previous', 'stage', 'switch', 'health p95', 'detail'], rows),
    ...r.hosts.filter((h) => h.swarm?.length).map((h) => swarmTable(h)),
    ...r.hosts.filter((h) => h.diagnostics).map((h) => `<details><summary>${esc(h.host)}: diagnostics</summary>\n\n${fenced(h.diagnostics!)}\n</details>\n`),
    mermaidGantt(r.timeline, `${title} ${m.id}`),
  ].join('\n');
}

/** A swarm host's stack: each service's replicas and update, and its tasks. */
export function swarmTable(h: HostOutcome): string {
  const services = h.swarm ?? [];
  return [
    `### Stack on ${code(h.host)}`,
    '',
    table(
      ['service', 'mode', 'replicas', 'update', 'image'],
      services.map((s) => [
        code(s.name),
        s.mode,
        `${s.running}/${s.desired}`,
        esc(s.update ? `${s.update.state}${s.update.message ? `: ${s.update.message}` : ''}` : '-'),
        code(s.image.replace(/@sha256:([0-9a-f]{12})[0-9a-f]+$/, '@sha256:$1…')),
      ]),
    ),
    table(
      ['task', 'node', 'state', 'error'],
      services.flatMap((s) => s.tasks.map((t) => [code(t.name), esc(t.node), esc(t.state), esc(t.error)])),
    ),
  ].join('\n');
}

/** The deploy action's outputs for a result. */
export function deployOutputs(r: SummaryInput & { previous?: string }, version: string): Record<string, string | boolean> {
  const by = (x: string) => r.hosts.filter((h) => h.result === x).map((h) => h.host);
  return {
    'release-id': r.release.id,
    'previous-release-id': r.previous ?? '',
    version,
    'image-digest': r.release.image_digest ?? '',
    'hosts-succeeded': by('succeeded').join(','),
    'hosts-failed': [...by('failed'), ...by('rolled-back')].join(','),
    'rolled-back': r.rolledBack,
  };
}
