import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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

describe('dr-drill: the drill-day guard', () => {
  const wf = parse(readFileSync(path.join(dir, 'dr-drill.yml'), 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> };
  const script = wf.jobs.when!.steps[0]!.run!;
  // Run the guard's script with bash, `date` answering for the given UTC day.
  function guard(event: string, cron: string, day: { d: string; w: string }, daysAnd = 'true') {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'guard-'));
    writeFileSync(path.join(tmp, 'date'), `#!/bin/sh\ncase "$*" in *%d*) echo ${day.d};; *%w*) echo ${day.w};; *) echo 2026-10-12;; esac\n`, { mode: 0o755 });
    const out = path.join(tmp, 'out');
    writeFileSync(out, '');
    execFileSync('bash', ['-c', script], {
      env: { PATH: `${tmp}:${process.env.PATH}`, EVENT: event, CRON: cron, DAYS_AND: daysAnd, GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: path.join(tmp, 'summary') },
    });
    const run = readFileSync(out, 'utf8').trim();
    rmSync(tmp, { recursive: true, force: true });
    return run;
  }
  const q = '0 2 1-7 1,4,7,10 1';
  it("runs on days matching both fields, skips a day matching one (cron's OR), always runs when dispatched", () => {
    expect(guard('schedule', q, { d: '05', w: '1' })).toBe('run=true'); // the first Monday
    expect(guard('schedule', q, { d: '12', w: '1' })).toBe('run=false'); // a later Monday
    expect(guard('schedule', q, { d: '03', w: '6' })).toBe('run=false'); // day 3, a Saturday
    expect(guard('workflow_dispatch', '', { d: '12', w: '1' })).toBe('run=true');
    expect(guard('schedule', '0 3 1 * *', { d: '01', w: '4' })).toBe('run=true'); // one day field: cron decides
    expect(guard('schedule', '0 2 */2 * 0,7', { d: '09', w: '0' })).toBe('run=true'); // steps; Sunday as 7 or 0
    expect(guard('schedule', '0 2 */2 * 0,7', { d: '10', w: '0' })).toBe('run=false');
    expect(guard('schedule', q, { d: '12', w: '1' }, 'false')).toBe('run=true');
    expect(guard('schedule', '0 2 1-7 * MON', { d: '12', w: '1' })).toBe('run=true'); // names: not judged
  });
});
