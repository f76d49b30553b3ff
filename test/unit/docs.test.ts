import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import path from 'node:path';
import { ROOT, actions, pageFor, pagePath } from '../../scripts/action-docs.js';

describe.each(actions())('docs/%s.md', (action) => {
  it("is what 'npm run docs' generates from its action.yml (run it and commit the page when this fails)", () => {
    const p = pagePath(action);
    expect(existsSync(p), `${p} is missing: run 'npm run docs'`).toBe(true);
    const current = readFileSync(p, 'utf8');
    expect(pageFor(action, current)).toBe(current);
  });

  it('documents every input and output of the action', () => {
    const meta = parse(readFileSync(path.join(ROOT, 'actions', action, 'action.yml'), 'utf8')) as { inputs?: object; outputs?: object };
    const page = readFileSync(pagePath(action), 'utf8');
    for (const k of [...Object.keys(meta.inputs ?? {}), ...Object.keys(meta.outputs ?? {})]) expect(page).toContain(`| \`${k}\` |`);
  });
});

describe('links', () => {
  it('every relative link in the README and docs/ points at a file that exists (and an anchor that exists)', async () => {
    const { readdirSync } = await import('node:fs');
    const pages = [
      'README.md',
      ...readdirSync(path.join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => path.join('docs', f)),
    ];
    const slug = (h: string) =>
      h
        .trim()
        .toLowerCase()
        .replace(/[`*_]/g, '')
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-');
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [file, anchor] = target.split('#');
        const resolved = file ? path.join(ROOT, path.dirname(page), file) : path.join(ROOT, page);
        if (!existsSync(resolved)) {
          broken.push(`${page}: ${target}`);
          continue;
        }
        if (anchor && resolved.endsWith('.md')) {
          const heads = [...readFileSync(resolved, 'utf8').matchAll(/^#+ (.+)$/gm)].map((h) => slug(h[1]!));
          if (!heads.includes(anchor)) broken.push(`${page}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
