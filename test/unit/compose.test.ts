import { describe, expect, it } from 'vitest';
import { containerProblems, parseContainers } from '../../src/deploy/compose.js';
import type { ReleaseManifest } from '../../src/host/state.js';

const m = { project: 'shop-production' } as ReleaseManifest;
const c = (over: string) => parseContainers(over)[0]!;

describe('release containers after a switch', () => {
  it('parses docker inspect lines', () => {
    expect(parseContainers('web|False|/shop_web_1|running|0|0|unless-stopped|healthy\n\n')).toEqual([
      { service: 'web', oneoff: false, name: 'shop_web_1', status: 'running', restarts: 0, exitCode: 0, restartPolicy: 'unless-stopped', health: 'healthy' },
    ]);
  });
  it('running and stable is fine; a one-shot that exited 0 without a restart policy is fine', () => {
    const web = c('web|False|/w|running|0|0|unless-stopped|');
    const init = c('init|False|/i|exited|0|0|no|');
    expect(containerProblems(m, [web, init], [web, init])).toEqual([]);
  });
  it.each([
    ['web|False|/w|restarting|3|1|always|', 'w (web) is restarting (last exit code 1)'],
    ['web|False|/w|exited|0|1|no|', 'w (web) is exited with code 1'],
    ['web|False|/w|running|0|0|no|unhealthy', 'w (web) reports its Docker healthcheck unhealthy'],
    ['web|False|/w|running|2|0|always|', 'w (web) restarted 2 time(s) during the gate'],
  ])('%s', (after, problem) => {
    expect(containerProblems(m, [c('web|False|/w|running|0|0|always|')], [c(after)])).toEqual([problem]);
  });
  it('restarting before the probes and running after them is a restart during the gate, even with the same count', () => {
    // Docker increments RestartCount when it schedules the restart, before the container runs again.
    const before = c('web|False|/w|restarting|1|1|unless-stopped|');
    expect(containerProblems(m, [before], [c('web|False|/w|running|1|0|unless-stopped|')])).toEqual(['w (web) restarted 1 time(s) during the gate']);
    expect(containerProblems(m, [c('web|False|/w|exited|0|1|unless-stopped|')], [c('web|False|/w|running|1|0|unless-stopped|')])).toEqual(['w (web) restarted 1 time(s) during the gate']);
  });
  it('no container at all is a problem', () => {
    expect(containerProblems(m, [], [])).toEqual(["no container of project shop-production exists after 'up'"]);
  });
});
