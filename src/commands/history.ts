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
