/**
 * Remote commands as data.
 *
 * A `Command` is a list of words. A plain string word is always a literal argument and is
 * quoted when rendered, so no input can ever become shell syntax. Shell syntax (operators,
 * redirections, `$HOME`) exists only as `Token`s, which only this module can create.
 * `render` is the one place where a command becomes a POSIX `sh` command line.
 *
 * This module imports nothing.
 */

const TOKEN = Symbol('shell-token');

/** A piece of shell syntax. Created only by this module's functions. */
export interface Token {
  readonly [TOKEN]: string;
}

export type Word = string | Token;
export type Command = readonly Word[];

function token(text: string): Token {
  return Object.freeze({ [TOKEN]: text });
}

export function isToken(w: unknown): w is Token {
  return typeof w === 'object' && w !== null && TOKEN in w;
}

const SAFE = /^[A-Za-z0-9_\-.,:/@%+=]+$/;

/** Words that are syntax at the start of a command (reserved words): always quoted. */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'case', 'esac', 'while', 'until', 'for', 'in', 'function', 'select', 'time', 'coproc']);

/**
 * Quote one string as a single literal POSIX sh word. Left bare only when it cannot mean
 * anything else in any position: no `=` (an assignment at the start of a command), no
 * reserved word.
 */
export function quote(s: string): string {
  if (s.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  if (s !== '' && SAFE.test(s) && !s.includes('=') && !RESERVED.has(s)) return s;
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}

/** Render a command as one POSIX sh command line. */
export function render(c: Command): string {
  return c.map((w) => (isToken(w) ? w[TOKEN] : quote(w))).join(' ');
}

const AND = token('&&');
const OR = token('||');
const SEQ = token(';');
const PIPE = token('|');

function join(op: Token, cmds: Command[]): Command {
  const out: Word[] = [];
  cmds.forEach((c, i) => {
    if (i > 0) out.push(op);
    out.push(...c);
  });
  return out;
}

/** `a && b && c` */
export const and = (...cmds: Command[]): Command => join(AND, cmds);
/** `a || b` */
export const or = (...cmds: Command[]): Command => join(OR, cmds);
/** `a ; b` */
export const seq = (...cmds: Command[]): Command => join(SEQ, cmds);
/** `a | b` (note: POSIX sh reports only the last command's status) */
export const pipe = (...cmds: Command[]): Command => join(PIPE, cmds);

/** `( c )`: run in a subshell. */
export const subshell = (c: Command): Command => [token('('), ...c, token(')')];

/** `{ c ; }`: group without a subshell. */
export const group = (c: Command): Command => [token('{'), ...c, token('; }')];

/** `c > path` (or `>>` when appending). */
export const toFile = (c: Command, path: Word, append = false): Command => [...c, token(append ? '>>' : '>'), path];

/** `c < path` */
export const fromFile = (c: Command, path: Word): Command => [...c, token('<'), path];

/** `c 2>/dev/null` */
export const quietErr = (c: Command): Command => [...c, token('2>/dev/null')];

/** `c >/dev/null 2>&1` */
export const silent = (c: Command): Command => [...c, token('>/dev/null 2>&1')];

/** `c 2>&1` */
export const mergeErr = (c: Command): Command => [...c, token('2>&1')];

/** `! c` */
export const not = (c: Command): Command => [token('!'), ...c];

/**
 * A path relative to the remote user's home: renders as `"$HOME"/'rel'`, so the home is
 * expanded by the remote shell and the rest stays literal. `~` and `~/x` are accepted.
 */
export function home(rel = ''): Token {
  const r = rel.replace(/^~\/?/, '').replace(/^\/+/, '');
  return token(r === '' ? '"$HOME"' : `"$HOME"/${quote(r)}`);
}

/** A remote path: `~/x` becomes `home('x')`, anything else stays a literal word. */
export function remotePath(p: string): Word {
  return p === '~' || p.startsWith('~/') ? home(p) : p;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** `"$NAME"`: the value of a remote environment variable, as one word. */
export function envRef(name: string): Token {
  if (!ENV_NAME.test(name)) throw new Error(`invalid environment variable name: ${JSON.stringify(name)}`);
  return token(`"$${name}"`);
}

/**
 * Run `c` with extra environment variables: `env K=v ... c`. Works on any simple command;
 * compound commands are run through `sh -c`.
 */
export function withEnv(vars: Record<string, string>, c: Command): Command {
  const assigns: string[] = [];
  for (const [k, v] of Object.entries(vars)) {
    if (!ENV_NAME.test(k)) throw new Error(`invalid environment variable name: ${JSON.stringify(k)}`);
    assigns.push(`${k}=${v}`);
  }
  if (assigns.length === 0) return c;
  const simple = c.every((w) => !isToken(w));
  return simple ? ['env', ...assigns, ...c] : ['env', ...assigns, 'sh', '-c', render(c)];
}

/**
 * A fail-fast script: the lines joined under `set -eu`, run by `sh -c`. Each line is a
 * command built as data.
 */
export function script(lines: Command[]): Command {
  const body = ['set -eu', ...lines.map(render)].join('\n');
  return ['sh', '-c', body];
}

/**
 * A script written by a user (hooks, build commands, migrations, ...), run fail-fast:
 * under bash with `-euo pipefail` when the host (or container) has bash, otherwise `sh -eu`,
 * with `-o pipefail` where that sh has it (busybox does; Debian's dash does not). The text
 * is passed as a single argument, never spliced into syntax. Bash skips its rc files:
 * started by sshd it would read bashrc, which often fails under `-u`.
 */
export function userScript(text: string): Command {
  const launcher =
    'if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc -euo pipefail -c "$1" ops-script; ' +
    'elif (set -o pipefail) 2>/dev/null; then exec sh -eu -o pipefail -c "$1" ops-script; ' +
    'else exec sh -eu -c "$1" ops-script; fi';
  return ['sh', '-c', launcher, 'ops-script', text];
}

const SCRIPT = Symbol('const-script');

/** The text of a script written in this code base: made only by the `sh` tag, from constant text. */
export interface ConstScript {
  readonly [SCRIPT]: string;
}

/**
 * sh`...`: a constant script. The tag takes no substitutions (their type is `never`), so
 * data can never be spliced into script text; it goes in as positional parameters.
 */
export function sh(strings: TemplateStringsArray, ...none: never[]): ConstScript {
  if (none.length || strings.length !== 1) throw new Error('sh`...` scripts are constant text: pass data as positional parameters');
  return Object.freeze({ [SCRIPT]: strings[0]! });
}

/**
 * A fixed script from this code base (an sh`...` constant), with data passed only as
 * positional parameters ("$1", "$2", ...). Runs under `set -eu`.
 */
export function shScript(script: ConstScript, ...args: string[]): Command {
  return ['sh', '-c', `set -eu\n${script[SCRIPT]}`, 'ops', ...args];
}
