import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { ROOT } from '../harness.js';

const dir = path.join(ROOT, '.github', 'workflows');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

describe.each(files)('.github/workflows/%s', (file) => {
  const text = readFileSync(path.join(dir, file), 'utf8');

  it("passes GitHub's workflow parser", () => {
    const r = parseWorkflow({ name: file, content: text }, new NoOperationTraceWriter());
    expect(r.context.errors.getErrors().map((e) => e.message)).toEqual([]);
  });

  it("uses this repository's actions with inputs they declare, giving every required one", () => {
    const wf = parse(text) as { jobs: Record<string, { steps?: { uses?: string; with?: Record<string, unknown> }[] }> };
    for (const job of Object.values(wf.jobs)) {
      for (const step of job.steps ?? []) {
        const m = /^\$\/actions\/([a-z-]+)$/.exec(step.uses ?? '');
        if (!m) continue;
        const meta = parse(readFileSync(path.join(ROOT, 'actions', m[1]!, 'action.yml'), 'utf8')) as { inputs: Record<string, { required?: boolean }> };
        for (const k of Object.keys(step.with ?? {})) expect(Object.keys(meta.inputs), `${step.uses} has no input '${k}'`).toContain(k);
        for (const [k, spec] of Object.entries(meta.inputs)) if (spec.required) expect(Object.keys(step.with ?? {}), `${step.uses} needs '${k}'`).toContain(k);
      }
    }
  });
});
