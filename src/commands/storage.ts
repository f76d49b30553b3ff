/** A directory on a backup server, as storage: written by rename, listed with sizes and times. */
import { sh, shScript, type Command } from '../shell/index.js';

/** Write stdin to `file` (0600, parents created), under a temporary name renamed at the end. */
export function writeStdinCommand(file: string): Command {
  return shScript(
    sh`umask 077
mkdir -p "$(dirname "$1")"
t="$1.partial-$$"
trap 'rm -f "$t"' EXIT
cat > "$t"
mv -f "$t" "$1"
trap - EXIT`,
    file,
  );
}

export function catCommand(file: string): Command {
  return ['cat', '--', file];
}

/** Every file under `dir`: relative path, size, mtime (epoch seconds), tab-separated. */
export function listFilesCommand(dir: string): Command {
  return shScript(
    sh`[ -d "$1" ] || exit 0
cd "$1" && find . -type f ! -name '*.partial-*' -printf '%P\t%s\t%T@\n'`,
    dir,
  );
}

export function removePathsCommand(root: string, rel: string[]): Command {
  return shScript(sh`r=$1; shift; for p in "$@"; do rm -f -- "$r/$p"; rmdir -- "$(dirname "$r/$p")" 2>/dev/null || true; done`, root, ...rel);
}
