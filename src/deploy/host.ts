/** What every deploy step on one host works with. */
import type { Target } from '../fleet/targets.js';
import type { Logger } from '../log.js';
import type { SshSession } from '../ssh/session.js';
import { layout, type Layout } from '../state/layout.js';
import { appendEvent, type HistoryEvent } from '../state/history.js';
import { readStateCommand, parseState, type HostState } from '../state/releases.js';
import { shScript, userScript, withEnv, type Command } from '../shell/index.js';
import type { Timeline } from '../report/timeline.js';

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
  const r = await session.run(readStateCommand(appDir), { step: 'read state' });
  const state = parseState(r.stdout);
  return { target, session, state, layout: layout(state.appDir), ...o };
}

/** Re-read the host's state (after changes). */
export async function reloadHost(h: HostCtx, appDir: string): Promise<void> {
  const r = await h.session.run(readStateCommand(appDir), { step: 'read state' });
  h.state = parseState(r.stdout);
}

export async function record(h: HostCtx, e: Omit<HistoryEvent, 'time' | 'host'>): Promise<void> {
  await h.session.run(appendEvent(h.layout.history, { time: new Date().toISOString(), host: h.target.name, ...e } as HistoryEvent), { step: 'history' });
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

/** A user script (hook, build or restart command), run fail-fast in `dir` with only these variables added. */
export function hookCommand(dir: string, script: string, env: Record<string, string>): Command {
  return withEnv(env, shScript('cd "$1"; shift; exec "$@"', dir, ...(userScript(script) as string[])));
}
