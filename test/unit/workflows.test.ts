import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import * as core from '@actions/core';
import { getOctokit } from '@actions/github';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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

  it('pins every third-party action by commit SHA, with its version in a comment', () => {
    for (const line of text.split('\n')) {
      const m = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
      if (!m || m[1]!.startsWith('$/') || m[1]!.startsWith('./')) continue;
      expect(m[1], line).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      expect(m[2], line).toMatch(/^ # v\d+(\.\d+)*$/);
    }
  });

  it('names its secrets as GitHub secrets can be named (letters, digits and _), so callers can pass or inherit them', () => {
    const wf = parse(text) as { on?: { workflow_call?: { secrets?: Record<string, unknown> } } };
    for (const name of Object.keys(wf.on?.workflow_call?.secrets ?? {})) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('interpolates no expression into a script (values reach run: and github-script through env)', () => {
    const wf = parse(text) as { jobs: Record<string, { steps?: { run?: string; with?: Record<string, unknown> }[] }> };
    for (const [name, job] of Object.entries(wf.jobs)) {
      for (const step of job.steps ?? []) {
        const script = `${step.run ?? ''}${typeof step.with?.script === 'string' ? step.with.script : ''}`;
        expect(script.includes('${{'), `job ${name}: a script with \${{ }}`).toBe(false);
      }
    }
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

describe('monitor: the incident issue (its github-script run against a local fake of the issues API)', () => {
  const wf = parse(readFileSync(path.join(dir, 'monitor.yml'), 'utf8')) as {
    jobs: Record<string, { steps: { id?: string; uses?: string; env?: Record<string, string>; with?: Record<string, string> }[] }>;
  };
  const step = wf.jobs.monitor!.steps.find((s) => s.id === 'incident')!;
  const script = step.with!.script!;

  type Issue = {
    number: number;
    title: string;
    body: string;
    state: string;
    state_reason?: string;
    labels: { name: string }[];
    created_at: string;
    user: { login: string; type: string };
    pull_request?: object;
  };
  const BOT = { login: 'github-actions[bot]', type: 'Bot' };
  // The subset of GitHub's REST API the script may call, with GitHub's answers; everything else is a 404 the test sees.
  async function fakeGitHub(seed: { issues?: Issue[]; labels?: string[]; readOnly?: boolean } = {}) {
    const state = { issues: [...(seed.issues ?? [])], labels: new Set(seed.labels ?? []), comments: [] as { issue: number; body: string }[], calls: [] as string[] };
    const server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const url = new URL(req.url!, 'http://x');
        const body = raw ? JSON.parse(raw) : {};
        const send = (code: number, data: unknown) => {
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(JSON.stringify(data));
        };
        state.calls.push(`${req.method} ${url.pathname}`);
        if (req.headers.authorization !== 'token test-token') return send(401, { message: 'Bad credentials' });
        if (seed.readOnly && req.method !== 'GET') return send(403, { message: 'Resource not accessible by integration' });
        const issueNo = /^\/repos\/acme\/shop\/issues\/(\d+)$/.exec(url.pathname)?.[1];
        const commentsOf = /^\/repos\/acme\/shop\/issues\/(\d+)\/comments$/.exec(url.pathname)?.[1];
        const labelName = /^\/repos\/acme\/shop\/labels\/(.+)$/.exec(url.pathname)?.[1];
        if (req.method === 'GET' && url.pathname === '/repos/acme/shop/issues') {
          const labels = (url.searchParams.get('labels') ?? '').split(',').filter(Boolean);
          const st = url.searchParams.get('state') ?? 'open';
          const page = Number(url.searchParams.get('page') ?? 1);
          const per = Number(url.searchParams.get('per_page') ?? 30);
          const all = state.issues.filter((i) => (st === 'all' || i.state === st) && labels.every((l) => i.labels.some((x) => x.name === l)));
          const slice = all.slice((page - 1) * per, page * per);
          if (page * per < all.length) res.setHeader('link', `<http://${req.headers.host}/repos/acme/shop/issues?labels=${labels.join(',')}&state=${st}&per_page=${per}&page=${page + 1}>; rel="next"`);
          return send(200, slice);
        }
        if (req.method === 'POST' && url.pathname === '/repos/acme/shop/issues') {
          const issue: Issue = {
            number: state.issues.length + 1,
            title: body.title,
            body: body.body,
            state: 'open',
            labels: (body.labels ?? []).map((name: string) => ({ name })),
            created_at: new Date().toISOString(),
            user: BOT,
          };
          state.issues.push(issue);
          return send(201, issue);
        }
        if (issueNo && req.method === 'PATCH') {
          const issue = state.issues.find((i) => i.number === Number(issueNo));
          if (!issue) return send(404, { message: 'Not Found' });
          Object.assign(issue, body);
          return send(200, issue);
        }
        if (commentsOf && req.method === 'POST') {
          state.comments.push({ issue: Number(commentsOf), body: body.body });
          return send(201, { id: state.comments.length, body: body.body });
        }
        if (labelName && req.method === 'GET') {
          const name = decodeURIComponent(labelName);
          return state.labels.has(name) ? send(200, { name }) : send(404, { message: 'Not Found' });
        }
        if (req.method === 'POST' && url.pathname === '/repos/acme/shop/labels') {
          if (state.labels.has(body.name)) return send(422, { message: 'Validation Failed' });
          state.labels.add(body.name);
          return send(201, { name: body.name });
        }
        send(404, { message: `no fake for ${req.method} ${url.pathname}` });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    return { state, baseUrl: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  // Run the step's script the way github-script does: an async function of (github, context, core, require), the step's env in process.env.
  // One directory for every run: @actions/core's summary keeps the first GITHUB_STEP_SUMMARY path it sees.
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'monitor-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  async function runScript(baseUrl: string, env: { OUTCOME: string; report?: string; MONITOR?: string }) {
    rmSync(path.join(tmp, 'report.md'), { force: true });
    const reportPath = path.join(tmp, 'report.md');
    if (env.report !== undefined) writeFileSync(reportPath, env.report);
    const outputs = path.join(tmp, 'outputs');
    const summary = path.join(tmp, 'summary');
    writeFileSync(outputs, '');
    writeFileSync(summary, '');
    const vars = {
      OUTCOME: env.OUTCOME,
      REPORT_PATH: env.report !== undefined ? reportPath : '',
      MONITOR: env.MONITOR ?? 'shop-production',
      LABEL: 'incident',
      RUN_URL: 'https://github.com/acme/shop/actions/runs/42',
      GITHUB_OUTPUT: outputs,
      GITHUB_STEP_SUMMARY: summary,
    };
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    try {
      const github = getOctokit('test-token', { baseUrl });
      const context = { repo: { owner: 'acme', repo: 'shop' } };
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
      await new AsyncFunction('github', 'context', 'core', 'require', script)(github, context, core, createRequire(import.meta.url));
      const incident = /^incident<<(.+)\n([\s\S]*?)\n\1$/m.exec(readFileSync(outputs, 'utf8'))?.[2] ?? '';
      return { incident, summary: readFileSync(summary, 'utf8') };
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it('passes its inputs through env (never interpolated into the script), and is pinned by commit SHA', () => {
    expect(step.uses).toMatch(/^actions\/github-script@[0-9a-f]{40}$/);
    expect(script).not.toContain('${{');
    expect(Object.keys(step.env!).sort()).toEqual(['LABEL', 'MONITOR', 'OUTCOME', 'REPORT_PATH', 'RUN_URL']);
  });

  it('opens one issue (creating the label), updates it on the next failures, closes it with a comment when the checks pass', async () => {
    const gh = await fakeGitHub();
    try {
      const first = await runScript(gh.baseUrl, { OUTCOME: 'failure', report: '| host | disk / |\n|---|---|\n| web1 | ✗ 95% |' });
      expect(first.incident).toBe('1');
      expect(gh.state.labels.has('incident')).toBe(true);
      expect(gh.state.issues).toHaveLength(1);
      const issue = gh.state.issues[0]!;
      expect(issue.title).toBe('Incident: shop-production checks failing');
      expect(issue.labels).toEqual([{ name: 'incident' }]);
      expect(issue.body).toContain('<!-- ops-actions-monitor: shop-production -->');
      expect(issue.body).toContain('| web1 | ✗ 95% |');
      expect(issue.body).toContain('- failing runs: 1');
      expect(first.summary).toContain('Incident #1 opened');
      const firstFailed = /first failed: (\S+)/.exec(issue.body)![1];

      const second = await runScript(gh.baseUrl, { OUTCOME: 'failure', report: '| host | disk / |\n|---|---|\n| web1 | ✗ 97% |' });
      expect(second.incident).toBe('1');
      expect(gh.state.issues).toHaveLength(1); // no duplicate
      expect(issue.body).toContain('✗ 97%');
      expect(issue.body).not.toContain('✗ 95%');
      expect(issue.body).toContain('- failing runs: 2');
      expect(issue.body).toContain(`- first failed: ${firstFailed}`);
      expect(second.summary).toContain('Incident #1 updated');

      const ok = await runScript(gh.baseUrl, { OUTCOME: 'success', report: 'all ok' });
      expect(ok.incident).toBe('1');
      expect(issue.state).toBe('closed');
      expect(issue.state_reason).toBe('completed');
      expect(gh.state.comments).toHaveLength(1);
      expect(gh.state.comments[0]!.body).toMatch(/^Resolved: the checks pass again .*runs\/42/);

      // Healthy with nothing open: no call that writes.
      const before = gh.state.calls.length;
      const quiet = await runScript(gh.baseUrl, { OUTCOME: 'success', report: 'all ok' });
      expect(quiet.incident).toBe('');
      expect(gh.state.calls.slice(before)).toEqual(['GET /repos/acme/shop/issues']);

      // A new outage opens a new issue; the closed one stays closed.
      await runScript(gh.baseUrl, { OUTCOME: 'failure', report: 'down again' });
      expect(gh.state.issues.map((i) => [i.number, i.state])).toEqual([
        [1, 'closed'],
        [2, 'open'],
      ]);
    } finally {
      await gh.close();
    }
  });

  it('finds an open incident among many (pagination), leaves other monitors and non-incident issues alone', async () => {
    const others: Issue[] = Array.from({ length: 250 }, (_, k) => ({
      number: k + 1,
      title: `other ${k}`,
      body: k % 2 ? '<!-- ops-actions-monitor: shop-staging -->' : 'a bug',
      state: 'open',
      labels: [{ name: k % 2 ? 'incident' : 'bug' }],
      created_at: '2026-12-01T00:00:00Z',
      user: BOT,
    }));
    const mine: Issue = {
      number: 251,
      title: 'renamed by a human',
      body: '<!-- ops-actions-monitor: shop-production -->\n- first failed: 2026-12-01T10:00:00.000Z\n- failing runs: 7\n',
      state: 'open',
      labels: [{ name: 'incident' }],
      created_at: '2026-12-01T10:00:00Z',
      user: BOT,
    };
    const pr: Issue = { ...mine, number: 252, pull_request: {} };
    // Opened by a person with the label and the marker (an issue form, a copy): never adopted.
    const human: Issue = { ...mine, number: 250, user: { login: 'mallory', type: 'User' } };
    const gh = await fakeGitHub({ issues: [...others.slice(0, 249), human, mine, pr], labels: ['incident', 'bug'] });
    try {
      const r = await runScript(gh.baseUrl, { OUTCOME: 'failure', report: 'still down' });
      expect(r.incident).toBe('251');
      expect(gh.state.issues).toHaveLength(252); // nothing created
      expect(mine.body).toContain('- failing runs: 8');
      expect(mine.body).toContain('- first failed: 2026-12-01T10:00:00.000Z');
      expect(mine.title).toBe('renamed by a human');
      expect(human.body).not.toContain('still down');
      expect(others.filter((i) => i.body.includes('shop-staging')).every((i) => i.state === 'open' && !i.body.includes('still down'))).toBe(true);
      expect(gh.state.calls.filter((c) => c.startsWith('GET /repos/acme/shop/issues')).length).toBeGreaterThan(1);
      expect(gh.state.calls).not.toContain('POST /repos/acme/shop/labels');
    } finally {
      await gh.close();
    }
  });

  it('a token that may not write issues fails the step saying which permission to grant', async () => {
    const gh = await fakeGitHub({ labels: ['incident'], readOnly: true });
    const failed = process.exitCode;
    try {
      const r = await runScript(gh.baseUrl, { OUTCOME: 'failure', report: 'down' });
      expect(r.incident).toBe('');
      expect(process.exitCode).toBe(1);
    } finally {
      process.exitCode = failed;
      await gh.close();
    }
  });

  it('a failure without a report (the check step failed at its inputs) still opens the issue, saying so; a huge report is cut under GitHub’s body limit', async () => {
    const gh = await fakeGitHub({ labels: ['incident'] });
    try {
      await runScript(gh.baseUrl, { OUTCOME: 'failure' });
      expect(gh.state.issues[0]!.body).toContain('failed before it produced a report');
      await runScript(gh.baseUrl, { OUTCOME: 'failure', report: 'x'.repeat(200_000) });
      expect(gh.state.issues).toHaveLength(1);
      expect(gh.state.issues[0]!.body.length).toBeLessThan(65_536);
      expect(gh.state.issues[0]!.body).toContain('cut here');
    } finally {
      await gh.close();
    }
  });
});
