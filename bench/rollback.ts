/**
 * How long a failed deploy takes to put the previous release back, through the committed
 * deploy bundle on a sandbox host (compose, its own network namespace and Docker engine):
 * a release whose health never passes is deployed; from the moment its health gate gives
 * up (the gate's deadline, from the deploy's own timeline) until the previous version
 * answers on the host again (polled over SSH every 50 ms), and until the action exits.
 * BENCH_RUNS runs (default 5). Target: ≤ 10 s. Asserts nothing.
 * Run: npm run bench -- rollback (as root).
 */
import path from 'node:path';
import { startSandbox } from '../sandbox/index.js';
import { inspector, servedVersion } from '../test/integration/helpers.js';
import { ROOT, runAction } from '../test/harness.js';
import { median, writeResults } from './results.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const sb = await startSandbox({ hosts: 1, isolated: true, images: ['1.0.0'], compose: 'v2' });
const pool = inspector(sb);
try {
  const h = sb.hosts[0]!;
  let n = 0;
  const deploy = (image: string) =>
    runAction('deploy', {
      workspace: ROOT,
      inputs: {
        app: 'rb',
        ...sb.sshInputs([h]),
        'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml'),
        image: `${sb.images!.repo}:${image}`,
        version: `${image}-${++n}`,
        'health-url': 'http://127.0.0.1:8080/health',
        'health-expect-json': 'status=healthy',
        'health-interval': '250ms',
        'health-timeout': '3s',
        'github-deployment': 'false',
      },
    }).then((r) => r.main);
  const back: number[] = [];
  const exit: number[] = [];
  const rollbackStep: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const good = await deploy('1.0.0');
    if (good.exitCode !== 0) throw new Error(`the good release failed: ${good.errors.join('\n')}`);
    // Poll what the host serves while the bad release is deployed and rolled back.
    const seen: { t: number; v: string }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        // Stamped when the answer is in: a version seen is served by then.
        const v = await servedVersion(pool, h).catch(() => '');
        seen.push({ t: Date.now(), v });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const bad = await deploy('unhealthy');
    const exited = Date.now();
    // Until the previous version answers again (it may after the action's exit).
    for (let k = 0; k < 200 && seen.at(-1)?.v !== '1.0.0'; k++) await new Promise((r) => setTimeout(r, 50));
    polling = false;
    await poller;
    if (bad.exitCode === 0 || !/rolled back/.test(bad.errors.join('\n'))) throw new Error(`the bad release should have been rolled back: ${bad.errors.join('\n')}`);
    // The deploy's timeline (mermaid gantt in the summary): `health :crit, start, end`, `rollback :done, start, end`.
    const step = (name: string) => {
      const m = new RegExp(`^\\s*${name} :\\w+, (\\d+), (\\d+)$`, 'm').exec(bad.summary);
      if (!m) throw new Error(`no ${name} step in the deploy's timeline`);
      return { start: Number(m[1]), end: Number(m[2]) };
    };
    const gaveUp = step('health').end;
    const rb = step('rollback');
    const serving = seen.find((s) => s.t >= gaveUp && s.v === '1.0.0');
    if (!serving) throw new Error('the previous version never answered again');
    back.push(serving.t - gaveUp);
    exit.push(exited - gaveUp);
    rollbackStep.push(rb.end - rb.start);
  }
  const f = (xs: number[]) => `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)})`;
  const table = [
    '| from the health gate giving up | median (min–max) | target |',
    '|---|---|---|',
    `| to the previous version answering again | ${f(back)} | ≤ 10 s |`,
    `| the rollback step (up of the previous release, its gate) | ${f(rollbackStep)} | report |`,
    `| to the action's exit (diagnostics, history, summary) | ${f(exit)} | report |`,
  ].join('\n');
  console.log(table);
  writeResults(
    'rollback',
    { runs: RUNS, backMs: back, rollbackStepMs: rollbackStep, exitMs: exit },
    `## rollback\n\nA compose release whose health never passes (\`health-timeout: 3s\`, interval 250 ms) deployed through the deploy bundle over a healthy one on a sandbox host (its own network namespace, Docker engine and Compose v2); what the host serves is polled over SSH every 50 ms. Measured from the moment the gate gave up (the deploy's own timeline); ${RUNS} runs.\n\n${table}`,
  );
} finally {
  await pool.closeAll();
  await sb.stop();
}
