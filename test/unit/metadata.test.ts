import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../harness.js';

const ACTIONS = ['build-push', 'deploy', 'migrate', 'healthcheck', 'rollback', 'backup', 'restore', 'security-update', 'run'];

describe('action metadata', () => {
  it('has exactly the nine actions', () => {
    expect(readdirSync(path.join(ROOT, 'actions')).sort()).toEqual([...ACTIONS].sort());
  });

  describe.each(ACTIONS)('%s', (name) => {
    const meta = parse(readFileSync(path.join(ROOT, 'actions', name, 'action.yml'), 'utf8'));

    it('runs on node24 from the shared dist build', () => {
      expect(meta.runs.using).toBe('node24');
      expect(meta.runs.main).toBe(`../../dist/${name}/index.js`);
      expect(existsSync(path.join(ROOT, 'actions', name, meta.runs.main))).toBe(true);
      if (meta.runs.post) expect(meta.runs.post).toBe(meta.runs.main);
    });

    it('declares exactly the inputs its schema parses, with the same defaults', async () => {
      const { schema } = await import(`../../src/schemas/${name}.ts`);
      expect(Object.keys(meta.inputs).sort()).toEqual(Object.keys(schema).sort());
      for (const [input, spec] of Object.entries(meta.inputs as Record<string, { required?: boolean; default?: string; description?: string }>)) {
        const field = schema[input];
        expect(spec.description, `${input} has a description`).toBeTruthy();
        expect(Boolean(spec.required), `${input}: required matches`).toBe(field.required);
        // Expressions (e.g. ${{ github.token }}) are filled in by the runner.
        if (spec.default !== undefined && !String(spec.default).startsWith('${{')) {
          // The runner passes the default as the input: it must parse to the schema's own default.
          expect(field.parse(String(spec.default)), `${input}: default parses to the schema default`).toEqual(field.fallback());
        }
      }
    });
  });
});
