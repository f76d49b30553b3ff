import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { SshPool } from '../../src/host/pool.js';
import { backup } from '../../src/flows/backup.js';
import { openStorage, prepareBackup } from '../../src/flows/backup-inputs.js';
import { backupOutputs, backupSummary } from '../../src/report/backup.js';
import { schema } from '../../src/schemas/backup.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  const p = prepareBackup(v, problems, { ...ctx.run, logger: ctx.logger, mask: ctx.inputs.mask });
  if (!p) throw new InputError(problems);
  const pool = new SshPool(p.ssh.options);
  const storage = await openStorage(v, p.ssh, pool);
  try {
    const r = await backup(p.cfg, pool, p.ssh.targets[0]!, storage, ctx.logger);
    for (const [k, val] of Object.entries(backupOutputs(r))) ctx.setOutput(k, val);
    await ctx.summary(backupSummary(r, `Backup of ${v.app}/${v.environment}: ${p.cfg.name}`));
    if (!r.ok) throw new Error(r.error);
  } finally {
    await storage.close();
    await pool.closeAll();
  }
}

runAction(main);
