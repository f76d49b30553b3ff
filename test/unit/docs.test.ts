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
