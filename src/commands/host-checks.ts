/**
 * The facts host checks are judged on, read in one round trip: each argument names one
 * fact (`disk:<path>`, `inodes:<path>`, `memory`, `load`, `systemd:<unit>`,
 * `process:<name>`, `reboot`, `ntp`) and gets a section of its own, opened by a marker
 * line, holding the raw output of the standard tool that answers it. Parsing and
 * judging happen on the runner (src/health/host-checks.ts).
 */
import { sh, shScript, type Command } from '../shell/index.js';

/** The line that opens each fact's section (followed by a space and the fact's name). */
export const FACT_MARKER = '@@ops-fact';

const FACTS = sh`for a in "$@"; do
  printf '%s %s\n' '@@ops-fact' "$a"
  case "$a" in
    disk:*) df -P -k -- "\${a#disk:}" 2>&1 || true ;;
    inodes:*) df -P -i -- "\${a#inodes:}" 2>&1 || true ;;
    memory) grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo || true ;;
    load) cat /proc/loadavg || true; getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo 1 ;;
    systemd:*)
      if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl show -p LoadState -p ActiveState -p SubState -- "\${a#systemd:}" 2>&1 || true
      else echo "no-systemd"; fi ;;
    process:*)
      # The name as a literal pattern ('.' and '+' in brackets); this script's own shell is not counted.
      if command -v pgrep >/dev/null 2>&1; then
        p=$(printf '%s' "\${a#process:}" | sed 's/[.+]/[&]/g')
        { pgrep -x -- "$p" || true; } | grep -vx -e "$$" -e "$PPID" | wc -l
      else echo "no-pgrep"; fi ;;
    reboot)
      if [ -e /var/run/reboot-required ]; then echo "required"; cat /var/run/reboot-required.pkgs 2>/dev/null || true
      else echo "not-required"; fi ;;
    ntp)
      if command -v timedatectl >/dev/null 2>&1; then timedatectl show -p NTPSynchronized --value 2>/dev/null || echo unknown
      else echo unknown; fi ;;
  esac
done`;

export function hostFactsCommand(facts: string[]): Command {
  return shScript(FACTS, ...facts);
}

/** The host's clock, in seconds with nanoseconds (GNU date; a date without %N prints seconds only). */
export function hostClockCommand(): Command {
  return shScript(sh`t=$(date +%s.%N); case "$t" in *N*|*.) date +%s ;; *) echo "$t" ;; esac`);
}
