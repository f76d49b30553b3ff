/** Releases on a host: reading the whole state in one round trip (bounded), switching `current`, removing releases. */
import { sh, shScript, type Command } from '../shell/index.js';

/**
 * One round trip: home, app dir (with `~` resolved), current, releases with their
 * manifests, history, and which compose the host has.
 */
export function readStateCommand(appDir: string): Command {
  return shScript(
    sh`d=$1
case "$d" in "~") d=$HOME ;; "~/"*) d="$HOME/\${d#"~/"}" ;; esac
printf '%s\\n%s\\n' "$HOME" "$d"
readlink "$d/current" 2>/dev/null || echo
if docker compose version >/dev/null 2>&1; then echo v2; elif command -v docker-compose >/dev/null 2>&1; then echo v1; else echo none; fi
cat /etc/machine-id 2>/dev/null || hostname 2>/dev/null || echo unknown
cat "$d/color" 2>/dev/null || echo
echo '--- releases'
if [ -d "$d/releases" ]; then
  for r in "$d"/releases/*/; do
    [ -d "$r" ] || continue
    printf '%s\\t' "$(basename "$r")"
    if [ -f "$r/release.json" ]; then tr -d '\\n' < "$r/release.json"; fi
    echo
  done
fi
echo '--- history'
h="$d/history.jsonl"
if [ -f "$h" ]; then
  # Bounded however long the history grows: its end, the events of the releases still on
  # the host, and the newest backups (the reader merges and orders them by time).
  tail -n 5000 "$h"
  for r in "$d"/releases/*/; do
    [ -d "$r" ] || continue
    grep -F "\\"release\\":\\"$(basename "$r")\\"" "$h" | tail -n 200 || true
  done
  grep -F '"type":"backup-completed"' "$h" | tail -n 50 || true
fi`,
    appDir,
  );
}

/** Point `current` at a release: a new link under a temporary name, renamed over `current`. */
export function switchCommand(appDir: string, id: string): Command {
  return shScript(sh`ln -sfn "releases/$2" "$1/.current.$$" && mv -Tf "$1/.current.$$" "$1/current"`, appDir, id);
}

/** Point \`current\` at a release and record the color serving it (blue-green), both by rename. */
export function switchColorCommand(appDir: string, id: string, color: string): Command {
  return shScript(
    sh`ln -sfn "releases/$2" "$1/.current.$$" && mv -Tf "$1/.current.$$" "$1/current"
printf '%s\n' "$3" > "$1/.color.$$" && mv -f "$1/.color.$$" "$1/color"`,
    appDir,
    id,
    color,
  );
}

/** Remove releases (read-only directories of theirs included), and the trees recorded for them. */
export function removeReleasesCommand(appDir: string, ids: string[]): Command {
  return shScript(
    sh`d=$1; shift
for id in "$@"; do
  rm -f -- "$d/.tree/$id.json"
  if [ -d "$d/releases/$id" ]; then find "$d/releases/$id" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null || true; fi
  rm -rf -- "$d/releases/$id"
done`,
    appDir,
    ...ids,
  );
}
