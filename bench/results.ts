/**
 * Where a benchmark's figures go: `bench/results/<name>.json` (machine, date, every run) and
 * its table in docs/performance.md, between `<!-- bench:<name> -->` markers (the rest of the
 * page is left as it is).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : Number.NaN;
};

export function writeResults(name: string, data: unknown, markdown: string): void {
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString();
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ name, date, machine: machine(), data }, null, 2) + '\n');
  const page = path.join(ROOT, 'docs', 'performance.md');
  let text = existsSync(page)
    ? readFileSync(page, 'utf8')
    : '# Performance\n\nFigures measured by `npm run bench` (each benchmark: `npm run bench -- <name>`), with the baseline measured in the same run. Nothing here is asserted by a test: a regression shows as a ratio.\n';
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${markdown.trim()}\n\n_${machine()}; ${date.slice(0, 16).replace('T', ' ')} UTC._\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(page, text);
}

/** Bytes per package (node_modules/<name>, or this project's own code) in esbuild metafile outputs, largest first. */
export function bytesByPackage(outputs: { inputs: Record<string, { bytesInOutput: number }> }[]): { name: string; bytes: number }[] {
  const by = new Map<string, number>();
  for (const out of outputs)
    for (const [file, v] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
      const name = m ? m[1]! : file.startsWith('src/') || file.startsWith('actions/') ? 'ops-actions (src, actions)' : 'other';
      by.set(name, (by.get(name) ?? 0) + v.bytesInOutput);
    }
  return [...by].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}
