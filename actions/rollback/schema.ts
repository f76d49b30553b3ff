import { f } from '../../src/inputs/schema.js';
import { appSchema } from '../../src/inputs/common.js';
import { sshSchema } from '../../src/inputs/ssh.js';

/** The inputs of the rollback action (its own ones; see action.yml). */
export const own = { ...appSchema, to: f.string() };

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
