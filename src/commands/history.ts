/** Appending to history.jsonl: one line per event, private to the deploy user. */
import { sh, shScript, type Command } from '../shell/index.js';

/** Append one event (one line; repairs a torn last line first). The file is private to the deploy user (0600). */
export function appendEvent(file: string, event: object): Command {
  const line = JSON.stringify(event).replace(/\n/g, '\\n');
  return shScript(
    sh`mkdir -p "$(dirname "$1")"
umask 077
if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then printf '\\n' >> "$1"; fi
printf '%s\\n' "$2" >> "$1"
chmod 600 "$1"`,
    file,
    line,
  );
}

/**
 * Append one event whose time is taken on the host when the command runs (for commands
 * rendered now and run later, by the host's watchdog). `event` has no `time`; it is put first.
 */
export function appendEventAtHostTimeCommand(file: string, event: object): Command {
  const rest = JSON.stringify(event).replace(/\n/g, '\\n').slice(1);
  return shScript(
    sh`mkdir -p "$(dirname "$1")"
umask 077
if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then printf '\\n' >> "$1"; fi
printf '{"time":"%s",%s\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$2" >> "$1"
chmod 600 "$1"`,
    file,
    rest,
  );
}
