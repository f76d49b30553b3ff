import { appSchema } from '../../src/inputs/common.js';
import { sshSchema } from '../../src/inputs/ssh.js';

/** The inputs of the deploy action (its own ones; see action.yml). */
export const own = appSchema;

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
