/** File releases on a host: the release directory, extracting the streamed tar, linking shared paths. */
import { sh, shScript, type Command } from '../shell/index.js';

/** A release directory, group-readable (a web server may need to read it). */
export function mkdirCommand(dir: string): Command {
  return shScript(sh`mkdir -p "$1" && chmod 0750 "$1"`, dir);
}

/**
 * Extract the tar on stdin into the release directory `dir` (made when missing; gzip-compressed
 * or not), without the sender's owners. tar creates each file exclusively and removes an
 * existing one first (never --overwrite, which writes into it): a hard link shared with an
 * older release is never written through.
 */
export function extractCommand(dir: string, gzip: boolean): Command {
  return gzip ? shScript(sh`mkdir -p "$1" && chmod 0750 "$1" && tar -xzpf - --no-same-owner -C "$1"`, dir) : shScript(sh`mkdir -p "$1" && chmod 0750 "$1" && tar -xpf - --no-same-owner -C "$1"`, dir);
}

/**
 * The base release's recorded tree (`<appDir>/.tree/<id>.json`), a NUL line, then each of
 * its files as the host has it now: `path NUL size NUL mtime NUL mode NUL` (find -printf,
 * links never followed). Nothing when the base or its tree is gone.
 */
export function readTreeCommand(appDir: string, baseId: string): Command {
  return shScript(
    sh`t="$1/.tree/$2.json"; r="$1/releases/$2"
[ -f "$t" ] && [ -d "$r" ] || exit 0
cat "$t"
printf '\\n\\0\\n'
cd "$r" && find . -type f -printf '%P\\0%s\\0%T@\\0%m\\0'`,
    appDir,
    baseId,
  );
}

/**
 * Make the release directory and fill it with files of the base release: the NUL-separated
 * `./`-prefixed paths on stdin, hard-linked (`link`) or copied with their mode and mtime
 * (`copy`, through tar). Parent directories are made as needed and left writable
 * (the archive that follows sets their modes after its files). Prints what the new release
 * then holds, as readTreeCommand does, so the runner sends again anything that is not as
 * expected; exits with cp's status.
 */
export function reuseFilesCommand(baseDir: string, dir: string, how: 'link' | 'copy'): Command {
  return shScript(
    sh`mkdir -p "$2" && chmod 0750 "$2"
cd "$1"
rc=0
if [ "$3" = link ]; then xargs -0 -r cp -l --parents -t "$2" -- || rc=$?
else { tar --null --no-recursion -T - -cf - | tar -C "$2" -xpf - --no-same-owner; } || rc=$?; fi
find "$2" -type d ! -perm -u+w -exec chmod u+w {} +
cd "$2" && find . -type f -printf '%P\\0%s\\0%T@\\0%m\\0'
exit "$rc"`,
    baseDir,
    dir,
    how,
  );
}

/**
 * Finish a file release: its tree (stdin, when `withTree`) as `<appDir>/.tree/<id>.json`
 * (private), then `release.json` in the release directory, each written to a new file made
 * by mktemp and renamed into place: a file or link of that name in the release is replaced,
 * never written through.
 */
export function recordReleaseCommand(appDir: string, id: string, releaseJson: string, withTree: boolean): Command {
  return shScript(
    sh`d=$1 id=$2
umask 077
if [ "$4" = tree ]; then
  mkdir -p "$d/.tree"
  t=$(mktemp "$d/.tree/.$id.json.XXXXXX")
  cat > "$t"
  mv -fT "$t" "$d/.tree/$id.json"
fi
t=$(mktemp "$d/releases/$id/.release.json.XXXXXX")
printf '%s' "$3" > "$t"
chmod 644 "$t"
mv -fT "$t" "$d/releases/$id/release.json"`,
    appDir,
    id,
    releaseJson,
    withTree ? 'tree' : '',
  );
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

/** Free KiB on the file system holding `dir` (its nearest existing parent). */
export function freeSpaceCommand(dir: string): Command {
  return shScript(
    sh`d=$1
while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
df -P -k -- "$d" | awk 'NR == 2 { print $4 }'`,
    dir,
  );
}
