import { f } from '../inputs/schema.js';
import { appSchema } from '../inputs/common.js';
import { sshSchema } from '../inputs/ssh.js';
import { healthSchema } from '../health/spec.js';
import { own as deployInputs } from './deploy.js';
import { sourceSchema, storageSchema } from './backup-common.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The inputs of the restore action (see action.yml). */
export const own = {
  ...appSchema,
  'app-dir': deployInputs['app-dir'],
  'from-app': f.string({ pattern: NAME, hint: 'an app name' }),
  'from-environment': f.string({ pattern: NAME, hint: 'an environment name' }),
  backup: f.string({ default: 'latest', pattern: /^(latest|\d{8}T\d{6}Z-[0-9a-f]{4})$/, hint: "'latest' or a backup id like 20261201T020000Z-1a2b" }),
  identity: f.optionalString({ secret: true }),
  passphrase: f.optionalString({ secret: true }),
  mode: f.enumOf(['validation-only', 'database-only', 'full'] as const, { default: 'validation-only' }),
  'drop-existing': f.bool({ default: false }),
  'restore-to': f.string({ default: '/', pattern: /^\/[^\0]*$/, hint: 'an absolute directory' }),
  ...sourceSchema,
  ...storageSchema,
  ...healthSchema('health-', { urlRequired: false, viaSshDefault: true }),
  'rto-target': f.duration({ default: 30 * 60_000, min: 1000 }),
  'rpo-target': f.duration({ default: 26 * 3_600_000, min: 1000 }),
  'report-path': f.optionalString(),
  'lock-timeout': deployInputs['lock-timeout'],
  'lock-ttl': deployInputs['lock-ttl'],
  timeout: f.duration({ default: 6 * 3_600_000, min: 1000 }),
};

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
