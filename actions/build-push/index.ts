import '../../src/action/esm-shim.js';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { BuildInputError, buildPush } from '../../src/flows/build-push.js';
import { prepareBuildPush } from '../../src/flows/build-push-inputs.js';
import { buildOutputs, buildSummary } from '../../src/report/build.js';
import { schema } from '../../src/schemas/build-push.js';

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  const cfg = prepareBuildPush(v, problems, { ...ctx.run, logger: ctx.logger, mask: ctx.inputs.mask });
  if (!cfg) throw new InputError(problems);
  const r = await buildPush(cfg, ctx.logger).catch((e) => {
    throw e instanceof BuildInputError ? new InputError([{ input: e.input, message: e.message }]) : e;
  });
  for (const [k, val] of Object.entries(buildOutputs(cfg, r))) ctx.setOutput(k, val);
  await ctx.summary(buildSummary(cfg, r));
  ctx.logger.info(r.digest ? `${cfg.image}@${r.digest}` : `built ${r.imageId}`);
}

runAction(main);
