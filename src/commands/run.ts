/**
 * The run action's remote operations: a private directory for one run's script and
 * environment (uploaded by SFTP, never on a command line), and the wrapper that runs the
 * script fail-fast in the working directory and removes the directory afterwards.
 */
import { quote, sh, shScript, type Command } from '../shell/index.js';

/** `mktemp -d` under $TMPDIR (0700); prints the directory. */
export function makeRunDirCommand(): Command {
  return shScript(sh`umask 077
mktemp -d "\${TMPDIR:-/tmp}/ops-run.XXXXXXXX"`);
}

/**
 * The environment file the wrapper sources: `export NAME='value'` lines, every value
 * quoted as one literal word (newlines, quotes and `$()` arrive as they are).
 */
export function envFileText(vars: [string, string][]): string {
  return vars.map(([k, v]) => `export ${k}=${quote(v)}\n`).join('');
}

/**
 * Run `<dir>/script` in `workdir` with `<dir>/env` sourced: executed directly when it has a
 * shebang (`direct`), else by bash `-euo pipefail` when the host has bash, else `sh -eu`
 * (with pipefail where that sh has it). The directory is removed when the script ends or
 * the wrapper is signalled (the executor's timeout stops the whole process group). Its own
 * variables are read-only, so the environment file cannot redirect them.
 */
export function runScriptCommand(dir: string, workdir: string, direct: boolean): Command {
  return shScript(
    sh`OPS_RUN_DIR=$1 OPS_RUN_WD=$2 OPS_RUN_MODE=$3
readonly OPS_RUN_DIR OPS_RUN_WD OPS_RUN_MODE
trap 'rm -rf "$OPS_RUN_DIR"' EXIT
trap 'rm -rf "$OPS_RUN_DIR"; exit 143' TERM INT HUP
. "$OPS_RUN_DIR/env"
wd=$OPS_RUN_WD
case $wd in "~") wd=$HOME ;; "~/"*) wd="$HOME/\${wd#"~/"}" ;; esac
if [ -n "$wd" ]; then cd -- "$wd" || { echo "working-directory $wd does not exist on this host" >&2; exit 2; }; fi
set +e
if [ "$OPS_RUN_MODE" = direct ]; then "$OPS_RUN_DIR/script"
elif command -v bash >/dev/null 2>&1; then bash --noprofile --norc -euo pipefail "$OPS_RUN_DIR/script"
elif (set -o pipefail) 2>/dev/null; then sh -eu -o pipefail "$OPS_RUN_DIR/script"
else sh -eu "$OPS_RUN_DIR/script"; fi
rc=$?
exit "$rc"`,
    dir,
    workdir,
    direct ? 'direct' : 'shell',
  );
}
