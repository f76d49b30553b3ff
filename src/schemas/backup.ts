import { f } from '../inputs/schema.js';
import { appSchema } from '../inputs/common.js';
import { sshSchema } from '../inputs/ssh.js';
import { parseRetention } from '../backup/retention.js';
import { own as deployInputs } from './deploy.js';
import { sourceSchema, storageSchema } from './backup-common.js';

/** The inputs of the backup action (see action.yml). */
export const own = {
  ...appSchema,
  'app-dir': deployInputs['app-dir'],
  ...sourceSchema,
  compression: f.enumOf(['auto', 'zstd', 'gzip', 'none'] as const, { default: 'auto' }),
  encryption: f.enumOf(['age', 'none'] as const, { default: 'age' }),
  'encrypt-to': f.list({ commas: false }),
  passphrase: f.optionalString({ secret: true }),
  ...storageSchema,
  retention: f.custom((raw) => parseRetention(raw), {}),
  timeout: f.duration({ default: 6 * 3_600_000, min: 1000 }),
};

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
