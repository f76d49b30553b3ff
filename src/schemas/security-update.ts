import { ParseError } from '../text.js';
import { f } from '../inputs/schema.js';
import { sshSchema } from '../inputs/ssh.js';
import { healthSchema } from '../health/spec.js';
import { own as deployInputs } from './deploy.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;

/** The inputs of the security-update action (its own ones; see action.yml). */
export const own = {
  mode: f.enumOf(['security', 'full', 'dist'] as const, { default: 'security' }),
  exclude: f.custom(
    (raw) => {
      const list = raw
        .split(/[\n,\s]+/)
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = list.find((p) => !PACKAGE.test(p));
      if (bad) throw new ParseError(`'${bad}' is not a Debian package name`);
      return list;
    },
    { default: [] as string[] },
  ),
  reboot: f.enumOf(['if-required', 'never', 'always'] as const, { default: 'if-required' }),
  'reboot-command': f.optionalString(),
  'reboot-timeout': f.duration({ default: 600_000, min: 1000 }),
  'restart-services': f.bool({ default: true }),
  'dry-run': f.bool({ default: false }),
  'use-sudo': f.enumOf(['auto', 'true', 'false'] as const, { default: 'auto' }),
  app: f.string({ default: 'host', pattern: NAME, hint: 'letters, digits, dot, dash or underscore' }),
  environment: f.string({ default: 'production', pattern: NAME, hint: 'letters, digits, dot, dash or underscore' }),
  'lock-timeout': deployInputs['lock-timeout'],
  'dpkg-lock-timeout': f.duration({ default: 300_000 }),
  timeout: f.duration({ default: 30 * 60_000, min: 1000 }),
  ...healthSchema('health-', { urlRequired: false, viaSshDefault: false }),
};

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
