/** File releases on a host: the release directory, extracting the streamed tar, linking shared paths. */
import { sh, shScript, type Command } from '../shell/index.js';

/** A release directory, group-readable (a web server may need to read it). */
export function mkdirCommand(dir: string): Command {
  return shScript(sh`mkdir -p "$1" && chmod 0750 "$1"`, dir);
}

/** Extract the tar on stdin into `dir` (gzip-compressed or not), without the sender's owners. */
export function extractCommand(dir: string, gzip: boolean): Command {
  return gzip ? shScript(sh`tar -xzpf - --no-same-owner -C "$1"`, dir) : shScript(sh`tar -xpf - --no-same-owner -C "$1"`, dir);
}

/**
 * Link each shared path (`dir/` for a directory, created when missing; a file must exist)
 * from `<appDir>/shared` into the release, never through a symlink inside the release.
 */
export function sharedPathsCommand(appDir: string, releaseDir: string, paths: string[]): Command {
  return shScript(
    sh`d=$1; r=$2; shift 2
for p in "$@"; do
  case "$p" in
    */) p=\${p%/}; mkdir -p "$d/shared/$p" ;;
    *) if [ ! -e "$d/shared/$p" ]; then echo "shared file $d/shared/$p does not exist: create it on the host (it is declared in shared-paths)" >&2; exit 3; fi ;;
  esac
  # Never through a link: every parent of the path must be a real directory inside the release.
  q=$r; rest=$p
  while case "$rest" in */*) true ;; *) false ;; esac; do
    q="$q/\${rest%%/*}"; rest=\${rest#*/}
    if [ -L "$q" ]; then echo "shared path $p: $q is a symlink in the release; refusing to link through it" >&2; exit 3; fi
  done
  rm -rf "$r/$p"
  mkdir -p "$(dirname "$r/$p")"
  ln -s "$d/shared/$p" "$r/$p"
done`,
    appDir,
    releaseDir,
    ...paths,
  );
}
