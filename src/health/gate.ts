/**
 * The health gate for one URL (on one host): probe until healthy or the deadline, with a
 * success threshold, an optional stable period, latency and certificate limits.
 */
import { probe, type ProbeErrorKind, type ProbeResult, type ProbeTarget } from './probe.js';
import { formatStatusSet, redactUrl, type HealthSpec } from './spec.js';
import { formatDuration } from '../text.js';
import type { Logger } from '../log.js';

export interface GateResult {
  /** `url` or `host: url`. */
  label: string;
  healthy: boolean;
  /** Requests actually made. */
  attempts: number;
  elapsedMs: number;
  /** Latencies of the passing probes. */
  latencies: number[];
  p50?: number;
  p95?: number;
  status?: number;
  certDaysLeft?: number;
  certValidTo?: string;
  /** Why the gate failed: which assertion, with the last response. */
  failure?: string;
  lastError?: string;
  /** Failed probes by kind. */
  errors: Partial<Record<ProbeErrorKind, number>>;
  last?: Pick<ProbeResult, 'status' | 'body'>;
}

export function percentile(values: number[], q: number): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function describeResponse(r: ProbeResult): string {
  const body = (r.body ?? '').slice(0, 500).replace(/\s+/g, ' ').trim();
  const why = r.kind && r.kind !== 'status' ? `last check failed: ${r.error}; ` : '';
  return `${why}last response: status ${r.status}${body ? `, body: ${body}` : ', empty body'}`;
}

/** The last probe, and, when it got no response, the last response there was. */
function describeLast(r: ProbeResult | undefined, lastResponse: ProbeResult | undefined): string {
  if (!r) return '';
  if (r.status !== undefined) return describeResponse(r);
  return `last error: ${r.kind}: ${r.error}${lastResponse ? `; before that, ${describeResponse(lastResponse)}` : ''}`;
}

function historyLine(errors: GateResult['errors']): string {
  const parts = Object.entries(errors).map(([k, n]) => `${k} ×${n}`);
  return parts.length ? `; errors seen: ${parts.join(', ')}` : '';
}

export async function runGate(target: ProbeTarget & { label: string }, spec: HealthSpec, logger: Logger): Promise<GateResult> {
  const started = Date.now();
  const deadline = started + spec.timeoutMs;
  const res: GateResult = { label: target.label, healthy: false, attempts: 0, elapsedMs: 0, latencies: [], errors: {} };
  let consecutive = 0;
  let stableUntil: number | undefined;
  let last: ProbeResult | undefined;
  let lastResponse: ProbeResult | undefined;
  const tag = `[${target.label}]`;
  const finish = (healthy: boolean, failure?: string): GateResult => {
    res.healthy = healthy;
    res.failure = failure;
    res.elapsedMs = Date.now() - started;
    res.p50 = percentile(res.latencies, 0.5);
    res.p95 = percentile(res.latencies, 0.95);
    res.last = last && { status: last.status, body: last.body?.slice(0, 500) };
    return res;
  };
  for (;;) {
    const waiting = stableUntil === undefined;
    const remaining = deadline - Date.now();
    if (waiting && remaining <= 0) {
      return finish(
        false,
        `${redactUrl(target.url)} did not become healthy within ${formatDuration(spec.timeoutMs)} (${res.attempts} attempt${res.attempts === 1 ? '' : 's'}, expecting status ${formatStatusSet(spec.expectStatus)}${spec.expectJson.length ? ` and ${spec.expectJson.map((x) => x.raw).join(', ')}` : ''}); ${describeLast(last, lastResponse)}${historyLine(res.errors)}`,
      );
    }
    const r = await probe(target, spec, waiting ? Math.min(spec.requestTimeoutMs, remaining) : spec.requestTimeoutMs);
    res.attempts++;
    last = r;
    if (r.status !== undefined) lastResponse = r;
    if (r.status !== undefined) res.status = r.status;
    if (r.certDaysLeft !== undefined) {
      res.certDaysLeft = Math.min(r.certDaysLeft, res.certDaysLeft ?? Infinity);
      res.certValidTo = r.certValidTo;
    }
    if (spec.tlsMinDays !== undefined && r.certDaysLeft !== undefined && r.certDaysLeft < spec.tlsMinDays) {
      res.errors.tls = (res.errors.tls ?? 0) + 1;
      res.lastError = `certificate expires in ${r.certDaysLeft} days`;
      return finish(false, `${redactUrl(target.url)}: the TLS certificate expires in ${r.certDaysLeft} day(s) (${r.certValidTo}), fewer than tls-min-days ${spec.tlsMinDays}; renew it`);
    }
    if (r.ok) {
      consecutive++;
      res.latencies.push(r.latencyMs);
      logger.info(`${tag} attempt ${res.attempts}: ${r.status} in ${r.latencyMs}ms${waiting ? ` (${consecutive}/${spec.successThreshold})` : ' (stable)'}`);
      if (waiting && consecutive >= spec.successThreshold) {
        if (spec.stableForMs <= 0) break;
        stableUntil = Date.now() + spec.stableForMs;
        logger.info(`${tag} healthy; watching it for ${formatDuration(spec.stableForMs)}`);
      } else if (!waiting && Date.now() >= stableUntil!) break;
    } else {
      res.errors[r.kind!] = (res.errors[r.kind!] ?? 0) + 1;
      res.lastError = `${r.kind}: ${r.error}`;
      logger.info(`${tag} attempt ${res.attempts}: ${r.status !== undefined ? `${r.status}, ` : ''}${r.kind}: ${r.error}`);
      if (!waiting) {
        return finish(
          false,
          `${redactUrl(target.url)} passed, then failed ${formatDuration(Date.now() - (stableUntil! - spec.stableForMs))} into the stable-for period (${formatDuration(spec.stableForMs)}): ${r.kind}: ${r.error}${r.status !== undefined ? `; ${describeResponse(r)}` : ''}`,
        );
      }
      consecutive = 0;
    }
    const until = waiting ? deadline : stableUntil!;
    await sleep(Math.min(spec.intervalMs, until - Date.now()));
  }
  const result = finish(true);
  if (spec.maxLatencyMs !== undefined && result.p95 !== undefined && result.p95 > spec.maxLatencyMs) {
    res.errors.latency = 1;
    return finish(false, `${redactUrl(target.url)} is healthy but slow: p95 latency ${result.p95}ms over ${result.latencies.length} passing probe(s) exceeds max-latency-ms ${spec.maxLatencyMs}`);
  }
  return result;
}
