import { sshSchema } from '../inputs/ssh.js';

/** The inputs of the security-update action (its own ones; see action.yml). */
export const own = {};

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
