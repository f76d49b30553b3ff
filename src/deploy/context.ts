/** What every deploy step on one host works with: its session, state and layout; connecting and locking them. */
import type { Target } from '../host/target.js';
import { forEachHost, type HostResult } from '../fleet/run.js';
import type { Logger } from '../log.js';
import type { SshPool } from '../host/pool.js';
import type { SshSession } from '../host/session.js';
import { acquireLocks, type HeldLocks, type LockKind, type LockOwner, type LockSite } from '../host/lock.js';
import { layout, type Layout } from '../host/layout.js';
import type { HealthResult } from '../health/check.js';
import { appendEvent, type HistoryEvent, type NewEvent } from '../host/history.js';
import { parseState, type HostState } from '../host/state.js';
import { readStateCommand } from '../commands/index.js';

import type { Timeline } from '../host/timeline.js';
import type { SwarmService } from './swarm.js';

export interface HostCtx {
  target: Target;
  session: SshSession;
  state: HostState;
  layout: Layout;
  logger: Logger;
  timeline: Timeline;
  commandTimeoutMs: number;
}

export async function loadHost(target: Target, session: SshSession, appDir: string, o: { logger: Logger; timeline: Timeline; commandTimeoutMs: number }): Promise<HostCtx> {
  const state = await readState(session, appDir);
  return { target, session, state, layout: layout(state.appDir), ...o };
}

/** The host's state in one round trip; a read that does not fit in memory is an error, never a half-read state. */
async function readState(session: SshSession, appDir: string): Promise<HostState> {
  const r = await session.run(readStateCommand(appDir), { step: 'read state' });
  if (r.truncated) throw new Error(`host ${session.target.name}: its state under ${appDir} is larger than can be read (over 8 MiB); check its releases/ and history.jsonl`);
  try {
    return parseState(r.stdout);
  } catch (e) {
    throw new Error(`host ${session.target.name}: ${(e as Error).message}`);
  }
}

/** Re-read the host's state (after changes). */
export async function reloadHost(h: HostCtx, appDir: string): Promise<void> {
  h.state = await readState(h.session, appDir);
}

export async function record(h: HostCtx, e: NewEvent): Promise<void> {
  const event = redactEvent({ time: new Date().toISOString(), host: h.target.name, ...e } as HistoryEvent, (t) => h.logger.secrets.redact(t));
  await h.session.run(appendEvent(h.layout.history, event), { step: 'history' });
}

/** The event with every string in it redacted (what the run knows to be secret never reaches the host's history). */
export function redactEvent<T>(e: T, redact: (t: string) => string): T {
  if (typeof e === 'string') return redact(e) as T;
  if (Array.isArray(e)) return e.map((x) => redactEvent(x, redact)) as T;
  if (e && typeof e === 'object') return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, redactEvent(v, redact)])) as T;
  return e;
}

/**
 * Connect to every target and read its state (one round trip each). Unreachable hosts are
 * failed results; nothing is changed anywhere by this.
 */
export async function connectHosts(
  pool: SshPool,
  targets: Target[],
  appDir: string,
  o: { logger: Logger; timeline: Timeline; commandTimeoutMs: number; maxParallel: number },
): Promise<HostResult<HostCtx>[]> {
  return forEachHost(targets, async (t) => loadHost(t, await pool.get(t), appDir, o), { maxParallel: Math.max(o.maxParallel, 10), onFailure: 'continue' });
}

export interface RunIdentity {
  app: string;
  environment: string;
  actor: string;
  runUrl: string;
  runId: string;
}

/** The site of a host's lock, in the canonical order (address, port, user, app dir). */
export function lockSite(h: HostCtx): LockSite {
  const t = h.target;
  // A deploy never starts while the host is under maintenance (its host-scoped lock).
  return {
    name: t.name,
    appDir: h.layout.appDir,
    session: h.session,
    sortKey: `${h.state.machineId}\t${h.layout.appDir}\t${t.host.toLowerCase()}\t${String(t.port).padStart(5, '0')}\t${t.user}`,
    guarded: true,
  };
}

/**
 * Take the lock on every host (canonical order), then re-read every host: whatever
 * another run did while this one waited (a switch, a new release, a prune) is what this
 * run must work from.
 */
export async function lockAndRefresh(
  hosts: HostCtx[],
  appDir: string,
  run: RunIdentity,
  kind: LockKind,
  o: { timeoutMs: number; ttlMs: number; logger: Logger; onAcquired?: (held: LockSite[], owner: LockOwner) => void },
): Promise<HeldLocks> {
  const locks = await acquireLocks(
    hosts.map(lockSite),
    { id: `${run.runId || 'local'}-${process.pid}-${Date.now().toString(36)}`, kind, app: run.app, environment: run.environment, actor: run.actor, run_url: run.runUrl },
    o,
  );
  try {
    await Promise.all(hosts.map((h) => reloadHost(h, appDir)));
  } catch (e) {
    await locks.release();
    throw e;
  }
  return locks;
}

/** Run a step on the host, timed on the timeline. */
export async function step<T>(h: HostCtx, name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    const v = await fn();
    h.timeline.add(h.target.name, name, start, Date.now(), true);
    return v;
  } catch (e) {
    h.timeline.add(h.target.name, name, start, Date.now(), false);
    throw e;
  }
}

/** How one host ended a deploy or rollback. */
export interface HostOutcome {
  host: string;
  /** succeeded: serves the new release; rolled-back: back on the previous; failed: see error; skipped: untouched. */
  result: 'succeeded' | 'failed' | 'rolled-back' | 'skipped';
  /** The release the host serves at the end. */
  serving?: string;
  previous?: string;
  error?: string;
  /** Something that went wrong after the host succeeded (a failing post-deploy hook). */
  after?: string;
  health?: HealthResult;
  /** What was collected on the host when it failed (container states, logs), redacted. */
  diagnostics?: string;
  /** swarm: the stack's services and tasks as the run last saw them. */
  swarm?: SwarmService[];
  durationMs: number;
}

/** Who and what a run is: the identity every host step records. */
export interface RunInfo {
  app: string;
  environment: string;
  version: string;
  sha: string;
  actor: string;
  runUrl: string;
  runId: string;
}

/** The only variables hooks and migrations get from a run (no secrets). */
export function hookEnv(run: RunInfo, release: string, host: string): Record<string, string> {
  return {
    OPS_APP: run.app,
    OPS_ENVIRONMENT: run.environment,
    OPS_VERSION: run.version,
    OPS_RELEASE: release,
    OPS_HOST: host,
    OPS_RUN_URL: run.runUrl,
  };
}
