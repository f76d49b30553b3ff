import { healthSchema } from '../health/spec.js';
import { sshSchema } from '../inputs/ssh.js';

/** healthcheck: the gate's own inputs, then the shared SSH inputs (used with via-ssh). */
export const schema = {
  ...healthSchema('', { urlRequired: true, viaSshDefault: false }),
  ...sshSchema({ maxParallel: 10, optional: true }),
};
