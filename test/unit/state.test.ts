/** The pure domain functions: reading a host's state and history, pruning, picking a rollback target. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStateCommand } from '../../src/commands/releases.js';
import { render } from '../../src/shell/index.js';
import { parseHistory, releaseStates, validEvent } from '../../src/host/history.js';
import { parseState, planPrune, releasesToPrune, type HostState, type ReleaseManifest } from '../../src/host/state.js';
import { chooseTarget } from '../../src/flows/rollback.js';

const ev = (type: string, release: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type, release, time: '2026-12-01T00:00:00Z', host: 'web1', ...extra });
const man = (id: string, version: string, image?: string) => ({ id, version, image }) as ReleaseManifest;

describe('history', () => {
  it('keeps events that match their schema, skips torn, unknown and incomplete ones', () => {
    const text = [
      ev('deploy-started', 'R1'),
      '{"type":"deploy-sta',
      ev('migration', 'R1', { command: 'x', mode: 'host', exit_code: 0, duration_ms: 5, timed_out: false }),
      ev('migration', 'R1', { command: 'x' }),
      ev('rollback', 'R0'),
      ev('from-the-future', 'R1'),
      '',
      ev('backup-completed', 'R1', { backup_id: 'b1', location: 's3://x', size_bytes: 10, source: 'postgres' }),
    ].join('\n');
    expect(parseHistory(text).map((e) => e.type)).toEqual(['deploy-started', 'migration', 'backup-completed']);
    expect(validEvent({ type: 'pruned', release: 'R', time: 't', removed: ['a', 1] })).toBeUndefined();
  });

  it('a release is good once it succeeded, bad once marked (a later success clears it)', () => {
    const events = parseHistory(
      [ev('deploy-succeeded', 'R1'), ev('deploy-succeeded', 'R2'), ev('marked-bad', 'R2', { reason: 'gate' }), ev('marked-bad', 'R3', { reason: 'x' }), ev('deploy-succeeded', 'R3')].join('\n'),
    );
    const s = releaseStates(events);
    expect([s.get('R1'), s.get('R2'), s.get('R3')].map((x) => [x?.good, x?.bad])).toEqual([
      [true, false],
      [true, true],
      [true, false],
    ]);
  });
});

describe('host state', () => {
  it('parses the one-round-trip state read', () => {
    const out = [
      '/home/deploy',
      '/home/deploy/apps/shop-production',
      'releases/20261201T100000Z-1.0.0',
      'v2',
      '--- releases',
      `20261201T100000Z-1.0.0\t${JSON.stringify({ id: '20261201T100000Z-1.0.0', version: '1.0.0' })}`,
      '20261201T110000Z-2.0.0\t{"id": torn',
      'not-a-release\t{}',
      '--- history',
      ev('deploy-succeeded', '20261201T100000Z-1.0.0'),
    ].join('\n');
    const s = parseState(out);
    expect(s).toMatchObject({ home: '/home/deploy', appDir: '/home/deploy/apps/shop-production', current: '20261201T100000Z-1.0.0', compose: 'v2' });
    expect(s.releases).toEqual(['20261201T100000Z-1.0.0', '20261201T110000Z-2.0.0']);
    expect([...s.manifests.keys()]).toEqual(['20261201T100000Z-1.0.0']);
    expect(s.history).toHaveLength(1);
  });

  it('prunes beyond keep, never the live release, the last good one before it, or an image a kept release uses', () => {
    expect(releasesToPrune(['R1', 'R2', 'R3', 'R4'], 2, ['R1'])).toEqual(['R2']);
    const state = {
      releases: ['R1', 'R2', 'R3', 'R4'],
      manifests: new Map([
        ['R1', man('R1', '1', 'app:1')],
        ['R2', man('R2', '2', 'app:2')],
        ['R3', man('R3', '3', 'app:bad')],
        ['R4', man('R4', '4', 'app:2')],
      ]),
      history: parseHistory([ev('deploy-succeeded', 'R1'), ev('deploy-succeeded', 'R2'), ev('marked-bad', 'R2', { reason: 'x' }), ev('marked-bad', 'R3', { reason: 'x' })].join('\n')),
    };
    // Live R5, keep 2: R4 and R5 stay; R1 is the last good one before R5 (R2 is bad): it stays too.
    expect(planPrune(state, { id: 'R5', image: 'app:5' }, 2)).toEqual({ remove: ['R2', 'R3'], images: ['app:bad'] });
  });
});

describe('rollback target', () => {
  const state = (current: string | undefined, history: string[]): HostState => ({
    home: '/h',
    appDir: '/h/a',
    current,
    releases: ['R1', 'R2', 'R3', 'R4'],
    manifests: new Map(['R1', 'R2', 'R3', 'R4'].map((r, i) => [r, man(r, `${i + 1}.0.0`)])),
    history: parseHistory(history.join('\n')),
    compose: 'v2',
    machineId: 'm1',
  });
  it('the last good release before the current one, skipping bad ones', () => {
    const s = state('R4', [ev('deploy-succeeded', 'R1'), ev('deploy-succeeded', 'R2'), ev('deploy-succeeded', 'R3'), ev('marked-bad', 'R3', { reason: 'x' }), ev('deploy-succeeded', 'R4')]);
    expect(chooseTarget(s, undefined)).toBe('R2');
  });
  it('a named release id or version, the newest of that version', () => {
    const s = state('R4', []);
    expect(chooseTarget(s, 'R1')).toBe('R1');
    expect(chooseTarget(s, '2.0.0')).toBe('R2');
    expect(() => chooseTarget(s, '9.9.9')).toThrow(/no release with id or version '9\.9\.9'; releases on the host: R1 \(1\.0\.0\)/);
  });
  it('says why when there is nothing to return to', () => {
    expect(() => chooseTarget(state(undefined, []), undefined)).toThrow('nothing is deployed here yet');
    expect(() => chooseTarget(state('R4', [ev('deploy-succeeded', 'R4')]), undefined)).toThrow(/no release marked good before the current one \(R4\).*Name one with 'to'/);
  });
});

describe('the state read with a long history (run by sh)', () => {
  it('stays bounded, and still has the early events of the releases on the host and the newest backups', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'state-'));
    const app = path.join(home, 'apps', 'shop-production');
    const old = '20250101T000000Z-1.0.0';
    const cur = '20261201T000000Z-9.0.0';
    for (const r of [old, cur]) {
      mkdirSync(path.join(app, 'releases', r), { recursive: true });
      writeFileSync(path.join(app, 'releases', r, 'release.json'), JSON.stringify({ id: r, version: r.split('-')[1] }));
    }
    const line = (type: string, release: string, time: string, extra = {}) => JSON.stringify({ type, release, time, host: 'web1', ...extra });
    const lines = [
      line('deploy-succeeded', old, '2025-01-01T00:00:00.000Z'),
      line('backup-completed', 'b', '2025-01-02T00:00:00.000Z', { backup_id: 'x', location: 'l', size_bytes: 1, source: 'postgres' }),
    ];
    const filler = `${'x'.repeat(400)}`;
    for (let i = 0; i < 30_000; i++) lines.push(line('deploy-started', `20260${(i % 9) + 1}01T000000Z-f`, `2026-0${(i % 9) + 1}-01T00:00:00.000Z`, { note: filler }));
    lines.push(line('deploy-succeeded', cur, '2026-12-01T00:00:00.000Z'));
    writeFileSync(path.join(app, 'history.jsonl'), lines.join('\n') + '\n');
    const out = execFileSync('sh', ['-c', render(readStateCommand('~/apps/shop-production'))], { env: { ...process.env, HOME: home }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(out.length).toBeLessThan(4 * 1024 * 1024);
    const s = parseState(out);
    expect(s.appDir).toBe(app);
    expect(s.machineId).not.toBe('');
    const states = releaseStates(s.history);
    expect(states.get(old)?.good).toBe(true);
    expect(states.get(cur)?.good).toBe(true);
    expect(s.history.filter((e) => e.type === 'backup-completed')).toHaveLength(1);
    // Merged in time order.
    expect(s.history.map((e) => e.time)).toEqual([...s.history.map((e) => e.time)].sort());
  });

  it('a state read whose head is not paths is an error, not a state', () => {
    expect(() => parseState('{"type":"x"}\njunk\n--- releases\n--- history\n')).toThrow(/the host's state could not be read/);
  });
});
