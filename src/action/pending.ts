import { parseInputs, type Schema } from '../inputs/schema.js';
import { parseSshAction } from '../inputs/ssh.js';
import { preflight } from '../fleet/preflight.js';
import { SshPool } from '../host/pool.js';
import { hostResultsJson, hostTable } from '../report/hosts.js';
import type { ActionContext } from './runtime.js';

/**
 * For an action whose behaviour is not built yet: validate its inputs and, when it reaches
 * servers, connect to every host (verified), report per host, then fail the step saying
 * plainly that nothing was changed. It never pretends to have done the work.
 */
export async function pendingAction(ctx: ActionContext, name: string, schema: Schema, o: { ssh: boolean }): Promise<void> {
  if (!o.ssh) {
    parseInputs(schema, ctx.inputs);
    throw new Error(`${name}: the inputs are valid, but this version of ops-actions does not implement '${name}' yet; nothing was done.`);
  }
  const { ssh } = parseSshAction(schema, ctx.inputs, { workspace: ctx.run.workspace, logger: ctx.logger });
  const pool = new SshPool(ssh.options);
  try {
    const rs = await preflight(pool, ssh.targets, { maxParallel: ssh.maxParallel, logger: ctx.logger });
    ctx.setOutput('host-results', hostResultsJson(rs));
    await ctx.summary(`## ${name}: preflight\n\n${hostTable(rs)}`);
    const failed = rs.filter((r) => r.status === 'failed');
    if (failed.length) throw new Error(failed.map((r) => r.error).join('\n'));
  } finally {
    await pool.closeAll();
  }
  throw new Error(`${name}: inputs are valid and all ${ssh.targets.length} host(s) are reachable, but this version of ops-actions does not implement '${name}' yet; nothing was changed on any host.`);
}
