/**
 * The lock's remote operations: an atomic `mkdir <dir>/.lock` with owner.json; renewal
 * touches owner.json (its mtime, by the host's clock, is the last renewal); release and
 * break act only if the lock is still the expected owner's.
 */
import { sh, shScript, type Command } from '../shell/index.js';

const idMark = (id: string) => `"id":${JSON.stringify(id)}`;

/**
 * Take the lock, or report who holds it and how long ago (host clock) it was renewed.
 * With `guard` (the host-scoped maintenance lock's directory), the lock is not taken while
 * that one is held: it is reported as the holder instead (checked again after taking, so a
 * maintenance run that starts at the same moment wins).
 */
export function acquireCommand(appDir: string, owner: { id: string }, guard = ''): Command {
  return shScript(
    sh`held() {
  now=$(date +%s)
  m=$(stat -c %Y "$1/.lock/owner.json" 2>/dev/null || stat -c %Y "$1/.lock" 2>/dev/null || echo "$now")
  echo "$2"
  echo "$((now - m))"
  cat "$1/.lock/owner.json" 2>/dev/null || true
}
if [ -n "$3" ] && [ -d "$3/.lock" ]; then held "$3" held-guard; exit 0; fi
mkdir -p "$1"
if mkdir "$1/.lock" 2>/dev/null; then
  printf '%s' "$2" > "$1/.lock/owner.json.tmp" && mv "$1/.lock/owner.json.tmp" "$1/.lock/owner.json"
  if [ -n "$3" ] && [ -d "$3/.lock" ]; then rm -rf "$1/.lock"; held "$3" held-guard; exit 0; fi
  echo acquired
else
  held "$1" held
fi`,
    appDir,
    JSON.stringify(owner),
    guard,
  );
}

/** Renew (touch) the lock if it is still ours; `lost` otherwise, with the current owner. */
export function renewCommand(appDir: string, id: string): Command {
  return shScript(
    sh`if grep -qF -- "$2" "$1/.lock/owner.json" 2>/dev/null; then touch "$1/.lock/owner.json" && echo renewed
else
  echo lost
  cat "$1/.lock/owner.json" 2>/dev/null || true
fi`,
    appDir,
    idMark(id),
  );
}

export function releaseCommand(appDir: string, id: string): Command {
  return shScript(sh`if grep -qF -- "$2" "$1/.lock/owner.json" 2>/dev/null; then rm -rf "$1/.lock"; echo released; else echo not-ours; fi`, appDir, idMark(id));
}

/**
 * Break a lock, only if it is still held by `id` (or has no owner file and `id` is empty)
 * and still stale by the host's clock (`maxAge` seconds since its last renewal).
 */
export function breakCommand(appDir: string, id: string, maxAgeS: number): Command {
  return shScript(
    sh`now=$(date +%s)
if [ -n "$2" ]; then f="$1/.lock/owner.json"; grep -qF -- "$2" "$f" 2>/dev/null || { echo changed; exit 0; }
else f="$1/.lock"; [ ! -s "$1/.lock/owner.json" ] || { echo changed; exit 0; }
fi
m=$(stat -c %Y "$f" 2>/dev/null || echo "$now")
if [ "$((now - m))" -gt "$3" ]; then
  mv "$1/.lock" "$1/.lock.broken.$$" && rm -rf "$1/.lock.broken.$$" && echo broken
else
  echo changed
fi`,
    appDir,
    id ? idMark(id) : '',
    String(maxAgeS),
  );
}
