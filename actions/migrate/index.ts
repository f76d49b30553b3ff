import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs, formatDuration } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { SshPool } from '../../src/ssh/pool.js';
import { connectHosts, lockAndRefresh } from '../../src/deploy/run.js';
import { checkRecentBackup, migrationErrorResult, newestRelease, runMigration, type MigrationResult } from '../../src/deploy/migrate.js';
import { forEachHost } from '../../src/fleet/run.js';
import { Timeline } from '../../src/report/timeline.js';
import { code, esc, fenced, table } from '../../src/report/markdown.js';
import { schema } from './schema.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  if (v.command !== undefined && !v.command.trim()) problems.push({ input: 'command', message: 'is empty' });
  const ssh = resolveSshInto(v, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  if (problems.length) throw new InputError(problems);
  const run = { app: v.app, environment: v.environment, version: '', sha: ctx.run.sha, actor: ctx.run.actor, runUrl: ctx.run.runUrl, runId: ctx.run.runId };
  const appDir = v['app-dir'] || `~/apps/${v.app}-${v.environment}`;
  const pool = new SshPool(ssh!.options);
  const results: MigrationResult[] = [];
  const started = Date.now();
  let failure: string | undefined;
  try {
    const hosts = await connectHosts(pool, ssh!.targets, appDir, { logger: ctx.logger, timeline: new Timeline(), commandTimeoutMs: ssh!.options.commandTimeoutMs, maxParallel: ssh!.maxParallel });
    if (v['require-backup-within'] !== undefined) {
      const at = checkRecentBackup(hosts[0]!, v['require-backup-within'], v.app, v.environment);
      ctx.logger.info(`newest complete backup: ${at}`);
    }
    const chosen = v['run-on'] === 'all' ? hosts : [hosts[0]!];
    const lock = await lockAndRefresh(hosts, appDir, run, 'deploy', { timeoutMs: v['lock-timeout'], ttlMs: v['lock-ttl'], logger: ctx.logger });
    try {
      // Chosen under the lock: a deploy that held it may just have staged a newer release.
      const releases = chosen.map((h) => newestRelease(h, v.release || undefined));
      const rs = await forEachHost(
        chosen.map((h) => h.target),
        (_t, i) => runMigration(chosen[i]!, releases[i]!, { command: v.command, mode: v.mode, service: v.service, timeoutMs: v.timeout }, run, ctx.logger),
        { maxParallel: ssh!.maxParallel, onFailure: 'halt', logger: ctx.logger },
      );
      for (const r of rs) {
        const res = r.value ?? migrationErrorResult(r.cause);
        if (res) results.push(res);
      }
      const failed = rs.filter((r) => r.status !== 'succeeded');
      if (failed.length) failure = failed.map((r) => r.error ?? `${r.target.name}: not run (an earlier host failed)`).join('\n');
    } finally {
      await lock.release();
    }
  } finally {
    await pool.closeAll();
  }
  const firstBad = results.find((r) => r.exitCode !== 0);
  ctx.setOutput('exit-code', String((firstBad ?? results[0])?.exitCode ?? ''));
  ctx.setOutput('duration-ms', Date.now() - started);
  ctx.setOutput('output', results.map((r) => (results.length > 1 ? `## ${r.host}\n${r.output}` : r.output)).join('\n'));
  await ctx.summary(
    [
      `## Migration of ${esc(v.app)} in ${esc(v.environment)}: ${failure ? '❌ failed' : '✅ succeeded'}`,
      '',
      `Command ${code(v.command)} (${v.mode}${v.mode === 'host' ? '' : `, service ${code(v.service)}`})`,
      '',
      table(['host', 'exit code', 'duration'], results.map((r) => [code(r.host), r.timedOut ? 'timed out' : String(r.exitCode), formatDuration(r.durationMs)])),
      ...results.map((r) => `<details><summary>${esc(r.host)}: output</summary>\n\n${fenced(r.output.split('\n').slice(-40).join('\n'))}\n</details>\n`),
    ].join('\n'),
  );
  if (failure) throw new Error(failure);
}

runAction(main);
