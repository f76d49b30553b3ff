/**
 * Gate every URL — directly from the runner, or from each host through an SSH tunnel
 * (so services bound to a host's loopback can be checked without exposing them).
 */
import { forEachHost } from '../fleet/run.js';
import type { Target } from '../host/target.js';
import type { Logger } from '../log.js';
import type { SshPool } from '../host/pool.js';
import type { SshSession } from '../host/session.js';
import { errorMessage } from '../log.js';
import { percentile, runGate, type GateResult } from './gate.js';
import { hasHostPlaceholder, redactUrl, urlFor, type HealthSpec } from './spec.js';

export interface HealthResult {
  healthy: boolean;
  gates: GateResult[];
  attempts: number;
  elapsedMs: number;
  p50?: number;
  p95?: number;
  status?: number;
  certDaysLeft?: number;
  lastError?: string;
  /** One line per failed gate, naming URL (and host) and what failed. */
  failures: string[];
}

export interface HealthContext {
  logger: Logger;
  /** With `spec.viaSsh`: the hosts to check from, and their connections. */
  pool?: SshPool;
  targets?: Target[];
  maxParallel?: number;
}

function aggregate(gates: GateResult[], elapsedMs: number): HealthResult {
  const latencies = gates.flatMap((g) => g.latencies);
  const failed = gates.filter((g) => !g.healthy);
  const days = gates.map((g) => g.certDaysLeft).filter((d): d is number => d !== undefined);
  return {
    healthy: failed.length === 0 && gates.length > 0,
    gates,
    attempts: gates.reduce((n, g) => n + g.attempts, 0),
    elapsedMs,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    status: (failed[0] ?? gates[gates.length - 1])?.status,
    certDaysLeft: days.length ? Math.min(...days) : undefined,
    lastError: failed[0]?.lastError ?? failed[0]?.failure,
    failures: failed.map((g) => g.failure ?? `${g.label}: unhealthy`),
  };
}

export async function checkHealth(spec: HealthSpec, ctx: HealthContext): Promise<HealthResult> {
  const started = Date.now();
  if (spec.urls.some(hasHostPlaceholder) && !ctx.targets?.length) throw new Error('a health URL with {host} needs hosts to check');
  if (!spec.viaSsh) {
    // Each URL once; one naming {host}, once per host with its address.
    const targets = spec.urls.flatMap((url) =>
      hasHostPlaceholder(url) ? ctx.targets!.map((t) => ({ url: urlFor(url, t.host), label: `${t.name} ${redactUrl(urlFor(url, t.host))}` })) : [{ url, label: redactUrl(url) }],
    );
    const gates = await Promise.all(targets.map((t) => runGate(t, spec, ctx.logger)));
    return aggregate(gates, Date.now() - started);
  }
  if (!ctx.pool || !ctx.targets?.length) throw new Error('via-ssh needs hosts to check from');
  const pool = ctx.pool;
  const perHost = await forEachHost(
    ctx.targets,
    async (t) => {
      let session: SshSession;
      try {
        session = await pool.get(t);
      } catch (e) {
        // The host itself is unreachable: report it as a failed gate for each URL.
        return spec.urls.map<GateResult>((url) => ({
          label: `${t.name} ${redactUrl(url)}`,
          healthy: false,
          attempts: 0,
          elapsedMs: 0,
          latencies: [],
          errors: { error: 1 },
          failure: `${t.name}: cannot check ${redactUrl(url)}: ${errorMessage(e)}`,
          lastError: errorMessage(e),
        }));
      }
      const s = session;
      return Promise.all(
        spec.urls
          .map((u) => urlFor(u, t.host))
          .map((url) =>
            runGate({ url, label: `${t.name} ${redactUrl(url)}`, connect: (host, port) => s.forwardOut(host, port) }, spec, ctx.logger).then((g) =>
              g.failure ? { ...g, failure: `host ${t.name}: ${g.failure}` } : g,
            ),
          ),
      );
    },
    { maxParallel: ctx.maxParallel ?? 10, onFailure: 'continue' },
  );
  return aggregate(
    perHost.flatMap((r) => r.value ?? []),
    Date.now() - started,
  );
}
