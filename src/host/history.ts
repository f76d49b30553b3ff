/**
 * history.jsonl: one JSON event per line, append-only. Appends are single writes of one
 * line (preceded by a newline if a previous writer was killed mid-line), and readers skip
 * lines that do not parse, so a torn write never breaks the history.
 */
import { appendEvent } from '../commands/history.js';

export { appendEvent };

export type EventType =
  | 'deploy-started'
  | 'staged'
  | 'switched'
  | 'health-passed'
  | 'health-failed'
  | 'deploy-succeeded'
  | 'deploy-failed'
  | 'rollback'
  | 'marked-bad'
  | 'migration'
  | 'backup-completed'
  | 'pruned';

export interface HistoryEvent {
  type: EventType;
  time: string;
  release: string;
  version?: string;
  image?: string;
  image_digest?: string;
  sha?: string;
  actor?: string;
  run_url?: string;
  host?: string;
  /** For switched/rollback: the release left. */
  from?: string;
  reason?: string;
  error?: string;
  step?: string;
  health?: { attempts: number; p50?: number; p95?: number };
  [k: string]: unknown;
}


/** Read the history (skipping lines that do not parse). */
export function parseHistory(text: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as HistoryEvent;
      if (e && typeof e === 'object' && typeof e.type === 'string' && typeof e.release === 'string') out.push(e);
    } catch {
      /* a torn line from a killed writer */
    }
  }
  return out;
}

export interface ReleaseState {
  id: string;
  version?: string;
  image?: string;
  /** Deployed and passed its gate at least once. */
  good: boolean;
  /** Marked bad (failed its gate, or rolled back from); rollback skips it. */
  bad: boolean;
}

/** What the history says about each release. */
export function releaseStates(events: HistoryEvent[]): Map<string, ReleaseState> {
  const m = new Map<string, ReleaseState>();
  const get = (e: HistoryEvent) => {
    let s = m.get(e.release);
    if (!s) {
      s = { id: e.release, good: false, bad: false };
      m.set(e.release, s);
    }
    if (e.version) s.version = e.version;
    if (e.image) s.image = e.image;
    return s;
  };
  for (const e of events) {
    const s = get(e);
    if (e.type === 'deploy-succeeded') {
      s.good = true;
      s.bad = false;
    } else if (e.type === 'marked-bad') s.bad = true;
  }
  return m;
}
