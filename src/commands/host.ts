/** Commands about the host itself: its boot marker, and running something as root. */
import { isToken, render, sh, shScript, type Command } from '../shell/index.js';

/**
 * The host's boot marker: the kernel's boot_id and PID 1's start time (field 22 of
 * /proc/1/stat, counted after the command name, which may hold spaces). A rebooted VM has
 * a new boot_id; a restarted container or LXC guest keeps the kernel's boot_id but has a
 * new PID 1.
 */
export function bootMarkerCommand(): Command {
  return shScript(sh`b=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
s=$(sed 's/^.*) //' /proc/1/stat | cut -d' ' -f20)
printf '%s:%s\n' "$b" "$s"`);
}

/** What the executor adapts to on a host, one line each: `timeout`, `bash`, `uid=N`. */
export function factsCommand(): Command {
  return shScript(sh`command -v timeout >/dev/null 2>&1 && echo timeout
command -v bash >/dev/null 2>&1 && echo bash
echo "uid=$(id -u)"`);
}

/** Who and what the host is (for preflight reports). */
export function identityCommand(): Command {
  return shScript(sh`id -un; uname -srm`);
}

/** Remove files (for temporary ones a step made). */
export function removeFilesCommand(files: string[]): Command {
  return ['rm', '-f', '--', ...files];
}

/**
 * `c` as root through `sudo -n` (never prompting: a password prompt fails at once, and the
 * executor says so). A compound command goes through `sh -c`.
 */
export function sudo(c: Command): Command {
  const simple = c.every((w) => !isToken(w));
  return simple ? ['sudo', '-n', '--', ...(c as string[])] : ['sudo', '-n', '--', 'sh', '-c', render(c)];
}

/** `c`, as root when `asRoot` says so (a user that is not root). */
export function privileged(c: Command, viaSudo: boolean): Command {
  return viaSudo ? sudo(c) : c;
}
