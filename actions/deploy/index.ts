import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { clearLocks, releaseSavedLocks, saveLocks } from '../../src/action/post-state.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { SshPool } from '../../src/host/pool.js';
import { deploy, type DeployResult } from '../../src/flows/deploy.js';
import { prepareDeploy } from '../../src/flows/deploy-inputs.js';
import { deployOutputs, deploySummary } from '../../src/report/deploy.js';
import { startDeployment } from '../../src/report/github.js';
import { schema } from '../../src/schemas/deploy.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  const p = prepareDeploy(v, problems, { ...ctx.run, logger: ctx.logger, mask: ctx.inputs.mask }, (held, id) => saveLocks(ctx, held, id));
  if (!p) throw new InputError(problems);
  const gh = v['github-deployment']
    ? await startDeployment({
        token: v['github-token'] || process.env.GITHUB_TOKEN,
        repository: ctx.run.repository,
        ref: ctx.run.sha,
        environment: v.environment,
        environmentUrl: v['environment-url'],
        logUrl: ctx.run.runUrl,
        description: `${v.app} ${p.version}`,
        payload: { app: v.app, version: p.version },
        logger: ctx.logger,
      })
    : undefined;
  const pool = new SshPool(p.ssh.options);
  let result: DeployResult;
  try {
    result = await deploy(p.cfg, pool, p.ssh.targets, ctx.logger);
    clearLocks(ctx);
  } catch (e) {
    await gh?.setStatus('failure', (e as Error).message.split('\n')[0]!);
    throw e;
  } finally {
    await pool.closeAll();
  }
  for (const [k, val] of Object.entries(deployOutputs(result, p.version))) ctx.setOutput(k, val);
  await ctx.summary(deploySummary(result, `Deploy ${v.app} to ${v.environment}`));
  await gh?.setStatus(result.ok ? 'success' : 'failure', result.ok ? `${p.version} is live` : (result.error ?? 'failed').split('\n')[0]!);
  if (!result.ok) throw new Error(result.error);
  ctx.logger.info(`release ${result.release.id} is live on ${result.hosts.length} host(s)`);
}

/** The post step: if the main step died holding locks, release them. */
async function post(ctx: ActionContext) {
  await releaseSavedLocks(ctx, schema);
}

runAction(main, post);
