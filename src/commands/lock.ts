/**
 * The lock's remote operations: an atomic `mkdir <dir>/.lock` with owner.json; renewal
 * touches owner.json (its mtime, by the host's clock, is the last renewal); release and
 * break act only if the lock is still the expected owner's.
 */
import { sh, shScript, type Command } from '../shell/index.js';

const idMark = (id: string) => `"id":${JSON.stringify(id)}`;

/**
 * Take the lock, or report who holds it and how long ago (host clock) it was renewed.
 * With `guarded`, the lock is not taken while the host's maintenance lock is held: that one
 * is reported as the holder instead (checked again after taking, so a maintenance run
 * that starts at the same moment wins).
 */
export function acquireCommand(appDir: string, owner: { id: string }, guarded = false): Command {
  return shScript(
    sh`held() {
  now=$(date +%s)
  m=$(stat -c %Y "$1/.lock/owner.json" 2>/dev/null || stat -c %Y "$1/.lock" 2>/dev/null || echo "$now")
  echo "$2"
  echo "$((now - m))"
  cat "$1/.lock/owner.json" 2>/dev/null || true
}
g=
if [ "$3" = yes ]; then g="\${OPS_ACTIONS_HOST_DIR:-/var/lib/ops-actions}/maintenance"; fi
if [ -n "$g" ] && [ -d "$g/.lock" ]; then held "$g" held-guard; exit 0; fi
mkdir -p "$1"
if mkdir "$1/.lock" 2>/dev/null; then
  printf '%s' "$2" > "$1/.lock/owner.json.tmp" && mv "$1/.lock/owner.json.tmp" "$1/.lock/owner.json"
  if [ -n "$g" ] && [ -d "$g/.lock" ]; then rm -rf "$1/.lock"; held "$g" held-guard; exit 0; fi
  echo acquired
else
  held "$1" held
fi`,
    appDir,
    JSON.stringify(owner),
    guarded ? 'yes' : 'no',
  );
}

/**
 * Renew the lock if it is still ours: owner.json is rewritten (by rename) with `owner`, which
 * sets its mtime, the host-clock time of the last renewal. `lost` otherwise, with the owner.
 */
export function renewCommand(appDir: string, id: string, owner: object): Command {
  // Checked and rewritten inside the directory it was found in (cd holds it): a lock that
  // is broken (renamed away) and taken again meanwhile is never rewritten as ours.
  return shScript(
    sh`d=$(cd "$1" 2>/dev/null && pwd) || d=$1
if cd "$d/.lock" 2>/dev/null && grep -qF -- "$2" owner.json 2>/dev/null; then
  printf '%s' "$3" > "owner.json.renew.$$" && mv -f "owner.json.renew.$$" owner.json && echo renewed
else
  echo lost
  cat "$d/.lock/owner.json" 2>/dev/null || true
fi`,
    appDir,
    idMark(id),
    JSON.stringify(owner),
  );
}

export function releaseCommand(appDir: string, id: string): Command {
  return shScript(sh`if grep -qF -- "$2" "$1/.lock/owner.json" 2>/dev/null; then rm -rf "$1/.lock"; echo released; else echo not-ours; fi`, appDir, idMark(id));
}

/**
 * Break a lock, only if it is still held by `id` (or has no owner file and `id` is empty)
 * and still stale by the host's clock (`maxAge` seconds since its last renewal). The lock is
 * renamed away first and checked there, so a lock that was just taken again is never the
 * one removed (it is put back).
 */
export function breakCommand(appDir: string, id: string, maxAgeS: number): Command {
  return shScript(
    sh`now=$(date +%s)
b="$1/.lock.breaking.$$"
mv -T "$1/.lock" "$b" 2>/dev/null || { echo changed; exit 0; }
ok=no
if [ -n "$2" ]; then
  if grep -qF -- "$2" "$b/owner.json" 2>/dev/null; then f="$b/owner.json"; ok=yes; fi
elif [ ! -s "$b/owner.json" ]; then f="$b"; ok=yes; fi
if [ "$ok" = yes ]; then
  m=$(stat -c %Y "$f" 2>/dev/null || echo "$now")
  [ "$((now - m))" -gt "$3" ] || ok=no
fi
if [ "$ok" = yes ]; then rm -rf "$b"; echo broken; exit 0; fi
# Not the stale lock it was: put it back (unless a new one was taken meanwhile).
mv -T "$b" "$1/.lock" 2>/dev/null || rm -rf "$b"
echo changed`,
    appDir,
    id ? idMark(id) : '',
    String(maxAgeS),
  );
}
