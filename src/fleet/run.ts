import type { Target } from '../host/target.js';
import { errorMessage, type Logger } from '../log.js';

export type HostStatus = 'succeeded' | 'failed' | 'skipped';

export interface HostResult<T> {
  target: Target;
  status: HostStatus;
  durationMs: number;
  error?: string;
  /** The thrown error itself, for callers that attach details to it. */
  cause?: unknown;
  value?: T;
}

export interface FleetPolicy {
  /** How many hosts are worked on at once. */
  maxParallel: number;
  /** `halt`: after a failure no further host starts (running ones finish); `continue`: all hosts run. */
  onFailure: 'halt' | 'continue';
  /** The first N hosts run alone first; the rest start only if all of them succeeded. */
  canary?: number;
  /**
   * `rolling` (default): a new host starts whenever one finishes. `batch`: hosts go in
   * batches of max-parallel and a batch starts only when the previous one has finished, so
   * a failure is known before any later host is touched.
   */
  mode?: 'rolling' | 'batch';
  logger?: Logger;
}

/**
 * Run `fn` on every target by the policy and return one result per target, in target
 * order: succeeded, failed (with the error) or skipped (never started).
 */
export async function forEachHost<T>(targets: Target[], fn: (t: Target, index: number) => Promise<T>, policy: FleetPolicy): Promise<HostResult<T>[]> {
  const results: HostResult<T>[] = targets.map((target) => ({ target, status: 'skipped', durationMs: 0 }));
  let stop = false;
  const runWave = async (indexes: number[]) => {
    let next = 0;
    const worker = async () => {
      while (!stop && next < indexes.length) {
        const i = indexes[next++]!;
        const t = targets[i]!;
        const started = Date.now();
        try {
          const value = await fn(t, i);
          results[i] = { target: t, status: 'succeeded', durationMs: Date.now() - started, value };
        } catch (e) {
          results[i] = { target: t, status: 'failed', durationMs: Date.now() - started, error: errorMessage(e), cause: e };
          if (policy.onFailure === 'halt') stop = true;
        }
      }
    };
    const n = Math.max(1, Math.min(policy.maxParallel, indexes.length));
    await Promise.all(Array.from({ length: n }, worker));
  };
  const runBatches = async (indexes: number[]) => {
    const size = Math.max(1, policy.maxParallel);
    for (let i = 0; i < indexes.length && !stop; i += size) await runWave(indexes.slice(i, i + size));
  };
  const run = policy.mode === 'batch' ? runBatches : runWave;
  const all = targets.map((_, i) => i);
  const canary = Math.min(policy.canary ?? 0, targets.length);
  if (canary > 0 && canary < targets.length) {
    await run(all.slice(0, canary));
    if (results.slice(0, canary).some((r) => r.status !== 'succeeded')) {
      policy.logger?.error(
        `canary failed on ${results
          .slice(0, canary)
          .filter((r) => r.status === 'failed')
          .map((r) => r.target.name)
          .join(', ')}; the other ${targets.length - canary} hosts were not touched`,
      );
      return results;
    }
    await run(all.slice(canary));
  } else {
    await run(all);
  }
  return results;
}

export function summarizeResults<T>(rs: HostResult<T>[]): { succeeded: string[]; failed: string[]; skipped: string[] } {
  const by = (s: HostStatus) => rs.filter((r) => r.status === s).map((r) => r.target.name);
  return { succeeded: by('succeeded'), failed: by('failed'), skipped: by('skipped') };
}
