/**
 * The module layers: a module may import from its own layer or a lower one, never from a
 * higher one (so the SSH core never reaches into inputs, fleet or flows, and nothing in
 * src/ imports the actions).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness.js';

const LAYERS: string[][] = [
  ['text.ts', 'log.ts', 'shell'],
  ['commands'],
  ['host'],
  ['fleet'],
  ['inputs'],
  ['health'],
  ['deploy', 'build', 'report', 'schemas', 'backup', 'storage', 'maintenance'],
  ['flows'],
  ['action'],
];

function layerOf(rel: string): number {
  const top = rel.split('/')[0]!;
  const i = LAYERS.findIndex((l) => l.includes(top));
  if (i < 0) throw new Error(`src/${rel} is in no layer: add its directory to LAYERS`);
  return i;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('module layers', () => {
  it('no module in src/ imports a module of a higher layer', () => {
    const src = path.join(ROOT, 'src');
    const bad: string[] = [];
    for (const f of files(src)) {
      const rel = path.relative(src, f);
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)) {
        const target = path.relative(src, path.resolve(path.dirname(f), m[1]!)).replace(/\.js$/, '.ts');
        if (target.startsWith('..')) {
          bad.push(`${rel} imports ${m[1]} (outside src/)`);
          continue;
        }
        if (layerOf(target) > layerOf(rel)) bad.push(`${rel} (layer ${layerOf(rel)}) imports ${target} (layer ${layerOf(target)})`);
      }
    }
    expect(bad).toEqual([]);
  });
});
