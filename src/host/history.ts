/**
 * history.jsonl: one JSON event per line, append-only, 0600. Every event type has its own
 * schema below; they are written and read only through this module. Appends are single
 * writes of one line (preceded by a newline if a previous writer was killed mid-line), and
 * readers skip lines that do not parse or do not match their type's schema, so a torn
 * write never breaks the history.
 */
import { appendEvent as appendCommand } from '../commands/history.js';
import type { Command } from '../shell/index.js';

interface Base {
  time: string;
  /** The host as the run named it. */
  host: string;
  release: string;
  version?: string;
  actor?: string;
  run_url?: string;
}

export interface HealthStats {
  attempts: number;
  p50?: number;
  p95?: number;
}

interface Deployed extends Base {
  image?: string;
  sha?: string;
}

export interface DeployStarted extends Deployed {
  type: 'deploy-started';
}
export interface Staged extends Deployed {
  type: 'staged';
  image_digest?: string;
}
export interface Switched extends Deployed {
  type: 'switched';
  /** The release left. */
  from?: string;
}
export interface HealthPassed extends Deployed {
  type: 'health-passed';
  health: HealthStats;
}
export interface HealthFailed extends Deployed {
  type: 'health-failed';
  health: HealthStats;
  error?: string;
}
export interface DeploySucceeded extends Deployed {
  type: 'deploy-succeeded';
  image_digest?: string;
  from?: string;
}
export interface DeployFailed extends Deployed {
  type: 'deploy-failed';
  error?: string;
  step?: string;
}
/** A host returned to `release` (from `from`), by a failed gate or by hand. */
export interface RolledBack extends Base {
  type: 'rollback';
  from?: string;
  reason: string;
}
/** Rollbacks skip a release marked bad. */
export interface MarkedBad extends Base {
  type: 'marked-bad';
  reason: string;
}
export interface Migration extends Base {
  type: 'migration';
  command: string;
  mode: string;
  exit_code: number | null;
  duration_ms: number;
  timed_out: boolean;
}
export interface Pruned extends Base {
  type: 'pruned';
  removed: string[];
}
/** Written on the database host when a backup's manifest is complete (what require-backup-within reads). */
export interface BackupCompleted extends Base {
  type: 'backup-completed';
  backup_id: string;
  location: string;
  size_bytes: number;
  source: string;
  complete?: boolean;
}
export interface RestoreCompleted extends Base {
  type: 'restore-completed';
  backup_id: string;
  mode: string;
  duration_ms: number;
}
export interface MaintenanceStarted extends Base {
  type: 'maintenance-started';
  mode: string;
}
export interface MaintenanceCompleted extends Base {
  type: 'maintenance-completed';
  packages: number;
  rebooted: boolean;
}
export interface MaintenanceFailed extends Base {
  type: 'maintenance-failed';
  error: string;
  step?: string;
}
/**
 * A host's watchdog returned it to `to` because the switch to `release` was never confirmed
 * (the run that switched died or ran out of its confirm-timeout); `release` is bad from then on.
 */
export interface SwitchRevertedUnconfirmed extends Base {
  type: 'switch-reverted-unconfirmed';
  to: string;
  reason: string;
}

export type HistoryEvent =
  | DeployStarted
  | Staged
  | Switched
  | HealthPassed
  | HealthFailed
  | DeploySucceeded
  | DeployFailed
  | RolledBack
  | MarkedBad
  | Migration
  | Pruned
  | BackupCompleted
  | RestoreCompleted
  | MaintenanceStarted
  | MaintenanceCompleted
  | MaintenanceFailed
  | SwitchRevertedUnconfirmed;

export type EventType = HistoryEvent['type'];

type DistributiveOmit<T, K extends keyof HistoryEvent> = T extends unknown ? Omit<T, K> : never;
/** An event as a step records it: time and host are added by `record`. */
export type NewEvent = DistributiveOmit<HistoryEvent, 'time' | 'host'>;

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'string[]' | 'number|null';
/** Each type's required fields beyond the base ones (time, host, release: strings). */
const SCHEMA: Record<EventType, Record<string, Kind>> = {
  'deploy-started': {},
  staged: {},
  switched: {},
  'health-passed': { health: 'object' },
  'health-failed': { health: 'object' },
  'deploy-succeeded': {},
  'deploy-failed': {},
  rollback: { reason: 'string' },
  'marked-bad': { reason: 'string' },
  migration: { command: 'string', mode: 'string', exit_code: 'number|null', duration_ms: 'number', timed_out: 'boolean' },
  pruned: { removed: 'string[]' },
  'backup-completed': { backup_id: 'string', location: 'string', size_bytes: 'number', source: 'string' },
  'restore-completed': { backup_id: 'string', mode: 'string', duration_ms: 'number' },
  'maintenance-started': { mode: 'string' },
  'maintenance-completed': { packages: 'number', rebooted: 'boolean' },
  'maintenance-failed': { error: 'string' },
  'switch-reverted-unconfirmed': { to: 'string', reason: 'string' },
};

function hasKind(v: unknown, k: Kind): boolean {
  if (k === 'string[]') return Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (k === 'number|null') return v === null || typeof v === 'number';
  if (k === 'object') return !!v && typeof v === 'object';
  return typeof v === k;
}

/** The event, if it is one of the known types with every field its schema requires. */
export function validEvent(x: unknown): HistoryEvent | undefined {
  if (!x || typeof x !== 'object') return undefined;
  const e = x as Record<string, unknown>;
  const schema = SCHEMA[e.type as EventType];
  if (!schema) return undefined;
  if (typeof e.release !== 'string' || typeof e.time !== 'string') return undefined;
  for (const [field, kind] of Object.entries(schema)) if (!hasKind(e[field], kind)) return undefined;
  return e as unknown as HistoryEvent;
}

/** The command that appends one event (one line; repairs a torn last line first; the file stays 0600). */
export function appendEvent(file: string, event: HistoryEvent): Command {
  return appendCommand(file, event);
}

/** Read the history: every line that parses and matches its type's schema, in order. */
export function parseHistory(text: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = validEvent(JSON.parse(line));
      if (e) out.push(e);
    } catch {
      /* a torn line from a killed writer */
    }
  }
  return out;
}

/** Events of one type, typed. */
export function eventsOf<T extends EventType>(events: HistoryEvent[], type: T): Extract<HistoryEvent, { type: T }>[] {
  return events.filter((e): e is Extract<HistoryEvent, { type: T }> => e.type === type);
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
  for (const e of events) {
    let s = m.get(e.release);
    if (!s) {
      s = { id: e.release, good: false, bad: false };
      m.set(e.release, s);
    }
    if (e.version) s.version = e.version;
    if ('image' in e && e.image) s.image = e.image;
    if (e.type === 'deploy-succeeded') {
      s.good = true;
      s.bad = false;
    } else if (e.type === 'marked-bad' || e.type === 'switch-reverted-unconfirmed') s.bad = true;
  }
  return m;
}
