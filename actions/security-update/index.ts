import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { SshPool } from '../../src/host/pool.js';
import { securityUpdate } from '../../src/flows/security-update.js';
import { preparePatch } from '../../src/flows/security-update-inputs.js';
import { patchOutputs, patchSummary } from '../../src/report/patch.js';
import { schema } from '../../src/schemas/security-update.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  const ssh = resolveSshInto(v, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  const cfg = preparePatch(v, problems, { ...ctx.run, logger: ctx.logger, mask: ctx.inputs.mask });
  if (!cfg || !ssh) throw new InputError(problems);
  const pool = new SshPool(ssh.options);
  try {
    const r = await securityUpdate({ ...cfg, maxParallel: ssh.maxParallel }, pool, ssh.targets, ctx.logger);
    for (const [k, val] of Object.entries(patchOutputs(r, cfg.dryRun))) ctx.setOutput(k, val);
    await ctx.summary(patchSummary(r, { mode: cfg.mode, dryRun: cfg.dryRun }));
    if (!r.ok) throw new Error(r.error);
  } finally {
    await pool.closeAll();
  }
}

runAction(main);
