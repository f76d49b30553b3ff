import { f } from '../../src/inputs/schema.js';
import { appSchema } from '../../src/inputs/common.js';
import { sshSchema } from '../../src/inputs/ssh.js';

/** The inputs of the migrate action (its own ones; see action.yml). */
export const own = { ...appSchema, command: f.string({ required: true }) };

export const schema = { ...own, ...sshSchema({ maxParallel: 10 }) };
