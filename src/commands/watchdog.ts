/**
 * The switch watchdog's remote operations ("commit confirmed"). Before a host is switched,
 * a detached process is started on the host: unless the switch is confirmed within its
 * timeout (by the host's clock), it takes the deploy lock and runs the revert command (the
 * same activation steps a rollback runs), records the revert in the history and exits.
 *
 * The decision is one atomic `ln -s` of `<dir>/decided`: the run writes `confirmed` (or
 * `rolled-back` when it returned the host itself), the watchdog writes `reverting`; whoever
 * is first decides, the other reads the link. Everything here is constant script text with
 * data as positional parameters; the revert, lock and history commands are rendered
 * `Command`s built by their own builders.
 */
import { sh, shScript, type Command } from '../shell/index.js';

export interface WatchdogScriptParams {
  /** The app directory (absolute). */
  appDir: string;
  /** This watchdog's directory (under <app-dir>/.watchdog/). */
  dir: string;
  /** Log file (appended, 0600). */
  log: string;
  /** The release being switched to. */
  guarded: string;
  /** The release to return to. */
  previous: string;
  timeoutS: number;
  /** How long to wait for a lock another run holds before giving up. */
  lockWaitS: number;
  /** `"id":"<owner id>"` of the run that armed it: its lock is taken over at the deadline. */
  runMark: string;
  /** Rendered commands. */
  acquire: string;
  takeover: string;
  release: string;
  /** Renews the watchdog's own lock while it reverts (touches owner.json). */
  renew: string;
  revert: string;
  /** Appends the revert event (time by the host's clock). */
  recordReverted: string;
  /** Appends an event saying the revert failed. */
  recordFailed: string;
  /** The revert is stopped after this long (where the host has `timeout`). */
  revertTimeoutS: number;
}

/** The watchdog itself (run detached by `armWatchdogCommand`). */
const WATCHDOG = sh`app_dir=$1 d=$2 guarded=$3 previous=$4 timeout_s=$5 lock_wait_s=$6 run_mark=$7
acquire=$8 takeover=$9
shift 9
release=$1 renew=$2 revert=$3 record_reverted=$4 record_failed=$5 revert_timeout_s=$6
set +e
# Its directory goes when it exits, except after a revert: the run that armed it reads
# 'reverting' there (the next arm removes directories whose watchdog is gone).
trap '[ "$(readlink "$d/decided" 2>/dev/null)" = reverting ] || rm -rf "$d"' EXIT
say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) watchdog $guarded (pid $$): $*"; }
cur() { c=$(readlink "$app_dir/current" 2>/dev/null) || c=; echo "\${c##*/}"; }
other() { c=$(cur); [ "$c" != "$guarded" ] && [ "$c" != "$previous" ]; }
deadline=$(( $(date +%s) + timeout_s ))
say "armed: returns to $previous unless the switch to $guarded is confirmed within \${timeout_s}s"
while :; do
  if [ -L "$d/decided" ]; then say "$(readlink "$d/decided"); exiting"; exit 0; fi
  if other; then say "the host serves $(cur) now (another run switched it); exiting"; exit 0; fi
  [ "$(date +%s)" -lt "$deadline" ] || break
  sleep 1
done
if ! ln -s reverting "$d/decided" 2>/dev/null; then say "$(readlink "$d/decided") at the deadline; exiting"; exit 0; fi
say "not confirmed within \${timeout_s}s: taking the deploy lock to return to $previous"
lock_deadline=$(( $(date +%s) + lock_wait_s ))
shown=
while :; do
  out=$(sh -c "$acquire" 2>&1)
  case $out in acquired*) break ;; esac
  if other; then say "the host serves $(cur) now (another run switched it); exiting"; exit 0; fi
  case $out in
    held-guard*) w="the host's maintenance lock" ;;
    held*)
      if printf '%s' "$out" | grep -qF -- "$run_mark"; then
        say "taking over the lock of the run that switched (it never confirmed)"
        sh -c "$takeover" >/dev/null 2>&1
        continue
      fi
      w="another run's deploy lock" ;;
    *) w="the lock (could not be read: $out)" ;;
  esac
  [ "$w" = "$shown" ] || { say "waiting for $w"; shown=$w; }
  if [ "$(date +%s)" -ge "$lock_deadline" ]; then say "gave up waiting for $w after \${lock_wait_s}s; $guarded stays live"; exit 1; fi
  sleep 2
done
# Renews the lock while the revert runs; stops when this process is gone.
( while sleep 20 && kill -0 $$ 2>/dev/null; do sh -c "$renew" >/dev/null 2>&1; done ) &
renewer=$!
unlock() { kill "$renewer" 2>/dev/null; wait "$renewer" 2>/dev/null; sh -c "$release" >/dev/null 2>&1; }
if other; then say "the host serves $(cur) now (another run switched it); exiting"; unlock; exit 0; fi
say "returning to $previous"
if command -v timeout >/dev/null 2>&1; then timeout -k 10 "$revert_timeout_s" sh -c "$revert"; else sh -c "$revert"; fi
rc=$?
if [ "$rc" -eq 0 ]; then
  sh -c "$record_reverted" || say "could not record the revert in the history"
  say "returned to $previous; $guarded is marked bad"
  unlock
  exit 0
fi
sh -c "$record_failed" || true
say "returning to $previous failed (exit code $rc); $guarded may still be live"
unlock
exit 1`;

