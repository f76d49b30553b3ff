import { describe, expect, it } from 'vitest';
import { blueGreenActivation, colorFor, composeActivation, composeCall } from '../../src/deploy/compose.js';
import { upstreamMarker } from '../../src/commands/proxy.js';
import type { HostCtx } from '../../src/deploy/context.js';
import { layout } from '../../src/host/layout.js';
import { parseState, type HostState, type ReleaseManifest } from '../../src/host/state.js';
import { render } from '../../src/shell/index.js';

const bg: NonNullable<ReleaseManifest['blue_green']> = {
  base_port: 8091,
  proxy: 'nginx',
  listen: '80',
  config: '/etc/nginx/conf.d/ops-shop-production.conf',
  test_command: 'nginx -t',
  reload_command: 'nginx -s reload',
  upstream: 'ops_shop_production',
  ready_path: '/health',
  ready_timeout_s: 60,
  drain_s: 30,
};
const release = (id: string): ReleaseManifest => ({
  id,
  app: 'shop',
  environment: 'production',
  version: id,
  sha: '',
  strategy: 'compose',
  created: '',
  actor: '',
  run_url: '',
  project: 'shop-production',
  compose_files: ['docker-compose.yml'],
  blue_green: bg,
});
function host(state: Partial<HostState>): HostCtx {
  const s: HostState = { home: '/home/d', appDir: '/home/d/apps/shop-production', releases: [], manifests: new Map(), history: [], compose: 'v2', machineId: 'm', ...state };
  return { state: s, layout: layout(s.appDir), target: { name: 'web1' } } as unknown as HostCtx;
}

describe('blue-green colors', () => {
  it('a first release is blue; a new one boots as the other color; the current one keeps its color', () => {
    expect(colorFor(host({}), release('R1'))).toBe('blue');
    expect(colorFor(host({ current: 'R1', color: 'blue' }), release('R2'))).toBe('green');
    expect(colorFor(host({ current: 'R2', color: 'green' }), release('R1'))).toBe('blue'); // a rollback
    expect(colorFor(host({ current: 'R3', color: 'green' }), release('R1'))).toBe('blue'); // n-2 shares a color with n, never the serving one
    expect(colorFor(host({ current: 'R1', color: 'blue' }), release('R1'))).toBe('blue'); // put back after a failed switch
  });

  it("a color's project and port", () => {
    const h = host({ current: 'R1', color: 'blue' });
    expect(composeCall(h, release('R2')).project).toBe('shop-production-green');
    expect(composeCall(h, release('R1')).project).toBe('shop-production-blue');
  });

  it("every compose call of a color gets its variables, not only 'up' (the files interpolate them)", async () => {
    const { psCommand, logsCommand } = await import('../../src/commands/compose.js');
    const h = host({ current: 'R1', color: 'blue' });
    expect(render(psCommand(composeCall(h, release('R1'))))).toMatch(/^env 'OPS_COLOR=blue' 'OPS_PORT=8091' docker compose --project-name shop-production-blue /);
    expect(render(logsCommand(composeCall(h, release('R2')), [], 10))).toMatch(/^env 'OPS_COLOR=green' 'OPS_PORT=8092' docker compose /);
    // An in-place release has none.
    const { blue_green: _, ...inPlace } = release('R3');
    expect(render(psCommand(composeCall(h, inPlace as ReturnType<typeof release>)))).toMatch(/^docker compose /);
  });

  it('boots, waits, switches the proxy, records, then drains the other color: in that order', () => {
    const h = host({ current: 'R1', color: 'blue' });
    const steps = composeActivation(h, release('R2'));
    expect(steps).toEqual(blueGreenActivation(h, release('R2'), 'green'));
    expect(steps.map((s) => s.step)).toEqual(['up (green, port 8092)', 'ready (green)', 'proxy → green', 'proxy serves green', 'switch', 'drain (blue)']);
    const text = steps.map((s) => render(s.command));
    const marker = upstreamMarker('R2', 'green');
    expect(marker).toMatch(/^[0-9a-f]{16}$/);
    expect(marker).not.toBe(upstreamMarker('R2', 'blue'));
    expect(text[0]).toMatch(/^env 'OPS_COLOR=green' 'OPS_PORT=8092' docker compose --project-name shop-production-green /);
    expect(text[1]).toMatch(/ ops 8092 \/health 60$/);
    expect(text[2]).toContain('server 127.0.0.1:8092 max_fails=0;');
    expect(text[2]).toContain(`add_header X-Ops-Upstream ${marker} always;`);
    // The proxy step records the color in the same command, right after the reload.
    expect(text[2]).toMatch(/ && sh -c [\s\S]* ops \/home\/d\/apps\/shop-production green$/);
    expect(text[3]).toMatch(new RegExp(` ops 80 /health ${marker} 10$`));
    expect(text[4]).toMatch(/ ops \/home\/d\/apps\/shop-production R2 green$/);
    expect(text[5]).toMatch(/ ops 8091 shop-production-blue 30 30$/);
  });

  it("reads the host's color from its state", () => {
    const out = (color: string) => `/home/d\n/home/d/apps/shop-production\n\nv2\nm1\n${color}\n--- releases\n--- history\n`;
    expect(parseState(out('green')).color).toBe('green');
    expect(parseState(out('')).color).toBeUndefined();
    expect(parseState(out('purple')).color).toBeUndefined();
  });
});

