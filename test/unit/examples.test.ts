/**
 * The caller workflows in examples/: each passes GitHub's parser, and every call of this
 * project's actions and reusable workflows names inputs and secrets they declare, gives the
 * required ones, and grants the permissions they need.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../harness.js';

const dir = path.join(ROOT, 'examples');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

type Step = { uses?: string; with?: Record<string, unknown> };
type Job = { uses?: string; with?: Record<string, unknown>; secrets?: Record<string, unknown> | 'inherit'; steps?: Step[]; permissions?: Record<string, string> };
type Workflow = { permissions?: Record<string, string>; jobs: Record<string, Job> };
type Spec = { required?: boolean | string };

const required = (s: Spec) => s.required === true || s.required === 'true';
const ACTION = /^[\w.-]+\/ops-actions\/actions\/([a-z-]+)@v\d+$/;
const WORKFLOW = /^[\w.-]+\/ops-actions\/\.github\/workflows\/([a-z-]+\.yml)@v\d+$/;
// What each reusable workflow's jobs need from the caller's token.
const NEEDS: Record<string, Record<string, string>> = {
  'deploy-pipeline.yml': { contents: 'read', packages: 'write', deployments: 'write' },
  'monitor.yml': { contents: 'read', issues: 'write' },
  'backup.yml': { contents: 'read' },
  'dr-drill.yml': { contents: 'read' },
  'security-update.yml': { contents: 'read' },
};

it('there are examples for the stacks and the scheduled runs', () => {
  expect(files.sort()).toEqual(
    expect.arrayContaining(['backups.yml', 'django-celery-deploy.yml', 'dr-drill.yml', 'fastapi-postgres-deploy.yml', 'manual.yml', 'monitor.yml', 'php-cms-mysql-deploy.yml', 'security-updates.yml']),
  );
});

describe.each(files)('examples/%s', (file) => {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const wf = parse(text) as Workflow;

  it("passes GitHub's workflow parser", () => {
    const r = parseWorkflow({ name: file, content: text }, new NoOperationTraceWriter());
    expect(r.context.errors.getErrors().map((e) => e.message)).toEqual([]);
  });

  it("calls this project's actions with inputs they declare, giving the required ones", () => {
    for (const job of Object.values(wf.jobs)) {
      for (const step of job.steps ?? []) {
        const m = ACTION.exec(step.uses ?? '');
        if (!m) continue;
        const yml = path.join(ROOT, 'actions', m[1]!, 'action.yml');
        expect(existsSync(yml), `${step.uses}: no such action`).toBe(true);
        const meta = parse(readFileSync(yml, 'utf8')) as { inputs: Record<string, Spec> };
        for (const k of Object.keys(step.with ?? {})) expect(Object.keys(meta.inputs), `${step.uses} has no input '${k}'`).toContain(k);
        for (const [k, spec] of Object.entries(meta.inputs)) if (required(spec)) expect(Object.keys(step.with ?? {}), `${step.uses} needs '${k}'`).toContain(k);
      }
    }
  });

  it("calls this project's reusable workflows with their inputs and secrets, and grants the permissions they need", () => {
    for (const [name, job] of Object.entries(wf.jobs)) {
      const m = WORKFLOW.exec(job.uses ?? '');
      if (!job.uses) continue;
      expect(m, `job ${name}: ${job.uses} is not a workflow of this project`).not.toBeNull();
      const yml = path.join(ROOT, '.github', 'workflows', m![1]!);
      expect(existsSync(yml), `${job.uses}: no such workflow`).toBe(true);
      const called = parse(readFileSync(yml, 'utf8')) as { on: { workflow_call: { inputs?: Record<string, Spec>; secrets?: Record<string, Spec> } } };
      const { inputs = {}, secrets = {} } = called.on.workflow_call;
      for (const k of Object.keys(job.with ?? {})) expect(Object.keys(inputs), `${m![1]} has no input '${k}'`).toContain(k);
      for (const [k, spec] of Object.entries(inputs)) if (required(spec)) expect(Object.keys(job.with ?? {}), `${m![1]} needs input '${k}'`).toContain(k);
      if (job.secrets !== 'inherit') {
        for (const k of Object.keys(job.secrets ?? {})) expect(Object.keys(secrets), `${m![1]} has no secret '${k}'`).toContain(k);
        for (const [k, spec] of Object.entries(secrets)) if (required(spec)) expect(Object.keys(job.secrets ?? {}), `${m![1]} needs secret '${k}'`).toContain(k);
      }
      const granted = { ...wf.permissions, ...job.permissions };
      for (const [scope, level] of Object.entries(NEEDS[m![1]!] ?? {})) {
        expect(granted[scope] === level || granted[scope] === 'write', `${file}: ${m![1]} needs permissions ${scope}: ${level}`).toBe(true);
      }
    }
  });

  it('pins third-party actions by commit SHA, with the version in a comment', () => {
    for (const line of text.split('\n')) {
      const u = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
      if (!u || ACTION.test(u[1]!) || WORKFLOW.test(u[1]!)) continue;
      expect(u[1], line).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      expect(u[2], line).toMatch(/^ # v\d+(\.\d+)*$/);
    }
  });
});
