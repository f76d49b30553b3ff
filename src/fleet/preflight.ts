import { identityCommand } from '../commands/index.js';
import type { SshPool } from '../host/pool.js';
import type { Logger } from '../log.js';
import { forEachHost, type HostResult } from './run.js';
import type { Target } from '../host/target.js';

export interface HostFacts {
  user: string;
  system: string;
}

/**
 * Connect to every target (host key verified, authenticated) and read who and what it is,
 * before anything is changed anywhere. All hosts are tried; each gets a result.
 */
export function preflight(pool: SshPool, targets: Target[], o: { maxParallel: number; logger: Logger }): Promise<HostResult<HostFacts>[]> {
  return forEachHost(
    targets,
    async (t) => {
      const s = await pool.get(t);
      const r = await s.run(identityCommand(), { step: 'preflight' });
      const [user = '', system = ''] = r.stdout.trim().split('\n');
      o.logger.info(`host ${t.name}: connected as ${user} (${system})`);
      return { user, system };
    },
    { maxParallel: o.maxParallel, onFailure: 'continue', logger: o.logger },
  );
}
