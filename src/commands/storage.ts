/** A directory on a backup server, as storage: written by rename, listed with sizes and times. */
import { sh, shScript, type Command } from '../shell/index.js';

/**
 * Write stdin to `tmp` (0600, parents created). The caller renames it into place only after
 * it knows every byte was sent: an input that ends early (a failure on the sending side closes
 * the channel) must never leave a truncated object under the final name.
 */
export function writeStdinCommand(tmp: string): Command {
  return shScript(
    sh`umask 077
mkdir -p "$(dirname "$1")"
cat > "$1"`,
    tmp,
  );
}

/** Move a completely written temporary object to its name. */
export function commitObjectCommand(tmp: string, file: string): Command {
  return ['mv', '-f', '--', tmp, file];
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
