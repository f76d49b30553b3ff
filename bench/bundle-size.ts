/**
 * What every job downloads and loads: each committed bundle's size (`index.js`, loaded at
 * start, and its chunks, loaded only on the paths that use them), and which packages
 * dominate each part (esbuild's metafile of the same entry point with code splitting at the
 * same dynamic imports). Reports; asserts nothing. Run: npm run bench -- bundle-size
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { ROOT } from '../test/harness.js';
import { bytesByPackage, writeResults } from './results.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-bundle-size-'));
const kb = (b: number) => `${Math.round(b / 1024)} KB`;

const top = (xs: { name: string; bytes: number }[]) =>
  xs
    .slice(0, 3)
    .map((x) => `${x.name} ${kb(x.bytes)}`)
    .join(', ') || '—';

try {
  const actions = readdirSync(path.join(ROOT, 'dist')).filter((d) => existsSync(path.join(ROOT, 'dist', d, 'index.js')));
  const rows: { action: string; main: number; chunks: number; startTop: string; lazyTop: string }[] = [];
  for (const a of actions) {
    const dir = path.join(ROOT, 'dist', a);
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
    const main = statSync(path.join(dir, 'index.js')).size;
    const chunks = files.filter((f) => f !== 'index.js').reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
    const r = await build({
      entryPoints: [path.join(ROOT, 'actions', a, 'index.ts')],
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      external: ['*.node'],
      outdir: path.join(tmp, a),
    });
    const outputs = r.metafile!.outputs;
    // Split at dynamic imports, each imported module is an entry point of its own: the
    // action's entry and what it imports statically (transitively) load at start.
    const entryKey = Object.keys(outputs).find((k) => outputs[k]!.entryPoint?.endsWith(`actions/${a}/index.ts`))!;
    const atStartKeys = new Set<string>();
    const visit = (k: string) => {
      if (atStartKeys.has(k) || !outputs[k]) return;
      atStartKeys.add(k);
      for (const i of outputs[k]!.imports) if (i.kind === 'import-statement') visit(i.path);
    };
    visit(entryKey);
    const atStart = Object.keys(outputs)
      .filter((k) => atStartKeys.has(k))
      .map((k) => outputs[k]!);
    const lazy = Object.keys(outputs)
      .filter((k) => !atStartKeys.has(k))
      .map((k) => outputs[k]!);
    rows.push({ action: a, main, chunks, startTop: top(bytesByPackage(atStart)), lazyTop: top(bytesByPackage(lazy)) });
  }
  const total = rows.reduce((s, r) => s + r.main + r.chunks, 0);
  const table = [
    '| action | `index.js` (loaded at start) | chunks (loaded when used) | largest parts at start | largest parts loaded when used |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.action} | ${kb(r.main)} | ${kb(r.chunks)} | ${r.startTop} | ${r.lazyTop} |`),
  ].join('\n');
  console.log(table);
  console.log(`dist/ in all: ${kb(total)}`);
  writeResults(
    'bundle-size',
    { rows, totalBytes: total },
    `## bundle-size\n\nEach committed bundle: \`index.js\`, which every run of the action loads, and the chunks next to it, loaded only on the paths that need them (the GitHub client for deployments, the AWS SDK for S3 storage, age for encryption). The largest parts are esbuild's attribution of the same entry point split at the same dynamic imports. dist/ holds ${kb(total)} of JavaScript in all (each action's folder is downloaded by the jobs that use it).\n\n${table}`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
