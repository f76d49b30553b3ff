import '../../src/action/esm-shim.js';
import { runAction } from '../../src/action/runtime.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets } from '../../src/health/spec.js';
import { checkHealth, type HealthResult } from '../../src/health/check.js';
import { SshPool } from '../../src/host/pool.js';
import { healthSummary } from '../../src/report/health.js';
import { schema } from '../../src/schemas/healthcheck.js';

runAction(async (ctx) => {
  const { values, problems } = collectInputs(schema, ctx.inputs);
  const spec = healthSpec(values, '', problems);
  maskHealthSecrets(spec, ctx.inputs.mask);
  const tlsWarning = insecureTlsWarning(spec, '');
  if (tlsWarning) ctx.logger.warning(tlsWarning);
  const ssh = spec.viaSsh ? resolveSshInto(values, problems, { workspace: ctx.run.workspace, logger: ctx.logger }) : undefined;
  if (problems.length) throw new InputError(problems);
  if (!spec.viaSsh && (values.hosts || values.inventory)) {
    ctx.logger.warning("'hosts'/'inventory' are set but 'via-ssh' is false: the URLs are checked from the runner, not from the hosts");
  }

  const pool = ssh ? new SshPool(ssh.options) : undefined;
  let result: HealthResult;
  try {
    result = await checkHealth(spec, { logger: ctx.logger, pool, targets: ssh?.targets, maxParallel: ssh?.maxParallel });
  } finally {
    await pool?.closeAll();
  }
  ctx.setOutput('healthy', result.healthy);
  ctx.setOutput('attempts', result.attempts);
  ctx.setOutput('elapsed-ms', result.elapsedMs);
  ctx.setOutput('p50-ms', result.p50 ?? '');
  ctx.setOutput('p95-ms', result.p95 ?? '');
  ctx.setOutput('status', result.status ?? '');
  ctx.setOutput('cert-days-left', result.certDaysLeft ?? '');
  ctx.setOutput('last-error', result.lastError ?? '');
  await ctx.summary(healthSummary(result));
  if (!result.healthy) throw new Error(`health gate failed:\n${result.failures.join('\n')}`);
  ctx.logger.info(`healthy: ${result.gates.length} check(s), ${result.attempts} request(s), p95 ${result.p95 ?? '-'}ms`);
});
