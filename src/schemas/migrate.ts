import { f } from '../inputs/schema.js';
import { sshSchema } from '../inputs/ssh.js';
import { own as deployInputs } from './deploy.js';

/** The inputs of the migrate action (see action.yml). */
export const own = {
  app: deployInputs.app,
  environment: deployInputs.environment,
  'app-dir': deployInputs['app-dir'],
  command: f.string({ required: true }),
  mode: f.enumOf(['compose-run', 'exec', 'host'] as const, { default: 'compose-run' }),
  service: f.string({ default: 'app', pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, hint: 'a compose service name' }),
  release: f.string({ pattern: /^[A-Za-z0-9._+-]{1,128}$/, hint: 'a release id or version' }),
  'run-on': f.enumOf(['first', 'all'] as const, { default: 'first' }),
  timeout: f.duration({ default: 1_800_000, min: 1000 }),
  'require-backup-within': f.custom<number | undefined>((raw) => f.duration().parse(raw), {}),
  'lock-timeout': deployInputs['lock-timeout'],
  'lock-ttl': deployInputs['lock-ttl'],
};

export const schema = { ...own, ...sshSchema({ maxParallel: 10 }) };