/**
 * Start the watchdog detached from the SSH session (a new session by `setsid`, else
 * `nohup`), its output appended to the log. Prints `armed <pid>`. Fails when the
 * directory already exists (a token is used once) or neither launcher exists.
 */
export function armWatchdogCommand(p: WatchdogScriptParams): Command {
  return shScript(
    sh`log=$1 d=$2 body=$3
shift 3
# Private directory and log; the watchdog itself keeps the session's umask (what it
# creates while reverting is made as a run would make it).
# Directories of watchdogs that are gone (reverted, or killed with the host).
for o in "$(dirname "$d")"/*/; do
  [ -d "$o" ] || continue
  p=$(cat "$o/pid" 2>/dev/null) || p=
  if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then rm -rf "$o"; fi
done
( umask 077 && mkdir -p "$(dirname "$d")" && mkdir "$d" && : >> "$log" ) || exit 1
if command -v setsid >/dev/null 2>&1; then
  setsid sh -c "$body" ops-watchdog "$@" </dev/null >>"$log" 2>&1 &
elif command -v nohup >/dev/null 2>&1; then
  nohup sh -c "$body" ops-watchdog "$@" </dev/null >>"$log" 2>&1 &
else
  rm -rf "$d"
  echo "neither setsid nor nohup is installed: the watchdog cannot run detached" >&2
  exit 3
fi
echo "$!" > "$d/pid"
echo "armed $!"`,
    p.log,
    p.dir,
    watchdogBody(),
    p.appDir,
    p.dir,
    p.guarded,
    p.previous,
    String(p.timeoutS),
    String(p.lockWaitS),
    p.runMark,
    p.acquire,
    p.takeover,
    p.release,
    p.renew,
    p.revert,
    p.recordReverted,
    p.recordFailed,
    String(p.revertTimeoutS),
  );
}

/** The watchdog's script text (constant; what `armWatchdogCommand` runs detached). */
export function watchdogBody(): string {
  return shScript(WATCHDOG)[2] as string;
}

/**
 * Decide a watchdog's switch: `confirmed`, `rolled-back` (the run returned the host
 * itself) or `kept` (the run leaves a release that failed its gate live, as asked). Prints `ok` when this call decided; otherwise what was decided first
 * (`reverting`: the watchdog is returning the host), or `gone` when the watchdog has
 * already exited (its directory removed); then the release `current` points at.
 */
export function decideWatchdogCommand(dir: string, what: 'confirmed' | 'rolled-back' | 'kept', appDir: string): Command {
  return shScript(
    sh`if [ ! -d "$1" ]; then echo gone
elif ln -s "$2" "$1/decided" 2>/dev/null; then echo ok
else readlink "$1/decided" 2>/dev/null || echo gone; fi
c=$(readlink "$3/current" 2>/dev/null) || c=
echo "\${c##*/}"`,
    dir,
    what,
    appDir,
  );
}
