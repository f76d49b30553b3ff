import { f } from '../inputs/schema.js';
import { ParseError } from '../text.js';
import { isEnvName } from '../shell/index.js';
import { sshSchema } from '../inputs/ssh.js';
import { own as deployInputs } from './deploy.js';

/**
 * `NAME=value` lines, and `NAME<<DELIM` ... `DELIM` for values with newlines (as in
 * GITHUB_ENV). Values are taken literally: quotes, `$`, backslashes are not interpreted.
 */
export function parseEnvLines(raw: string): [string, string][] {
  const lines = raw.replace(/\r\n/g, '\n').split('\n');
  const out: [string, string][] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    const heredoc = /^\s*([^=<\s]+)<<(\S+)\s*$/.exec(line);
    const m = heredoc ?? /^\s*([^=\s]+)=(.*)$/.exec(line);
    if (!m) throw new ParseError(`line ${i + 1} is not NAME=value (or NAME<<DELIMITER for a value with newlines)`);
    const name = m[1]!;
    if (!isEnvName(name)) throw new ParseError(`line ${i + 1}: '${name}' is not a variable name (letters, digits, _; not starting with a digit)`);
    if (name.startsWith('OPS_RUN_')) throw new ParseError(`line ${i + 1}: names starting with OPS_RUN_ are the run action's own`);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      if (end < 0) throw new ParseError(`line ${i + 1}: ${name}<<${heredoc[2]} has no closing '${heredoc[2]}' line`);
      out.push([name, lines.slice(i + 1, end).join('\n')]);
      i = end;
    } else out.push([name, m[2]!]);
  }
  return out;
}

/** The inputs of the run action (see action.yml). */
export const own = {
  script: f.optionalString({ secret: false }),
  'script-file': f.optionalString(),
  env: f.custom(parseEnvLines, { default: [] }),
  // Not masked as a whole (its NAME<<EOF lines would be): each value is masked by the action.
  'secret-env': f.custom(parseEnvLines, { default: [] }),
  'working-directory': f.string({ default: '', pattern: /^(~|~\/[^\0]*|\/[^\0]*|[^\0~/][^\0]*)?$/, hint: 'a path on the host' }),
  sudo: f.bool({ default: false }),
  timeout: f.duration({ default: 600_000, min: 1000 }),
  canary: deployInputs.canary,
  'on-host-failure': f.enumOf(['halt', 'continue'] as const, { default: 'halt' }),
  'output-lines': f.int(1, 1000, { default: 20 }),
  app: f.string({ default: '', pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, hint: 'the app whose deploy lock to hold (letters, digits, . _ -)' }),
  environment: deployInputs.environment,
  'app-dir': deployInputs['app-dir'],
  'lock-timeout': deployInputs['lock-timeout'],
  'lock-ttl': deployInputs['lock-ttl'],
};

export const schema = { ...own, ...sshSchema({ maxParallel: 10 }) };
