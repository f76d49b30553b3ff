import { describe, expect, it } from 'vitest';
import { parseHeld, staleAfterS } from '../../src/host/lock.js';

const owner = { id: 'run-1', kind: 'deploy' as const, app: 'shop', environment: 'production', actor: 'alice', run_url: 'https://x/1', acquired: '2026-12-01T00:00:00.000Z', ttl_s: 300 };

describe('lock staleness, by the host clock', () => {
  it('a lock renewed less than its ttl ago is live; one older is stale', () => {
    expect(parseHeld(`held\n299\n${JSON.stringify(owner)}`)).toMatchObject({ stale: false, ageS: 299, owner: { actor: 'alice' } });
    expect(parseHeld(`held\n301\n${JSON.stringify(owner)}`)).toMatchObject({ stale: true });
  });

  it("the owner file's runner-clock times never decide", () => {
    const far = { ...owner, acquired: '2099-01-01T00:00:00Z', expires: '2099-01-01T01:00:00Z', ttl_s: 10 };
    expect(parseHeld(`held\n11\n${JSON.stringify(far)}`).stale).toBe(true);
    const past = { ...owner, acquired: '2001-01-01T00:00:00Z', expires: '2001-01-01T00:05:00Z' };
    expect(parseHeld(`held\n5\n${JSON.stringify(past)}`).stale).toBe(false);
  });

  it('locks of earlier versions (no ttl_s) go stale after 5 minutes; a lock without owner file after a minute', () => {
    const legacy = { ...owner, ttl_s: undefined };
    expect(parseHeld(`held\n299\n${JSON.stringify(legacy)}`).stale).toBe(false);
    expect(parseHeld(`held\n301\n${JSON.stringify(legacy)}`).stale).toBe(true);
    expect(parseHeld('held\n59\n').stale).toBe(false);
    expect(parseHeld('held\n61\n').stale).toBe(true);
    expect(parseHeld('held\n61\n{torn').owner).toEqual({});
  });
});

describe('owners this version did not write', () => {
  it('an owner file without an id (or not JSON) is never judged stale: it is not ours to break', () => {
    expect(parseHeld('held\n3600\n{"note":"x"}')).toMatchObject({ stale: false, unknown: true });
    expect(parseHeld('held\n3600\nnot json')).toMatchObject({ stale: false, unknown: true });
  });
  it('a 0.1 lock (no ttl_s) goes stale after the ttl its times imply, at least 5 minutes', () => {
    const v01 = { id: 'old', kind: 'deploy' as const, acquired: '2026-12-01T00:00:00.000Z', expires: '2026-12-01T00:30:00.000Z' };
    expect(staleAfterS(v01)).toBe(1800);
    expect(parseHeld(`held\n1799\n${JSON.stringify(v01)}`).stale).toBe(false);
    expect(parseHeld(`held\n1801\n${JSON.stringify(v01)}`).stale).toBe(true);
    expect(staleAfterS({ id: 'x', expires: 'garbage' })).toBe(300);
  });
});
