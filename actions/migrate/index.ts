import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { clearLocks, releaseSavedLocks, saveLocks } from '../../src/action/locks.js';
import { InputError, collectInputs, formatDuration } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { SshPool } from '../../src/host/pool.js';
import { migrate } from '../../src/flows/migrate.js';
import { code, esc, fenced, table } from '../../src/report/markdown.js';
import { schema } from './schema.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  if (v.command !== undefined && !v.command.trim()) problems.push({ input: 'command', message: 'is empty' });
  const ssh = resolveSshInto(v, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  if (problems.length) throw new InputError(problems);
  const pool = new SshPool(ssh!.options);
  let r;
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
  const results = r.results;
  const firstBad = results.find((x) => x.exitCode !== 0);
  ctx.setOutput('exit-code', String((firstBad ?? results[0])?.exitCode ?? ''));
  ctx.setOutput('duration-ms', r.durationMs);
  ctx.setOutput('output', results.map((x) => (results.length > 1 ? `## ${x.host}\n${x.output}` : x.output)).join('\n'));
  ctx.setOutput('hosts-failed', r.hosts.filter((h) => h.status === 'failed').map((h) => h.host).join(','));
  const row = (h: (typeof r.hosts)[number]) => {
    const m = results.find((x) => x.host === h.host);
    const status = m ? (m.timedOut ? '⏱️ timed out' : m.exitCode === 0 ? '✅ 0' : `❌ ${m.exitCode}`) : h.status === 'failed' ? '❌ failed' : '⏭️ not run';
    return [code(h.host), status, m ? formatDuration(m.durationMs) : '', esc((h.error ?? '').split('\n')[0]!.slice(0, 300))];
  };
  await ctx.summary(
    [
      `## Migration of ${esc(v.app)} in ${esc(v.environment)}: ${r.ok ? '✅ succeeded' : '❌ failed'}`,
      '',
      `Command ${code(v.command)} (${v.mode}${v.mode === 'host' ? '' : `, service ${code(v.service)}`})`,
      '',
      table(['host', 'exit code', 'duration', 'detail'], r.hosts.map(row)),
      ...results.map((x) => `<details><summary>${esc(x.host)}: output</summary>\n\n${fenced(x.output.split('\n').slice(-40).join('\n'))}\n</details>\n`),
    ].join('\n'),
  );
  if (!r.ok) throw new Error(r.error);
}

async function post(ctx: ActionContext) {
  await releaseSavedLocks(ctx, schema);
}

runAction(main, post);
