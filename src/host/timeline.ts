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
