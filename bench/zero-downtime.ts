/**
 * Requests served and failed under load while a host changes releases, side by side in the
 * same run: blue-green (`zero-downtime: true`) behind nginx against today's in-place
 * `compose up -d` behind the same nginx. Phases: a deploy, a deploy of a release that never
 * turns healthy (the health gate fails, auto-rollback), and a rollback. wrk sends quick
 * requests (/) and slow ones (1 s, in flight at every switch) through nginx the whole time.
 * BENCH_RUNS (default 3) runs of each phase; reports, asserts nothing. Run as root:
 * npm run bench -- zero-downtime
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSandbox } from '../sandbox/index.js';
import { bothLoads, startNginx, type Load } from '../sandbox/proxy.js';
import { run as sh } from '../sandbox/procs.js';
import { ROOT, runAction } from '../test/harness.js';
import { median, writeResults } from './results.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BG_PORT = 8000;
const INPLACE_PORT = 8100;

const sb = await startSandbox({ hosts: 1, isolated: true, images: ['1.0.0', '2.0.0'] });
const h = sb.hosts[0]!;
const nginx = await startNginx(h, sb.root);
try {
  // The in-place app listens on 8080 (test/fixtures/compose); nginx fronts it as it fronts the colors.
  writeFileSync(
    path.join(nginx.sites, 'inplace.conf'),
    `upstream inplace { server 127.0.0.1:8080; }\nserver { listen 127.0.0.1:${INPLACE_PORT}; location / { proxy_pass http://inplace; proxy_http_version 1.1; proxy_set_header Connection ""; } }\n`,
  );
  await sh('nsenter', [`--net=${h.netns!.path}`, '--', ...nginx.reloadCommand.split(' ')]);
  const common = (app: string, port: number) => ({
    app,
    ...sb.sshInputs(),
    'health-url': `http://127.0.0.1:${port}/health`,
    'health-interval': '250ms',
    'health-timeout': '6s',
    'github-deployment': 'false',
  });
  const modes = {
    'blue-green': {
      origin: `http://127.0.0.1:${BG_PORT}`,
      inputs: {
        ...common('shop', BG_PORT),
        'compose-file': path.join('test', 'fixtures', 'compose-bg', 'docker-compose.yml'),
        'zero-downtime': 'true',
        'proxy-port': `127.0.0.1:${BG_PORT}`,
        'app-port': '8091',
        'proxy-config': path.join(nginx.sites, 'ops-shop-production.conf'),
        'proxy-test-command': nginx.testCommand,
        'proxy-reload-command': nginx.reloadCommand,
        'drain-timeout': '10s',
      },
      rollback: common('shop', BG_PORT),
    },
    'in-place (baseline)': {
      origin: `http://127.0.0.1:${INPLACE_PORT}`,
      inputs: { ...common('inplace', INPLACE_PORT), 'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml') },
      rollback: common('inplace', INPLACE_PORT),
    },
  };
  const deploy = async (inputs: Record<string, string>, image: string, version: string) =>
    (await runAction('deploy', { inputs: { ...inputs, image: `${sb.images!.repo}:${image}`, version }, workspace: ROOT })).main;

  type Row = { mode: string; phase: string; runs: { requests: number; failed: number; non2xx: number; socketErrors: number; exitCode: number | null }[] };
  const rows: Row[] = [];
  const add = (mode: string, phase: string, exitCode: number | null, loads: Load[]) => {
    let row = rows.find((r) => r.mode === mode && r.phase === phase);
    if (!row) {
      row = { mode, phase, runs: [] };
      rows.push(row);
    }
    const sum = (k: keyof Load) => loads.reduce((a, l) => a + (l[k] as number), 0);
    row.runs.push({ requests: sum('requests'), non2xx: sum('non2xx'), socketErrors: sum('socketErrors'), failed: sum('non2xx') + sum('socketErrors'), exitCode });
  };

  for (const [mode, m] of Object.entries(modes)) {
    const first = await deploy(m.inputs, '1.0.0', '1.0.0');
    if (first.exitCode !== 0) throw new Error(`${mode}: the first deploy failed: ${first.errors.join('\n')}`);
    for (let i = 0; i < RUNS; i++) {
      const [d, f1, s1] = await bothLoads(h, m.origin, () => deploy(m.inputs, '2.0.0', `2.0.${i}`));
      add(mode, 'deploy', d.exitCode, [f1, s1]);
      const [bad, f2, s2] = await bothLoads(h, m.origin, () => deploy(m.inputs, 'unhealthy', `3.0.${i}`));
      add(mode, 'failed deploy (rolled back)', bad.exitCode, [f2, s2]);
      const [rb, f3, s3] = await bothLoads(h, m.origin, async () => (await runAction('rollback', { inputs: m.rollback })).main);
      add(mode, 'rollback', rb.exitCode, [f3, s3]);
      console.log(
        `${mode} run ${i + 1}: ${rows
          .filter((r) => r.mode === mode)
          .map((r) => `${r.phase} ${r.runs.at(-1)!.failed}/${r.runs.at(-1)!.requests} failed`)
          .join(', ')}`,
      );
    }
  }
  const fmt = (xs: number[]) => `${median(xs)} (${Math.min(...xs)}–${Math.max(...xs)})`;
  const table = [
    `| phase | mode | requests per run, median (min–max) | failed per run (non-2xx + socket errors) | failed share |`,
    '|---|---|---|---|---|',
    ...rows.map((r) => {
      const req = r.runs.map((x) => x.requests);
      const failed = r.runs.map((x) => x.failed);
      const share =
        failed.reduce((a, b) => a + b, 0) /
        Math.max(
          1,
          req.reduce((a, b) => a + b, 0),
        );
      return `| ${r.phase} | ${r.mode} | ${fmt(req)} | ${fmt(failed)} | ${(share * 100).toFixed(2)}% |`;
    }),
  ].join('\n');
  console.log(`\n${table}`);
  writeResults(
    'zero-downtime',
    { runs: RUNS, rows },
    `## zero-downtime\n\nRequests through nginx while one host changes releases (${RUNS} runs of each phase; 4 connections on / and 4 on a 1 s endpoint, a connection per request). Blue-green is \`zero-downtime: true\`; the baseline is the in-place \`compose up -d\` deploy behind the same nginx. Target: 0 failed for blue-green.\n\n${table}`,
  );
} finally {
  await nginx.stop();
  await sb.stop();
}
