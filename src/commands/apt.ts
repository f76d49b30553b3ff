/**
 * The patching commands (Debian and Ubuntu: apt and dpkg), as data. Every apt run is
 * non-interactive, keeps changed configuration files (`--force-confdef --force-confold`),
 * and waits for the dpkg lock up to a bound (apt then names the process holding it).
 */
import { sh, shScript, type Command } from '../shell/index.js';

export type UpdateMode = 'security' | 'full' | 'dist';

const quiet = ['-q', '-o', 'Dpkg::Use-Pty=0'];
// LC_ALL=C: apt's and dpkg's messages (the lock holder's name) are read in English.
const env = ['env', 'LC_ALL=C', 'DEBIAN_FRONTEND=noninteractive', 'NEEDRESTART_MODE=l', 'APT_LISTCHANGES_FRONTEND=none'];
const lockWait = (s: number) => ['-o', `DPkg::Lock::Timeout=${Math.max(0, Math.round(s))}`];
const conf = ['-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];

export function aptUpdateCommand(lockTimeoutS: number): Command {
  return [...env, 'apt-get', ...quiet, ...lockWait(lockTimeoutS), 'update'];
}

/** What an upgrade would do (a simulation: no lock, no change). */
export function aptSimulateCommand(mode: UpdateMode): Command {
  return [...env, 'apt-get', ...quiet, '-s', '-o', 'Debug::NoLocking=1', mode === 'full' ? 'upgrade' : 'dist-upgrade'];
}

/** Apply: `packages` (security mode: only those, never new installs of others) or the whole upgrade. */
export function aptApplyCommand(mode: UpdateMode, lockTimeoutS: number, packages: string[]): Command {
  const base = [...env, 'apt-get', ...quiet, '-y', ...lockWait(lockTimeoutS), ...conf];
  if (mode === 'security') return [...base, 'install', '--only-upgrade', '--', ...packages];
  return [...base, mode === 'full' ? 'upgrade' : 'dist-upgrade'];
}

export function aptMarkCommand(action: 'hold' | 'unhold', packages: string[]): Command {
  return ['env', 'LC_ALL=C', 'apt-mark', action, '--', ...packages];
}

export function showHoldsCommand(): Command {
  return ['apt-mark', 'showhold'];
}

/** Installed versions (`name<TAB>version<TAB>status`); packages not installed are left out. */
export function installedVersionsCommand(packages: string[]): Command {
  return shScript(sh`dpkg-query -W -f='\${Package}\t\${Version}\t\${db:Status-Abbrev}\n' -- "$@" 2>/dev/null || true`, ...packages);
}

/**
 * What the host says after the upgrade: whether it asks for a reboot (and for which
 * packages), and, when needrestart is installed, its batch report (kernel status, and the
 * services still using replaced libraries; batch mode lists them, it restarts nothing).
 */
export function afterUpgradeCommand(): Command {
  return shScript(
    sh`if [ -e /var/run/reboot-required ]; then echo "REBOOT-REQUIRED: yes"; fi
if [ -r /var/run/reboot-required.pkgs ]; then sed 's/^/REBOOT-PKG: /' /var/run/reboot-required.pkgs; fi
if command -v needrestart >/dev/null 2>&1; then
  echo "NEEDRESTART: yes"
  needrestart -b -r l 2>/dev/null || echo "NEEDRESTART-FAILED: $?"
else
  echo "NEEDRESTART: no"
fi`,
  );
}

/**
 * Restart services (by systemd where it is the init, else through their init scripts),
 * reporting each: `RESTARTED: name` or `FAILED: name`. Sessions survive an sshd restart.
 */
export function restartServicesCommand(services: string[]): Command {
  return shScript(
    sh`for s in "$@"; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl restart -- "$s" </dev/null >/dev/null 2>&1; then echo "RESTARTED: $s"; else echo "FAILED: $s"; fi
  elif command -v service >/dev/null 2>&1; then
    if service "$s" restart </dev/null >/dev/null 2>&1; then echo "RESTARTED: $s"; else echo "FAILED: $s"; fi
  else
    echo "FAILED: $s"
  fi
done`,
    ...services,
  );
}

/**
 * Reboot: `systemctl reboot`, or `shutdown -r now` where systemd is not the init (or
 * refuses). Either may drop the connection before answering.
 */
export function defaultRebootCommand(): Command {
  return shScript(sh`if command -v systemctl >/dev/null 2>&1 && systemctl reboot 2>/dev/null; then exit 0; fi
exec shutdown -r now`);
}

/** The host-wide state directory (where the maintenance lock lives), as this user sees it. */
export function hostDirCommand(): Command {
  return shScript(sh`printf '%s\n' "\${OPS_ACTIONS_HOST_DIR:-/var/lib/ops-actions}"`);
}

/**
 * The maintenance lock's directory, readable by every user: deploys (whoever connects)
 * must see the lock to refuse to start.
 */
export function maintenanceDirCommand(dir: string): Command {
  return shScript(sh`mkdir -p "$1" && chmod 0755 "$1"`, dir);
}

/**
 * Who holds the package manager's locks, read from the kernel's lock table (/proc/locks),
 * since apt names the holder only while it waits, not when its wait times out:
 * `HOLDER: <lock file> <pid> <command name>` per held lock.
 */
export function lockHoldersCommand(files = ['/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock', '/var/cache/apt/archives/lock', '/var/lib/apt/lists/lock']): Command {
  return shScript(
    sh`for f in "$@"; do
  [ -e "$f" ] || continue
  d=$(stat -c %d "$f") && i=$(stat -c %i "$f") || continue
  key=$(printf '%02x:%02x:%s' $(( (d >> 8) & 4095 )) $(( (d & 255) | ((d >> 12) & 1048320) )) "$i")
  while read -r _ a _ _ pid dev _; do
    [ "$a" = "->" ] && continue
    [ "$dev" = "$key" ] || continue
    n=$(cat "/proc/$pid/comm" 2>/dev/null) || n=
    echo "HOLDER: $f $pid $n"
  done </proc/locks
done
true`,
    ...files,
  );
}