describe('zero-downtime inputs and hosts', () => {
  it('finds project-scoped volumes (a copy per color), not host paths or external volumes', async () => {
    const { namedVolumes } = await import('../../src/flows/deploy-inputs.js');
    const text = [
      'services:',
      '  db: { image: postgres, volumes: ["pgdata:/var/lib/postgresql/data"] }',
      '  web: { image: app, volumes: ["./static:/app/static", "/srv/media:/media", "shared:/shared", { type: bind, source: /x, target: /y }, { type: volume, source: cache, target: /c }] }',
      'volumes:',
      '  pgdata: {}',
      '  shared: { external: true }',
      '  cache:',
    ].join('\n');
    expect(namedVolumes(text)).toEqual(['pgdata', 'cache']);
    expect(namedVolumes('services: { web: { image: x } }')).toEqual([]);
  });

  it('a host never switches by a deploy between strategies, in place and blue-green, or blue-green proxy settings', async () => {
    const { switchMismatch } = await import('../../src/flows/deploy.js');
    const inPlace = { ...release('R1'), blue_green: undefined };
    const onInPlace = host({ current: 'R1', manifests: new Map([['R1', inPlace]]) });
    const bg = release('R1').blue_green!;
    expect(switchMismatch(onInPlace, { strategy: 'compose', blue_green: bg })).toMatch(/deployed in place.*docker compose -p shop-production down/);
    expect(switchMismatch(onInPlace, { strategy: 'compose' })).toBeUndefined();
    const onBg = host({ current: 'R1', color: 'green', manifests: new Map([['R1', release('R1')]]) });
    expect(switchMismatch(onBg, { strategy: 'compose' })).toMatch(/blue-green \(color green/);
    expect(switchMismatch(onBg, { strategy: 'compose', blue_green: bg })).toBeUndefined();
    expect(switchMismatch(onBg, { strategy: 'compose', blue_green: { ...bg, base_port: bg.base_port + 10, config: '/etc/nginx/conf.d/x.conf' } })).toMatch(
      new RegExp(`other proxy settings \\(app-port ${bg.base_port} → ${bg.base_port + 10}, proxy-config ${bg.config} → /etc/nginx/conf.d/x.conf\\)`),
    );
    expect(switchMismatch(onBg, { strategy: 'release' })).toMatch(/serves R1, a compose release: a release release needs an app directory of its own/);
    expect(switchMismatch(onInPlace, { strategy: 'swarm' })).toMatch(/a swarm release needs an app directory of its own/);
    expect(switchMismatch(host({}), { strategy: 'compose', blue_green: bg })).toBeUndefined();
  });
});
