/**
 * Locks: an atomic `mkdir <app-dir>/.lock` on every host a run changes, with owner.json
 * (id, kind, run URL, actor, ttl). A run takes the locks of all its hosts in one canonical
 * order (sorted by address), so two runs over the same hosts in any order cannot deadlock
 * and cannot both hold a host.
 *
 * Staleness is decided on the host, by the host's clock: the holder renews owner.json
 * (its mtime) while it works; a deploy lock whose owner.json was not renewed for its ttl
 * may be broken (and that is logged). Runner clocks never enter into it. A maintenance
 * lock is never broken. A run that finds its lock taken stops at the next phase boundary.
 */
import { acquireCommand, breakCommand, releaseCommand, renewCommand } from '../commands/lock.js';
import { formatDuration } from '../text.js';
import { errorMessage, type Logger } from '../log.js';
import type { SshSession } from './session.js';
import { privileged } from '../commands/host.js';
import type { Command } from '../shell/index.js';

export type LockKind = 'deploy' | 'maintenance';

export interface LockOwner {
  id: string;
  kind: LockKind;
  app: string;
  environment: string;
  actor: string;
  run_url: string;
  /** When it was taken, by the runner's clock (informational only). */
  acquired: string;
  /** Seconds without renewal (by the host's clock) after which the lock is stale. */
  ttl_s: number;
  /**
   * The runner's idea of when it goes stale (informational; kept for runs of version 0.1,
   * which judge a lock by it). This version decides by the host's clock only.
   */
  expires: string;
}

/** Locks written by earlier versions have no ttl_s; they were renewed within 5 minutes. */
const LEGACY_TTL_S = 300;
/** A lock directory with no owner file this old is a holder that died between mkdir and write. */
const ORPHAN_AGE_S = 60;

export function describeOwner(o: Partial<LockOwner>, ageS?: number): string {
  const renewed = ageS === undefined ? '' : `, renewed ${formatDuration(ageS * 1000)} ago by the host's clock`;
  return `${o.kind ?? 'unknown'} lock held by ${o.actor || 'an unknown actor'}${o.run_url ? ` (run ${o.run_url})` : ''} since ${o.acquired ?? '?'}${renewed}`;
}

/**
 * What a held lock's answer says: the owner, and whether it is stale by the host's clock.
 * An owner file that cannot be read as ours (not JSON, no id) is never judged stale: a lock
 * of something else is left alone.
 */
export function parseHeld(stdout: string): { owner: Partial<LockOwner>; ageS: number; stale: boolean; unknown: boolean; limitS: number } {
  const [, ageLine = '0', ...rest] = stdout.split('\n');
  const text = rest.join('\n').trim();
  let owner: Partial<LockOwner> = {};
  let unknown = false;
  try {
    owner = text ? (JSON.parse(text) as Partial<LockOwner>) : {};
    if (text && (typeof owner !== 'object' || owner === null || typeof owner.id !== 'string')) unknown = true;
  } catch {
    unknown = true;
  }
  if (unknown) owner = {};
  const ageS = Math.max(0, Number(ageLine) || 0);
  const limitS = owner.id ? staleAfterS(owner) : ORPHAN_AGE_S;
  return { owner, ageS, stale: !unknown && ageS > limitS, unknown, limitS };
}

/**
 * Seconds without renewal after which an owner's lock is stale: its ttl_s; for locks of
 * version 0.1 (no ttl_s), generously the ttl its expires/acquired imply, at least 5 minutes.
 */
export function staleAfterS(o: Partial<LockOwner> & { expires?: string }): number {
  if (typeof o.ttl_s === 'number' && o.ttl_s > 0) return o.ttl_s;
  const implied = o.expires && o.acquired ? (Date.parse(o.expires) - Date.parse(o.acquired)) / 1000 : 0;
  return Math.max(LEGACY_TTL_S, Number.isFinite(implied) ? Math.ceil(implied) : 0);
}

/** The lock of one host: where it lives and the session that reaches it. */
export interface LockSite {
  name: string;
  appDir: string;
  session: SshSession;
  /** Canonical order: the machine (its machine-id) and the lock directory, then the address. */
  sortKey: string;
  /** Not taken while the host's maintenance lock is held. */
  guarded?: boolean;
  /** Lock commands run as root through sudo (the host-wide maintenance lock). */
  sudo?: boolean;
}

const asSite = (s: LockSite, c: Command): Command => privileged(c, s.sudo ?? false);

/**
 * The host-scoped maintenance lock lives in the host-wide state directory
 * (`$OPS_ACTIONS_HOST_DIR`, default /var/lib/ops-actions), one place for the whole machine
 * whichever user connects: maintenance runs as root; deploys only check whether it exists.
 */
export const HOST_LOCK_NAME = 'maintenance';

export class LockLostError extends Error {}

export interface LockOptions {
  timeoutMs: number;
  /** How long the lock stays valid without renewal. */
  ttlMs: number;
  pollMs?: number;
  logger: Logger;
  /** Called each time one more host's lock is held (for the post step's state). */
  onAcquired?: (held: LockSite[], owner: LockOwner) => void;
}

