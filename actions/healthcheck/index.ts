import '../../src/action/esm-shim.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runAction } from '../../src/action/runtime.js';
import { errorMessage } from '../../src/log.js';
import { InputError, collectInputs } from '../../src/inputs/schema.js';
import { resolveSshInto } from '../../src/inputs/ssh.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets } from '../../src/health/spec.js';
import { checkHealth, type HealthResult } from '../../src/health/check.js';
import { runHostChecks, type HostChecksResult } from '../../src/health/host-checks.js';
import { SshPool } from '../../src/host/pool.js';
import { healthSummary } from '../../src/report/health.js';
import { hostChecksSummary } from '../../src/report/host-checks.js';
import { schema } from '../../src/schemas/healthcheck.js';

runAction(async (ctx) => {
  const { values, problems } = collectInputs(schema, ctx.inputs);
  const spec = healthSpec(values, '', problems);
  const checks = values['host-checks'] ?? [];
  maskHealthSecrets(spec, ctx.inputs.mask);
  const tlsWarning = insecureTlsWarning(spec, '');
  if (tlsWarning) ctx.logger.warning(tlsWarning);
  if (!spec.urls?.length && !checks.length && !problems.some((p) => p.input === 'url' || p.input === 'host-checks')) {
    problems.push({ input: 'url', message: 'is required but was not set: give the URLs to gate, or host-checks to run on the hosts' });
  }
  if (checks.some((c) => c.kind === 'containers') && !values.app && !values['app-dir']) {
    problems.push({ input: 'host-checks', message: "'containers' checks the app's current release: set 'app' (and 'environment'), or 'app-dir'" });
  }
  const needSsh = spec.viaSsh || checks.length > 0;
  const ssh = needSsh ? resolveSshInto(values, problems, { workspace: ctx.run.workspace, logger: ctx.logger }) : undefined;
  if (problems.length) throw new InputError(problems);
  if (!spec.viaSsh && spec.urls.length && (values.hosts || values.inventory)) {
    ctx.logger.warning("'hosts'/'inventory' are set but 'via-ssh' is false: the URLs are checked from the runner, not from the hosts");
  }

  const pool = ssh ? new SshPool(ssh.options) : undefined;
  let result: HealthResult | undefined;
  let hostResult: HostChecksResult | undefined;
  try {
    [result, hostResult] = await Promise.all([
      spec.urls.length ? checkHealth(spec, { logger: ctx.logger, pool, targets: ssh?.targets, maxParallel: ssh?.maxParallel }) : undefined,
      checks.length
        ? runHostChecks(checks, {
            pool: pool!,
            targets: ssh!.targets,
            maxParallel: ssh!.maxParallel,
            logger: ctx.logger,
            appDir: values['app-dir'] || (values.app ? `~/apps/${values.app}-${values.environment}` : undefined),
          })
        : undefined,
    ]);
  } finally {
    await pool?.closeAll();
  }
  const healthy = (result?.healthy ?? true) && (hostResult?.healthy ?? true);
  ctx.setOutput('healthy', healthy);
  ctx.setOutput('attempts', result?.attempts ?? 0);
  ctx.setOutput('elapsed-ms', result?.elapsedMs ?? 0);
  ctx.setOutput('p50-ms', result?.p50 ?? '');
  ctx.setOutput('p95-ms', result?.p95 ?? '');
  ctx.setOutput('status', result?.status ?? '');
  ctx.setOutput('cert-days-left', result?.certDaysLeft ?? '');
  ctx.setOutput('last-error', result?.lastError ?? hostResult?.failures[0] ?? '');
  ctx.setOutput('host-checks', hostResult ? JSON.stringify({ healthy: hostResult.healthy, hosts: hostResult.hosts }) : '');
  const report = [result ? healthSummary(result) : '', hostResult ? hostChecksSummary(hostResult) : ''].filter(Boolean).join('\n');
  await ctx.summary(report);
  if (values['report-path']) {
    // The same markdown as the summary, for a later step (the monitor workflow's incident issue).
    const reportPath = path.resolve(ctx.run.workspace, values['report-path']);
    try {
      mkdirSync(path.dirname(reportPath), { recursive: true });
      writeFileSync(reportPath, `${ctx.logger.secrets.redact(report)}\n`);
      ctx.setOutput('report-path', reportPath);
    } catch (e) {
      ctx.logger.warning(`report-path: could not write ${reportPath} (${errorMessage(e)}); the report is in the job summary`);
    }
  }
  if (!healthy) {
    const parts = [
      ...(result && !result.healthy ? [`health gate failed:\n${result.failures.join('\n')}`] : []),
      ...(hostResult && !hostResult.healthy ? [`host checks failed:\n${hostResult.failures.join('\n')}`] : []),
    ];
    throw new Error(parts.join('\n'));
  }
  const said = [
    result ? `${result.gates.length} check(s), ${result.attempts} request(s), p95 ${result.p95 ?? '-'}ms` : '',
    hostResult ? `${checks.length} host check(s) on ${hostResult.hosts.length} host(s)${hostResult.warnings.length ? `, ${hostResult.warnings.length} warning(s)` : ''}` : '',
  ].filter(Boolean);
  ctx.logger.info(`healthy: ${said.join('; ')}`);
});
