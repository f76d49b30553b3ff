/**
 * How soon the health gate sees a change, through the committed healthcheck bundle (Node 24)
 * against a local HTTP server whose health flips at a known moment:
 *   A. the app turns healthy: from the flip to the first healthy answer the gate got, and to
 *      the action's exit (passed);
 *   B. the app turns unhealthy during `stable-for`: from the flip to the action's exit (failed).
 * The baseline is the configured interval (the most a poll can miss a change by); target:
 * within interval + 100 ms. BENCH_RUNS runs (default 5). Asserts nothing.
 * Run: npm run bench -- health.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runAction } from '../test/harness.js';
import { median, writeResults } from './results.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const INTERVAL_MS = 500;
const now = () => Number(process.hrtime.bigint()) / 1e6;

let healthy = false;
let firstHealthyAnswer = 0;
const server = http.createServer((_req, res) => {
  if (healthy && !firstHealthyAnswer) firstHealthyAnswer = now();
  res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: healthy ? 'healthy' : 'starting' }));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
try {
  const gate = (extra: Record<string, string>) =>
    runAction('healthcheck', { inputs: { url, interval: `${INTERVAL_MS}ms`, 'request-timeout': '2s', timeout: '30s', 'expect-json': 'status=healthy', ...extra } }).then((r) => r.main);
  const toHealthy = { seen: [] as number[], exit: [] as number[] };
  const toUnhealthy: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // A. Unhealthy at start; healthy 1.3 s later plus a random part of an interval, so the
    // flip falls anywhere between two polls.
    const at = () => 1300 + Math.random() * INTERVAL_MS;
    healthy = false;
    firstHealthyAnswer = 0;
    let flip = 0;
    const timer = setTimeout(() => {
      healthy = true;
      flip = now();
    }, at());
    const a = await gate({});
    clearTimeout(timer);
    if (a.exitCode !== 0) throw new Error(`the gate should have passed: ${a.errors.join('\n')}`);
    toHealthy.seen.push(firstHealthyAnswer - flip);
    toHealthy.exit.push(now() - flip);
    // B. Healthy at start; unhealthy 1.3–1.8 s into a stable-for of 5 s.
    healthy = true;
    let down = 0;
    const t2 = setTimeout(() => {
      healthy = false;
      down = now();
    }, at());
    const b = await gate({ 'stable-for': '5s' });
    clearTimeout(t2);
    if (b.exitCode === 0) throw new Error('the gate should have failed during stable-for');
    toUnhealthy.push(now() - down);
  }
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const table = [
    `| change | measured from the change | median (min–max) | baseline: interval | ÷ interval | target |`,
    '|---|---|---|---|---|---|',
    `| turns healthy | to the gate's first healthy answer | ${f(toHealthy.seen)} | ${INTERVAL_MS} ms | ${(median(toHealthy.seen) / INTERVAL_MS).toFixed(2)}× | ≤ ${INTERVAL_MS + 100} ms |`,
    `| turns healthy | to the action's exit (passed) | ${f(toHealthy.exit)} | ${INTERVAL_MS} ms | ${(median(toHealthy.exit) / INTERVAL_MS).toFixed(2)}× | ≤ ${INTERVAL_MS + 100} ms |`,
    `| turns unhealthy during stable-for | to the action's exit (failed) | ${f(toUnhealthy)} | ${INTERVAL_MS} ms | ${(median(toUnhealthy) / INTERVAL_MS).toFixed(2)}× | ≤ ${INTERVAL_MS + 100} ms |`,
  ].join('\n');
  console.log(table);
  writeResults(
    'health',
    { runs: RUNS, intervalMs: INTERVAL_MS, toHealthy, toUnhealthy },
    `## health\n\nThe healthcheck bundle (Node 24) polling a local HTTP server every ${INTERVAL_MS} ms (\`expect-json: status=healthy\`) whose health flips 1.3–1.8 s after the action starts (a random point between two polls); ${RUNS} runs. A poll can miss a change by up to one interval; the action's exit adds writing its outputs and summary and the process's end.\n\n${table}`,
  );
} finally {
  server.close();
}
