import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { clearLocks, releaseSavedLocks, saveLocks } from '../../src/action/post-state.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets } from '../../src/health/spec.js';
import { SshPool } from '../../src/host/pool.js';
import { rollback, type RollbackResult } from '../../src/flows/rollback.js';
import { deploySummary } from '../../src/report/deploy.js';
import { schema } from '../../src/schemas/rollback.js';
import { confirmPolicy } from '../../src/deploy/switch.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  const spec = healthSpec(v, 'health-', problems);
  maskHealthSecrets(spec, ctx.inputs.mask);
  const tlsWarning = insecureTlsWarning(spec, 'health-');
  if (tlsWarning) ctx.logger.warning(tlsWarning);
  const ssh = resolveSshInto(v, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  const confirm = confirmPolicy(
    { confirmTimeoutMs: v['confirm-timeout'], gateTimeoutMs: spec.urls.length ? spec.timeoutMs : undefined, lockTimeoutMs: v['lock-timeout'], autoRollback: true },
    problems,
    (m) => ctx.logger.warning(m),
  );
  if (problems.length) throw new InputError(problems);
  const pool = new SshPool(ssh!.options);
  let r: RollbackResult;
  try {
    r = await rollback(
      {
        run: { app: v.app, environment: v.environment, sha: ctx.run.sha, actor: ctx.run.actor, runUrl: ctx.run.runUrl, runId: ctx.run.runId },
        appDir: v['app-dir'] || `~/apps/${v.app}-${v.environment}`,
        to: v.to || undefined,
        gate: spec.urls.length ? { spec, autoRollback: false } : undefined,
        maxParallel: ssh!.maxParallel,
        lock: { timeoutMs: v['lock-timeout'], ttlMs: v['lock-ttl'] },
        confirm,
        commandTimeoutMs: ssh!.options.commandTimeoutMs,
        diagnostics: { lines: v['diagnostics-lines'], command: v['diagnostics-command'] },
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
  ctx.setOutput('release-id', r.to);
  ctx.setOutput('from-release-id', r.from ?? '');
  ctx.setOutput(
    'hosts-succeeded',
    r.hosts
      .filter((h) => h.result === 'succeeded')
      .map((h) => h.host)
      .join(','),
  );
  ctx.setOutput(
    'hosts-failed',
    r.hosts
      .filter((h) => h.result === 'failed')
      .map((h) => h.host)
      .join(','),
  );
  ctx.setOutput('version', r.version);
  await ctx.summary(
    deploySummary({ ok: r.ok, release: { id: r.to, version: r.version }, hosts: r.hosts, rolledBack: false, timeline: r.timeline, notices: r.notices }, `Rollback ${v.app} in ${v.environment}`) +
      '\n> Database migrations are not reverted by a rollback.\n',
  );
  if (!r.ok) throw new Error(r.error);
  ctx.logger.info(`rolled back to ${r.to} (from ${r.from ?? 'nothing'}) on ${r.hosts.length} host(s)`);
}

async function post(ctx: ActionContext) {
  await releaseSavedLocks(ctx, schema);
}

runAction(main, post);
