import { healthSchema } from '../health/spec.js';
import { parseHostChecks } from '../health/host-checks.js';
import { f } from '../inputs/schema.js';
import { sshSchema } from '../inputs/ssh.js';
import { own as deployInputs } from './deploy.js';

/** healthcheck: the gate's own inputs, host checks, then the shared SSH inputs (used with via-ssh and host-checks). */
export const schema = {
  ...healthSchema('', { urlRequired: false, viaSshDefault: false }),
  'host-checks': f.custom(parseHostChecks, { default: [] }),
  app: f.string({ default: '', pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, hint: 'the app whose current release the containers check looks at (letters, digits, . _ -)' }),
  environment: deployInputs.environment,
  'app-dir': deployInputs['app-dir'],
  'report-path': f.optionalString(),
  ...sshSchema({ maxParallel: 10, optional: true }),
};
