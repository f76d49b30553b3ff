import '../../src/action/esm-shim.js';
import { runAction } from '../../src/action/runtime.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { healthcheck, prepareHealthcheck } from '../../src/flows/healthcheck.js';
import { schema } from '../../src/schemas/healthcheck.js';

runAction(async (ctx) => {
  const { values, problems } = collectInputs(schema, ctx.inputs);
  const cfg = prepareHealthcheck(values, problems, { ...ctx.run, logger: ctx.logger, mask: ctx.inputs.mask });
  if (!cfg) throw new InputError(problems);
  const r = await healthcheck(cfg, { logger: ctx.logger });
  for (const [k, v] of Object.entries(r.outputs)) ctx.setOutput(k, v);
  await ctx.summary(r.report);
  if (r.error) throw new Error(r.error);
  ctx.logger.info(`healthy: ${r.said}`);
});