/** The locks a run holds, renewed in the background until released. */
export class HeldLocks {
  private lostWhy?: string;
  private released = false;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly owner: LockOwner,
    readonly sites: LockSite[],
    private readonly logger: Logger,
    ttlMs: number,
  ) {
    this.timer = setInterval(
      () => {
        for (const s of this.sites) {
          this.renew(s).catch((e) => this.logger.warning(`host ${s.name}: could not renew the lock: ${errorMessage(e)}`));
        }
      },
      Math.max(250, Math.floor(ttlMs / 3)),
    );
    this.timer.unref();
  }

  get lost(): string | undefined {
    return this.lostWhy;
  }

  /** The owner record as a renewal writes it (a new informational `expires`). */
  private renewed(): LockOwner {
    return { ...this.owner, expires: new Date(Date.now() + this.owner.ttl_s * 1000).toISOString() };
  }

  private async renew(s: LockSite): Promise<void> {
    if (this.released || this.lostWhy) return;
    const r = await s.session.run(asSite(s, renewCommand(s.appDir, this.owner.id, this.renewed())), { step: 'lock' });
    if (r.stdout.startsWith('lost')) {
      const now = parseHeld(`held\n0\n${r.stdout.split('\n').slice(1).join('\n')}`).owner;
      this.lostWhy = `the lock on ${s.name} is no longer this run's${now.id ? ` (it is now the ${describeOwner(now)})` : ' (it was removed)'}`;
      this.logger.error(`host ${s.name}: ${this.lostWhy}; this run stops before changing anything else`);
      clearInterval(this.timer);
    }
  }

  /** Throw if the background renewal found a lock taken. Call at every phase boundary. */
  assertHeld(): void {
    if (this.lostWhy) throw new LockLostError(`${this.lostWhy}; nothing more was changed`);
  }

  /** Check (and renew) the lock on these hosts now; throws if any is no longer ours. */
  async verify(names?: string[]): Promise<void> {
    this.assertHeld();
    await Promise.all(this.sites.filter((s) => !names || names.includes(s.name)).map((s) => this.renew(s)));
    this.assertHeld();
  }

  /** Release every lock that is still ours; say so for each that is not. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await Promise.all(
      this.sites.map(async (s) => {
        try {
          const r = await s.session.run(asSite(s, releaseCommand(s.appDir, this.owner.id)), { step: 'unlock' });
          if (r.stdout.trim() === 'released') this.logger.info(`host ${s.name}: lock released`);
          else this.logger.warning(`host ${s.name}: the lock is no longer this run's; left it as it is`);
        } catch (e) {
          this.logger.warning(
            `host ${s.name}: could not release the lock (${errorMessage(e)}); the post step tries again, and it goes stale after ${formatDuration(this.owner.ttl_s * 1000)} without renewal`,
          );
        }
      }),
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Take the lock on every site, one after another in canonical order, waiting (up to
 * `timeoutMs` in all) for locks other runs hold. On failure the locks taken so far are
 * released.
 */
export async function acquireLocks(sites: LockSite[], base: Omit<LockOwner, 'acquired' | 'ttl_s' | 'expires'>, o: LockOptions): Promise<HeldLocks> {
  const ordered = [...sites].sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  const ttl_s = Math.max(1, Math.ceil(o.ttlMs / 1000));
  const owner: LockOwner = { ...base, acquired: new Date().toISOString(), ttl_s, expires: new Date(Date.now() + ttl_s * 1000).toISOString() };
  const held: LockSite[] = [];
  const locks = new HeldLocks(owner, held, o.logger, o.ttlMs);
  const deadline = Date.now() + o.timeoutMs;
  try {
    for (const s of ordered) {
      // The same lock reached under another name (same machine and directory): held already.
      if ((await acquireOne(s, owner, deadline, o)) === 'already') continue;
      held.push(s);
      o.onAcquired?.([...held], owner);
    }
  } catch (e) {
    await locks.release();
    throw e;
  }
  o.logger.info(
    `lock acquired on ${held.length === 1 ? held[0]!.name : `${held.length} hosts`} (${owner.kind}; renewed while running, stale after ${formatDuration(owner.ttl_s * 1000)} without renewal)`,
  );
  return locks;
}

async function acquireOne(s: LockSite, owner: LockOwner, deadline: number, o: LockOptions): Promise<'acquired' | 'already'> {
  let shown = '';
  for (;;) {
    const r = await s.session.run(asSite(s, acquireCommand(s.appDir, owner, s.guarded)), { step: 'lock' });
    if (r.stdout.startsWith('acquired')) return 'acquired';
    const { owner: held, ageS, stale, unknown, limitS } = parseHeld(r.stdout);
    if (held.id === owner.id && !r.stdout.startsWith('held-guard')) return 'already';
    // The host's maintenance lock (the guard) is never broken, whatever it says.
    const guarded = r.stdout.startsWith('held-guard');
    const desc = describeOwner(held, ageS);
    const who = describeOwner(held);
    if (who !== shown) {
      o.logger.info(`host ${s.name}: waiting for the ${desc}`);
      shown = who;
    }
    if (stale && held.kind !== 'maintenance' && !guarded) {
      o.logger.warning(`host ${s.name}: breaking a stale ${desc} (its holder stopped renewing it)`);
      const b = await s.session.run(asSite(s, breakCommand(s.appDir, held.id ?? '', limitS)), { step: 'lock' });
      if (b.stdout.trim() === 'broken') continue;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `could not get the lock on ${s.name} within ${formatDuration(o.timeoutMs)} ('lock-timeout'): ${desc}. ` +
          (held.kind === 'maintenance' || guarded
            ? `The host is under maintenance (security-update${guarded ? ': its host-wide maintenance lock' : ''}), whose lock is never broken; wait for it to finish.`
            : unknown
              ? `Its owner file is not one this version wrote, so it is never broken automatically: check what holds ${s.appDir}/.lock on ${s.name} and remove it if nothing does.`
              : `Wait for that run to finish; if it died, the lock is broken automatically once it goes ${formatDuration(limitS * 1000)} without renewal (or remove ${s.appDir}/.lock on ${s.name}).`),
      );
    }
    await sleep(Math.min(o.pollMs ?? 2000, Math.max(100, deadline - Date.now())));
  }
}
