import '../../src/action/esm-shim.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { clearLocks, releaseSavedLocks, saveLocks } from '../../src/action/post-state.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { SshPool } from '../../src/host/pool.js';
import { runScript, type RunResult } from '../../src/flows/run.js';
import { runOutputs, runSummary } from '../../src/report/run.js';
import { schema } from '../../src/schemas/run.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  // Each secret value on its own: a script that prints just the value must not show it.
  for (const [, value] of v['secret-env']) if (value) ctx.inputs.mask(value);
  let script = v.script ?? '';
  if (v.script && v['script-file']) problems.push({ input: 'script', message: "give either 'script' or 'script-file', not both" });
  else if (v['script-file']) {
    const p = path.resolve(ctx.run.workspace, v['script-file']);
    if (!existsSync(p)) problems.push({ input: 'script-file', message: `'${v['script-file']}' does not exist in the workspace (${p}); check out the repository first or fix the path` });
    else script = readFileSync(p, 'utf8');
  } else if (!script.trim()) problems.push({ input: 'script', message: "is required (the commands to run), or give 'script-file'" });
  const names = new Set(v.env.map(([k]) => k));
  for (const [k] of v['secret-env']) if (names.has(k)) problems.push({ input: 'secret-env', message: `${k} is also in 'env'; give it once` });
  const ssh = resolveSshInto(v, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  if (problems.length) throw new InputError(problems);
  const pool = new SshPool(ssh!.options);
  let r: RunResult;
  try {
    r = await runScript(
      {
        script: script.endsWith('\n') ? script : `${script}\n`,
        direct: !!v['script-file'] && script.startsWith('#!'),
        env: [...v.env, ...v['secret-env']],
        workingDirectory: v['working-directory'],
        sudo: v.sudo,
        timeoutMs: v.timeout,
        maxParallel: ssh!.maxParallel,
        canary: v.canary,
        onHostFailure: v['on-host-failure'],
        outputLines: v['output-lines'],
        lock: v.app
          ? {
              run: { app: v.app, environment: v.environment, actor: ctx.run.actor, runUrl: ctx.run.runUrl, runId: ctx.run.runId },
              appDir: v['app-dir'] || `~/apps/${v.app}-${v.environment}`,
              timeoutMs: v['lock-timeout'],
              ttlMs: v['lock-ttl'],
              onLocked: (held, id) => saveLocks(ctx, held, id),
            }
          : undefined,
      },
      pool,
      ssh!.targets,
      ctx.logger,
    );
    clearLocks(ctx);
  } finally {
    await pool.closeAll();
  }
  for (const [k, val] of Object.entries(runOutputs(r))) ctx.setOutput(k, val);
  await ctx.summary(runSummary(r, `Run on ${r.hosts.length} host(s)`));
  if (!r.ok) throw new Error(r.error);
}

/** The post step: if the main step died holding the app's locks, release them. */
async function post(ctx: ActionContext) {
  await releaseSavedLocks(ctx, schema);
}

runAction(main, post);
