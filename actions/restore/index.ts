import '../../src/action/esm-shim.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { SshPool } from '../../src/host/pool.js';
import { restore } from '../../src/flows/restore.js';
import { describe } from '../../src/backup/sources.js';
import { openStorage, prepareRestore } from '../../src/flows/backup-inputs.js';
import { drReport, restoreOutputs } from '../../src/report/backup.js';
import { schema } from '../../src/schemas/restore.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  const p = prepareRestore(v, problems, { ...ctx.run, logger: ctx.logger, mask: ctx.inputs.mask });
  if (!p) throw new InputError(problems);
  const pool = new SshPool(p.ssh.options);
  const storage = await openStorage(v, p.ssh, pool);
  try {
    const r = await restore(p.cfg, pool, p.ssh.targets[0]!, storage, ctx.logger);
    const report = drReport(r, {
      title: `Restore of ${p.cfg.from.app}/${p.cfg.from.environment}/${p.cfg.from.name} into ${v.app}/${v.environment}`,
      mode: v.mode,
      target: `${describe(p.cfg.target)} on ${p.ssh.targets[0]!.name}`,
      rtoTargetMs: p.cfg.rtoTargetMs,
      rpoTargetMs: p.cfg.rpoTargetMs,
      when: new Date().toISOString(),
    });
    const reportPath = path.resolve(ctx.run.workspace, v['report-path'] || path.join(process.env.RUNNER_TEMP || ctx.run.workspace, 'dr-report.md'));
    writeFileSync(reportPath, ctx.logger.secrets.redact(report) + '\n');
    for (const [k, val] of Object.entries(restoreOutputs(r, reportPath))) ctx.setOutput(k, val);
    await ctx.summary(report);
    if (!r.ok) throw new Error(r.error);
  } finally {
    await storage.close();
    await pool.closeAll();
  }
}

runAction(main);
