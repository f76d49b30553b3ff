import { appSchema } from '../inputs/common.js';
import { sshSchema } from '../inputs/ssh.js';

/** The inputs of the backup action (its own ones; see action.yml). */
export const own = appSchema;

export const schema = { ...own, ...sshSchema({ maxParallel: 10 }) };
