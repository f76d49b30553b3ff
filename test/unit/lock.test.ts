import { describe, expect, it } from 'vitest';
import { parseHeld } from '../../src/host/lock.js';
import { render } from '../../src/shell/index.js';

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
