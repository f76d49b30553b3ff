/**
 * Commit-confirmed switches, runner side: arm a host's watchdog before switching it,
 * confirm it once the switch is proven (or say the run returned the host itself). A run
 * that dies between the two leaves a host that returns to its previous release by itself.
 *
 *   <app-dir>/.watchdog/<token>/   one armed switch (pid; `decided` -> confirmed | rolled-back | reverting)
 *   <app-dir>/watchdog.log         what every watchdog did (0600)
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { render, type Command } from '../shell/index.js';
import { acquireCommand, appendEventAtHostTimeCommand, armWatchdogCommand, breakCommand, decideWatchdogCommand, releaseCommand, renewCommand } from '../commands/index.js';
import type { SshSession } from './session.js';
import type { Layout } from './layout.js';
import type { LockOwner } from './lock.js';
import { eventsOf, type HistoryEvent, type SwitchRevertedUnconfirmed } from './history.js';

export interface ArmOptions {
  layout: Layout;
  /** The host as the run names it (recorded in the history). */
  host: string;
  app: string;
  environment: string;
  actor: string;
  runUrl: string;
  /** The switch being guarded: to `guarded` from `previous` (what the host returns to). */
  guarded: { id: string; version?: string };
  previous: { id: string; version?: string };
  /** The commands that make `previous` serve again (the rollback path). */
  revert: Command[];
  timeoutMs: number;
  /** How long the watchdog waits for a lock another run holds. */
  lockWaitMs: number;
  /** The revert is stopped after this long (the run's command-timeout). */
  revertTimeoutMs: number;
  /** The lock of the run that arms it (taken over at the deadline). */
  runLock: Pick<LockOwner, 'id' | 'ttl_s'>;
}

export type Decision = 'ok' | 'reverting' | 'gone';

/** An armed watchdog on one host. */
export class Watchdog {
  constructor(
    readonly session: SshSession,
    readonly dir: string,
    readonly pid: number,
    readonly timeoutMs: number,
    readonly appDir: string,
    readonly guarded: string,
  ) {}

  /**
   * Decide: `ok` when this call decided (or had already decided so); `reverting` when the
   * watchdog was first; `gone` when the watchdog exited undecided. A watchdog that is gone
   * while the host no longer serves the guarded release counts as `reverting` (the host was
   * returned, or switched by another run): the switch is not this run's to confirm.
   */
  async decide(what: 'confirmed' | 'rolled-back' | 'kept'): Promise<Decision> {
    const r = await this.session.run(decideWatchdogCommand(this.dir, what, this.appDir), { step: 'confirm' });
    const [out = '', current = ''] = r.stdout.trim().split('\n');
    if (out === 'ok' || out === what) return 'ok';
    if (out === 'reverting') return 'reverting';
    return what === 'confirmed' && current !== this.guarded ? 'reverting' : 'gone';
  }
}

export function watchdogPaths(l: Layout): { root: string; log: string } {
  return { root: path.posix.join(l.appDir, '.watchdog'), log: path.posix.join(l.appDir, 'watchdog.log') };
}

/** Start the host's watchdog for one switch. Throws (nothing switched yet) when it cannot be started. */
export async function armWatchdog(session: SshSession, o: ArmOptions): Promise<Watchdog> {
  const { root, log } = watchdogPaths(o.layout);
  const token = `${o.guarded.id}.${randomBytes(4).toString('hex')}`;
  const dir = path.posix.join(root, token);
  const appDir = o.layout.appDir;
  const owner: LockOwner = {
    id: `watchdog-${token}`,
    kind: 'deploy',
    app: o.app,
    environment: o.environment,
    actor: 'ops-actions watchdog',
    run_url: o.runUrl,
    acquired: new Date().toISOString(),
    ttl_s: Math.max(60, o.runLock.ttl_s),
    expires: new Date(Date.now() + Math.max(60, o.runLock.ttl_s) * 1000).toISOString(),
  };
  const timeoutS = Math.max(1, Math.ceil(o.timeoutMs / 1000));
  const reason = `the switch to ${o.guarded.id} was not confirmed within ${timeoutS}s (the run that switched it died or ran out of time: ${o.runUrl || 'no run URL'})`;
  const reverted: Omit<SwitchRevertedUnconfirmed, 'time'> = {
    host: o.host,
    type: 'switch-reverted-unconfirmed',
    release: o.guarded.id,
    version: o.guarded.version,
    to: o.previous.id,
    reason,
    actor: owner.actor,
    run_url: o.runUrl,
  };
  const failed = { host: o.host, type: 'marked-bad', release: o.guarded.id, reason: `${reason}; returning to ${o.previous.id} failed (see ${log})` };
  const r = await session.run(
    armWatchdogCommand({
      appDir,
      dir,
      log,
      guarded: o.guarded.id,
      previous: o.previous.id,
      timeoutS,
      lockWaitS: Math.max(1, Math.ceil(o.lockWaitMs / 1000)),
      runMark: `"id":${JSON.stringify(o.runLock.id)}`,
      acquire: render(acquireCommand(appDir, owner, true)),
      takeover: render(breakCommand(appDir, o.runLock.id, -1)),
      release: render(releaseCommand(appDir, owner.id)),
      renew: render(renewCommand(appDir, owner.id, owner)),
      revert: o.revert.map((c) => render(c)).join(' && '),
      recordReverted: render(appendEventAtHostTimeCommand(o.layout.history, reverted)),
      recordFailed: render(appendEventAtHostTimeCommand(o.layout.history, failed)),
      revertTimeoutS: Math.max(10, Math.ceil(o.revertTimeoutMs / 1000)),
    }),
    { step: 'arm watchdog' },
  );
  const pid = Number(/^armed (\d+)/m.exec(r.stdout)?.[1]);
  if (!pid) throw new Error(`host ${o.host}: the watchdog did not start (${r.stdout.trim() || r.stderr.trim() || 'no output'})`);
  return new Watchdog(session, dir, pid, o.timeoutMs, appDir, o.guarded.id);
}

/**
 * A revert by a watchdog that no run has reported yet: the last one in the history, when
 * no deploy or rollback started after it.
 */
export function unreportedRevert(history: HistoryEvent[]): SwitchRevertedUnconfirmed | undefined {
  const last = eventsOf(history, 'switch-reverted-unconfirmed').pop();
  if (!last) return undefined;
  const after = history.slice(history.indexOf(last) + 1);
  return after.some((e) => e.type === 'deploy-started' || (e.type === 'rollback' && e.reason === 'manual')) ? undefined : last;
}
