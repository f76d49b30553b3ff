/**
 * The healthcheck action's flow: its inputs checked into a config (every problem at once),
 * then the URL gate and the host checks run side by side; the result carries the outputs,
 * the report and the failure, for the entry point to set, write and throw.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../log.js';
import type { Parsed, Problem } from '../inputs/schema.js';
import { resolveSshInto, type SshSetup } from '../inputs/ssh.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets, type HealthSpec } from '../health/spec.js';
import { checkHealth, type HealthResult } from '../health/check.js';
import { runHostChecks, type HostCheck, type HostChecksResult } from '../health/host-checks.js';
import { SshPool } from '../host/pool.js';
import { healthSummary } from '../report/health.js';
import { hostChecksSummary } from '../report/host-checks.js';
import type { schema } from '../schemas/healthcheck.js';
import type { Caller } from './caller.js';

export interface HealthcheckConfig {
  spec: HealthSpec;
  checks: HostCheck[];
  ssh?: SshSetup;
  appDir?: string;
  reportPath?: string;
}

export function prepareHealthcheck(v: Parsed<typeof schema>, problems: Problem[], c: Caller): HealthcheckConfig | undefined {
  const spec = healthSpec(v, '', problems);
  const checks = v['host-checks'] ?? [];
  maskHealthSecrets(spec, c.mask);
  const tlsWarning = insecureTlsWarning(spec, '');
  if (tlsWarning) c.logger.warning(tlsWarning);
  if (!spec.urls?.length && !checks.length && !problems.some((p) => p.input === 'url' || p.input === 'host-checks')) {
    problems.push({ input: 'url', message: 'is required but was not set: give the URLs to gate, or host-checks to run on the hosts' });
  }
  if (checks.some((x) => x.kind === 'containers') && !v.app && !v['app-dir']) {
    problems.push({ input: 'host-checks', message: "'containers' checks the app's current release: set 'app' (and 'environment'), or 'app-dir'" });
  }
  const ssh = spec.viaSsh || checks.length > 0 ? resolveSshInto(v, problems, { workspace: c.workspace, logger: c.logger }) : undefined;
  if (problems.length) return undefined;
  if (!spec.viaSsh && spec.urls.length && (v.hosts || v.inventory)) {
    c.logger.warning("'hosts'/'inventory' are set but 'via-ssh' is false: the URLs are checked from the runner, not from the hosts");
  }
  return {
    spec,
    checks,
    ssh,
    appDir: v['app-dir'] || (v.app ? `~/apps/${v.app}-${v.environment}` : undefined),
    reportPath: v['report-path'] ? path.resolve(c.workspace, v['report-path']) : undefined,
  };
}

export interface HealthcheckRun {
  healthy: boolean;
  outputs: Record<string, string | number | boolean>;
  report: string;
  /** Why it failed (undefined when healthy). */
  error?: string;
  /** What the run logs when it is healthy. */
  said: string;
}

export async function healthcheck(cfg: HealthcheckConfig, c: Pick<Caller, 'logger'>): Promise<HealthcheckRun> {
  const { spec, checks, ssh } = cfg;
  const pool = ssh ? new SshPool(ssh.options) : undefined;
  let result: HealthResult | undefined;
  let hostResult: HostChecksResult | undefined;
  try {
    [result, hostResult] = await Promise.all([
      spec.urls.length ? checkHealth(spec, { logger: c.logger, pool, targets: ssh?.targets, maxParallel: ssh?.maxParallel }) : undefined,
      checks.length ? runHostChecks(checks, { pool: pool!, targets: ssh!.targets, maxParallel: ssh!.maxParallel, logger: c.logger, appDir: cfg.appDir }) : undefined,
    ]);
  } finally {
    await pool?.closeAll();
  }
  const healthy = (result?.healthy ?? true) && (hostResult?.healthy ?? true);
  const outputs: HealthcheckRun['outputs'] = {
    healthy,
    attempts: result?.attempts ?? 0,
    'elapsed-ms': result?.elapsedMs ?? 0,
    'p50-ms': result?.p50 ?? '',
    'p95-ms': result?.p95 ?? '',
    status: result?.status ?? '',
    'cert-days-left': result?.certDaysLeft ?? '',
    'last-error': result?.lastError ?? hostResult?.failures[0] ?? '',
    'host-checks': hostResult ? c.logger.secrets.redact(JSON.stringify({ healthy: hostResult.healthy, hosts: hostResult.hosts })) : '',
  };
  const report = [result ? healthSummary(result) : '', hostResult ? hostChecksSummary(hostResult) : ''].filter(Boolean).join('\n');
  if (cfg.reportPath) {
    // The same markdown as the summary, for a later step (the monitor workflow's incident issue).
    try {
      mkdirSync(path.dirname(cfg.reportPath), { recursive: true });
      writeFileSync(cfg.reportPath, `${c.logger.secrets.redact(report)}\n`);
      outputs['report-path'] = cfg.reportPath;
    } catch (e) {
      c.logger.warning(`report-path: could not write ${cfg.reportPath} (${errorMessage(e)}); the report is in the job summary`);
    }
  }
  const parts = [
    ...(result && !result.healthy ? [`health gate failed:\n${result.failures.join('\n')}`] : []),
    ...(hostResult && !hostResult.healthy ? [`host checks failed:\n${hostResult.failures.join('\n')}`] : []),
  ];
  const said = [
    result ? `${result.gates.length} check(s), ${result.attempts} request(s), p95 ${result.p95 ?? '-'}ms` : '',
    hostResult ? `${checks.length} host check(s) on ${hostResult.hosts.length} host(s)${hostResult.warnings.length ? `, ${hostResult.warnings.length} warning(s)` : ''}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return { healthy, outputs, report, error: healthy ? undefined : parts.join('\n'), said };
}
