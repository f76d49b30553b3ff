import { f } from '../inputs/schema.js';
import { sshSchema } from '../inputs/ssh.js';
import { healthSchema } from '../health/spec.js';
import { own as deployInputs } from './deploy.js';

/** The inputs of the rollback action (see action.yml). */
export const own = {
  app: deployInputs.app,
  environment: deployInputs.environment,
  'app-dir': deployInputs['app-dir'],
  to: f.string({ pattern: /^[A-Za-z0-9._+-]{1,128}$/, hint: 'give a release id or a version' }),
  ...healthSchema('health-', { urlRequired: false, viaSshDefault: true }),
  'diagnostics-lines': deployInputs['diagnostics-lines'],
  'diagnostics-command': deployInputs['diagnostics-command'],
  'confirm-timeout': deployInputs['confirm-timeout'],
  'lock-timeout': deployInputs['lock-timeout'],
  'lock-ttl': deployInputs['lock-ttl'],
};

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
