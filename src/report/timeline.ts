/** Steps per host with their times, rendered as a mermaid gantt chart for the summary. */
export interface TimelineEntry {
  host: string;
  step: string;
  start: number;
  end: number;
  ok: boolean;
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  add(host: string, step: string, start: number, end: number, ok: boolean): void {
    this.entries.push({ host, step, start, end, ok });
  }
  forHost(host: string): TimelineEntry[] {
    return this.entries.filter((e) => e.host === host);
  }
  duration(host: string, step: string): number | undefined {
    const es = this.entries.filter((e) => e.host === host && e.step === step);
    return es.length ? es.reduce((n, e) => n + (e.end - e.start), 0) : undefined;
  }
}

/** Mermaid text allows no colons, semicolons or hashes in task names. */
const label = (s: string) => s.replace(/[:;#`]/g, ' ').replace(/\s+/g, ' ').trim() || 'step';

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
