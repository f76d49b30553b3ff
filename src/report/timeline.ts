import type { Timeline } from '../host/timeline.js';

/** Mermaid text allows no colons, semicolons or hashes in task names. */
const label = (s: string) =>
  s
    .replace(/[:;#`]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim() || 'step';

export function mermaidGantt(t: Timeline, title: string): string {
  if (!t.entries.length) return '';
  const hosts = [...new Set(t.entries.map((e) => e.host))];
  const lines = ['```mermaid', 'gantt', `  title ${label(title)}`, '  dateFormat x', '  axisFormat %M:%S'];
  for (const h of hosts) {
    lines.push(`  section ${label(h)}`);
    for (const e of t.forHost(h)) lines.push(`  ${label(e.step)} :${e.ok ? 'done' : 'crit'}, ${e.start}, ${Math.max(e.end, e.start + 1)}`);
  }
  lines.push('```', '');
  return lines.join('\n');
}
