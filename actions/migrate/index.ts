import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { clearLocks, releaseSavedLocks, saveLocks } from '../../src/action/post-state.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { SshPool } from '../../src/host/pool.js';
import { migrate, type MigrateOutcome } from '../../src/flows/migrate.js';
import { migrateOutputs, migrateSummary } from '../../src/report/migrate.js';
import { schema } from '../../src/schemas/migrate.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  if (v.command !== undefined && !v.command.trim()) problems.push({ input: 'command', message: 'is empty' });
  const ssh = resolveSshInto(v, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  if (problems.length) throw new InputError(problems);
  const pool = new SshPool(ssh!.options);
  let r: MigrateOutcome;
  try {
    r = await migrate(
      {
        run: { app: v.app, environment: v.environment, version: '', sha: ctx.run.sha, actor: ctx.run.actor, runUrl: ctx.run.runUrl, runId: ctx.run.runId },
        appDir: v['app-dir'] || `~/apps/${v.app}-${v.environment}`,
        spec: { command: v.command, mode: v.mode, service: v.service, timeoutMs: v.timeout },
        release: v.release || undefined,
        runOn: v['run-on'],
        requireBackupWithinMs: v['require-backup-within'],
        maxParallel: ssh!.maxParallel,
        lock: { timeoutMs: v['lock-timeout'], ttlMs: v['lock-ttl'] },
        commandTimeoutMs: ssh!.options.commandTimeoutMs,
        onLocked: (held, id) => saveLocks(ctx, held, id),
      },
      pool,
      ssh!.targets,
      ctx.logger,
    );
    clearLocks(ctx);
  } finally {
    await pool.closeAll();
  }
  for (const [k, val] of Object.entries(migrateOutputs(r))) ctx.setOutput(k, val);
  await ctx.summary(migrateSummary(r, { app: v.app, environment: v.environment, command: v.command, mode: v.mode, service: v.service }));
  if (!r.ok) throw new Error(r.error);
}

async function post(ctx: ActionContext) {
  await releaseSavedLocks(ctx, schema);
}

runAction(main, post);
