import { describe, expect, it } from 'vitest';
import { forEachHost, summarizeResults } from '../../src/fleet/run.js';
import type { Target } from '../../src/host/target.js';

const targets: Target[] = Array.from({ length: 6 }, (_, i) => ({ name: `h${i}`, host: `h${i}`, port: 22, user: 'u' }));
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('forEachHost', () => {
  it('never runs more than max-parallel at once and keeps target order in results', async () => {
    let running = 0;
    let peak = 0;
    const rs = await forEachHost(
      targets,
      async (t) => {
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
        return t.name.toUpperCase();
      },
      { maxParallel: 2, onFailure: 'continue' },
    );
    expect(peak).toBe(2);
    expect(rs.map((r) => r.value)).toEqual(['H0', 'H1', 'H2', 'H3', 'H4', 'H5']);
    expect(rs.every((r) => r.status === 'succeeded')).toBe(true);
  });

  it('halt: no host starts after a failure; later hosts are skipped', async () => {
    const started: string[] = [];
    const rs = await forEachHost(
      targets,
      async (t) => {
        started.push(t.name);
        await tick();
        if (t.name === 'h1') throw new Error('boom on h1');
      },
      { maxParallel: 1, onFailure: 'halt' },
    );
    expect(started).toEqual(['h0', 'h1']);
    expect(summarizeResults(rs)).toEqual({ succeeded: ['h0'], failed: ['h1'], skipped: ['h2', 'h3', 'h4', 'h5'] });
    expect(rs[1]!.error).toBe('boom on h1');
  });

  it('continue: every host runs and each failure is reported', async () => {
    const rs = await forEachHost(
      targets,
      async (t) => {
        if (t.name === 'h2' || t.name === 'h4') throw new Error(`down ${t.name}`);
      },
      { maxParallel: 3, onFailure: 'continue' },
    );
    expect(summarizeResults(rs).failed).toEqual(['h2', 'h4']);
    expect(summarizeResults(rs).succeeded).toHaveLength(4);
  });

  it('canary: the first hosts run alone; a canary failure leaves the rest untouched', async () => {
    const order: string[] = [];
    await forEachHost(
      targets,
      async (t) => {
        order.push(`start ${t.name}`);
        await tick();
        order.push(`end ${t.name}`);
      },
      { maxParallel: 5, onFailure: 'halt', canary: 1 },
    );
    expect(order.slice(0, 2)).toEqual(['start h0', 'end h0']);
    const rs = await forEachHost(
      targets,
      async (t) => {
        if (t.name === 'h0') throw new Error('canary broke');
      },
      { maxParallel: 5, onFailure: 'continue', canary: 1 },
    );
    expect(summarizeResults(rs).skipped).toEqual(['h1', 'h2', 'h3', 'h4', 'h5']);
  });

  it('batch: the next batch starts only after the whole previous one finished', async () => {
    const order: string[] = [];
    const rs = await forEachHost(
      targets,
      async (t) => {
        order.push(`start ${t.name}`);
        await new Promise((r) => setTimeout(r, t.name === 'h1' ? 30 : 5));
        order.push(`end ${t.name}`);
        if (t.name === 'h1') throw new Error('slow failure');
      },
      { maxParallel: 2, onFailure: 'halt', mode: 'batch' },
    );
    expect(order).toEqual(['start h0', 'start h1', 'end h0', 'end h1']);
    expect(summarizeResults(rs).skipped).toEqual(['h2', 'h3', 'h4', 'h5']);
  });
});
