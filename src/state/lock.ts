/**
 * The lock: an atomic `mkdir <app-dir>/.lock` on one host, with owner.json (id, kind, run
 * URL, actor, acquired, expires). The holder renews `expires` while it works; a deploy lock
 * whose holder stopped renewing may be broken after it expires (and that is logged); a
 * maintenance lock is never broken.
 */
import { shScript, type Command } from '../shell/index.js';
import { formatDuration } from '../inputs/schema.js';
import type { Logger } from '../log.js';
import type { SshSession } from '../ssh/session.js';

export type LockKind = 'deploy' | 'maintenance';

export interface LockOwner {
  id: string;
  kind: LockKind;
  app: string;
  environment: string;
  actor: string;
  run_url: string;
  acquired: string;
  expires: string;
}

const idMark = (id: string) => `"id":${JSON.stringify(id)}`;

export function acquireCommand(appDir: string, owner: LockOwner): Command {
  return shScript(
    `mkdir -p "$1"
if mkdir "$1/.lock" 2>/dev/null; then
  printf '%s' "$2" > "$1/.lock/owner.json.tmp" && mv "$1/.lock/owner.json.tmp" "$1/.lock/owner.json"
  echo acquired
else
  echo held
  echo "$(( $(date +%s) - $(stat -c %Y "$1/.lock" 2>/dev/null || date +%s) ))"
  cat "$1/.lock/owner.json" 2>/dev/null || true
fi`,
    appDir,
    JSON.stringify(owner),
  );
}

export function renewCommand(appDir: string, owner: LockOwner): Command {
  return shScript(
    `if grep -qF -- "$3" "$1/.lock/owner.json" 2>/dev/null; then
  printf '%s' "$2" > "$1/.lock/owner.json.tmp" && mv "$1/.lock/owner.json.tmp" "$1/.lock/owner.json" && echo renewed
else
  echo lost
fi`,
    appDir,
    JSON.stringify(owner),
    idMark(owner.id),
  );
}

export function releaseCommand(appDir: string, id: string): Command {
  return shScript(
    `if grep -qF -- "$2" "$1/.lock/owner.json" 2>/dev/null; then rm -rf "$1/.lock"; echo released; else echo not-ours; fi`,
    appDir,
    idMark(id),
  );
}

/** Break a lock, only if it is still held by `id` (or has no owner file and `id` is empty). */
export function breakCommand(appDir: string, id: string): Command {
  return shScript(
    `if { [ -n "$2" ] && grep -qF -- "$2" "$1/.lock/owner.json" 2>/dev/null; } || { [ -z "$2" ] && [ ! -s "$1/.lock/owner.json" ]; }; then
  mv "$1/.lock" "$1/.lock.broken.$$" && rm -rf "$1/.lock.broken.$$" && echo broken
else
  echo changed
fi`,
    appDir,
    id ? idMark(id) : '',
  );
}

export function describeOwner(o: Partial<LockOwner>): string {
  return `${o.kind ?? 'unknown'} lock held by ${o.actor || 'an unknown actor'}${o.run_url ? ` (run ${o.run_url})` : ''} since ${o.acquired ?? '?'}, expires ${o.expires ?? '?'}`;
}

export interface HeldLock {
  owner: LockOwner;
  host: string;
  appDir: string;
  /** Release the lock (only if it is still ours). */
  release(): Promise<void>;
}

export interface LockOptions {
  timeoutMs: number;
  /** How long the lock stays valid without renewal. */
  ttlMs: number;
  pollMs?: number;
  logger: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A lock directory with no owner file this old is a holder that died between mkdir and write. */
const ORPHAN_AGE_S = 60;

export async function acquireLock(s: SshSession, appDir: string, base: Omit<LockOwner, 'acquired' | 'expires'>, o: LockOptions): Promise<HeldLock> {
  const started = Date.now();
  const stamp = () => ({ ...base, acquired: new Date().toISOString(), expires: new Date(Date.now() + o.ttlMs).toISOString() });
  let owner: LockOwner = stamp();
  let shown = '';
  for (;;) {
    const r = await s.run(acquireCommand(appDir, owner), { step: 'lock' });
    const [state, ageLine = '0', ...rest] = r.stdout.split('\n');
    if (state === 'acquired') break;
    const text = rest.join('\n').trim();
    let held: Partial<LockOwner> = {};
    try {
      held = text ? JSON.parse(text) : {};
    } catch {
      held = {};
    }
    const desc = describeOwner(held);
    if (desc !== shown) {
      o.logger.info(`host ${s.target.name}: waiting for the ${desc}`);
      shown = desc;
    }
    const expired = held.expires ? Date.parse(held.expires) < Date.now() : Number(ageLine) > ORPHAN_AGE_S;
    if (expired && held.kind !== 'maintenance') {
      o.logger.warning(`host ${s.target.name}: breaking a stale ${desc} (its holder stopped renewing it)`);
      await s.run(breakCommand(appDir, held.id ?? ''), { step: 'lock' });
      owner = stamp();
      continue;
    }
    if (Date.now() - started >= o.timeoutMs) {
      throw new Error(
        `could not get the lock on ${s.target.name} within ${formatDuration(o.timeoutMs)} ('lock-timeout'): ${desc}. ` +
          (held.kind === 'maintenance'
            ? 'Maintenance (security-update) holds it and it is never broken; wait for it to finish.'
            : `Wait for that run to finish; if it is dead, the lock is broken automatically once it expires (or remove ${appDir}/.lock on ${s.target.name}).`),
      );
    }
    await sleep(Math.min(o.pollMs ?? 2000, Math.max(100, o.timeoutMs - (Date.now() - started))));
    owner = stamp();
  }
  o.logger.info(`host ${s.target.name}: lock acquired (${owner.kind}, expires ${owner.expires}, renewed while running)`);
  let current = owner;
  const renew = setInterval(() => {
    current = { ...current, expires: new Date(Date.now() + o.ttlMs).toISOString() };
    s.run(renewCommand(appDir, current), { step: 'lock' }).then(
      (r) => {
        if (r.stdout.trim() === 'lost') o.logger.warning(`host ${s.target.name}: the lock was taken from this run (it expired); continuing`);
      },
      (e) => o.logger.warning(`host ${s.target.name}: could not renew the lock: ${(e as Error).message}`),
    );
  }, Math.max(250, Math.floor(o.ttlMs / 3)));
  renew.unref();
  let released = false;
  return {
    owner,
    host: s.target.name,
    appDir,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(renew);
      await s.run(releaseCommand(appDir, owner.id), { step: 'unlock' });
      o.logger.info(`host ${s.target.name}: lock released`);
    },
  };
}
