/** User scripts on a host (hooks, build, restart and migration commands). */
import { sh, shScript, userScript, withEnv, type Command } from '../shell/index.js';

/** A user script, run fail-fast in `dir` with only these variables added. */
export function hookCommand(dir: string, script: string, env: Record<string, string>): Command {
  return withEnv(env, shScript(sh`cd "$1"; shift; exec "$@"`, dir, ...(userScript(script) as string[])));
}
