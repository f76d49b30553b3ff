/**
 * Switching a host to a release, the one path deploys, rollbacks and the host's watchdog
 * share: the strategy's activation steps, run by the run (`activate`) or rendered into the
 * watchdog that undoes an unconfirmed switch (`armSwitch`).
 */
import type { ReleaseManifest } from '../host/state.js';
import type { LockOwner } from '../host/lock.js';
import { armWatchdog, unreportedRevert, type Watchdog } from '../host/watchdog.js';
import { colorFor, composeActivation, type ActivationStep } from './compose.js';
import { filesActivation } from './files.js';
import { activateSwarm, swarmActivation } from './swarm.js';
import { hookEnv, type HostCtx, type RunInfo } from './context.js';

/** The steps that make `m` serve on this host, by its strategy. */
export function activationSteps(h: HostCtx, m: ReleaseManifest, run: Omit<RunInfo, 'version'>): ActivationStep[] {
  if (m.strategy === 'compose') return composeActivation(h, m);
  if (m.strategy === 'swarm') return swarmActivation(h, m);
  return filesActivation(h, m, hookEnv({ ...run, version: m.version }, m.id, h.target.name));
}

/** Make a release serve on a host, by its own strategy. */
export async function activate(h: HostCtx, m: ReleaseManifest, run: Omit<RunInfo, 'version'>): Promise<void> {
  const color = m.blue_green ? colorFor(h, m) : undefined;
  // A stack is deployed, then waited for (Swarm rolls the tasks) before current moves.
  if (m.strategy === 'swarm') await activateSwarm(h, m);
  else for (const s of activationSteps(h, m, run)) await h.session.run(s.command, { step: s.step, stream: s.stream });
  h.state.current = m.id;
  if (color) h.state.color = color;
}

export interface ConfirmPolicy {
  /** 0: no watchdog. */
  timeoutMs: number;
  lockWaitMs: number;
  /** Set by the user (confirm-timeout): used as given, never extended. */
  explicit?: boolean;
}

/** How much longer than a plain switch activating `m` may take: a color's ready wait and drain, a stack's convergence. */
export function switchAllowanceMs(m: ReleaseManifest): number {
  if (m.blue_green) return (m.blue_green.ready_timeout_s + m.blue_green.drain_s) * 1000;
  if (m.swarm) return m.swarm.converge_timeout_s * 1000;
  return 0;
}

/** The policy for a switch to `m` when the timeout was derived (not given): extended by the switch's own allowance. */
export function policyFor(p: ConfirmPolicy, m: ReleaseManifest): ConfirmPolicy {
  return p.explicit || p.timeoutMs <= 0 ? p : { ...p, timeoutMs: p.timeoutMs + switchAllowanceMs(m) };
}

/**
 * Arm the host's watchdog for the switch from `previous` to `to`: unless confirmed within
 * the timeout, the host returns to `previous` through the same activation steps.
 */
export async function armSwitch(
  h: HostCtx,
  to: ReleaseManifest,
  previous: ReleaseManifest,
  run: Omit<RunInfo, 'version'>,
  policy: ConfirmPolicy,
  runLock: Pick<LockOwner, 'id' | 'ttl_s'>,
): Promise<Watchdog> {
  return armWatchdog(h.session, {
    layout: h.layout,
    host: h.target.name,
    app: run.app,
    environment: run.environment,
    actor: run.actor,
    runUrl: run.runUrl,
    guarded: { id: to.id, version: to.version },
    previous: { id: previous.id, version: previous.version },
    revert: activationSteps(h, previous, run).map((s) => s.command),
    timeoutMs: policy.timeoutMs,
    lockWaitMs: policy.lockWaitMs,
    revertTimeoutMs: h.commandTimeoutMs,
    runLock,
  });
}

/** The watchdog reverts no run has reported yet, one line per host (logged as warnings). */
export function revertNotices(hosts: HostCtx[]): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const e = unreportedRevert(h.state.history);
    if (!e) continue;
    out.push(`host ${h.target.name}: at ${e.time} its watchdog returned it from ${e.release} to ${e.to}, because ${e.reason}`);
  }
  return out;
}

/**
 * The watchdog's timeout from the inputs: `confirm-timeout`, by default the health gate's
 * timeout plus 60 s (the switch's own time). Problems and warnings go to the caller.
 */
export function confirmPolicy(
  o: { confirmTimeoutMs: number | undefined; gateTimeoutMs?: number; lockTimeoutMs: number; autoRollback: boolean },
  problems: { input: string; message: string }[],
  warn: (m: string) => void,
): ConfirmPolicy {
  const timeoutMs = o.confirmTimeoutMs ?? (o.gateTimeoutMs ?? 0) + 60_000;
  if (o.confirmTimeoutMs === 0) {
    warn('confirm-timeout is 0: no watchdog on the hosts; if this run dies after switching a host (a cancelled job, a lost runner), nothing returns it to the previous release');
  } else if (o.gateTimeoutMs !== undefined && timeoutMs <= o.gateTimeoutMs) {
    problems.push({
      input: 'confirm-timeout',
      message: `must be longer than health-timeout (${Math.round(o.gateTimeoutMs / 1000)}s): the watchdog would return a host whose gate is still probing (leave it empty for health-timeout + 60s)`,
    });
  }
  return { timeoutMs: o.autoRollback ? timeoutMs : 0, lockWaitMs: o.lockTimeoutMs, explicit: o.confirmTimeoutMs !== undefined };
}
