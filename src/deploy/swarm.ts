/**
 * The swarm strategy: a release is its stack files, a 0600 `stack.env` (the env file and
 * the image pinned to its digest) and release.json, on a Swarm manager. Activating it is
 * `docker stack deploy`; Swarm rolls the tasks with the stack's `update_config` and health
 * checks, and the run waits until every service of the stack converged or its update
 * failed. Which updates are this run's is told by comparing each service with a snapshot
 * taken before the deploy (its spec version and its update's start), never by clocks. A
 * deploy that fails is returned with `docker service rollback` (Swarm's previous spec) when
 * that is exactly the previous release (the same services, each changed one updated by this
 * run); otherwise, and for any other return to a recorded release (the rollback action, the
 * watchdog), that release's stack is deployed again, pinned digests and all.
 */
import path from 'node:path';
import {
  mkdirCommand,
  pullImageCommand,
  repoDigestsCommand,
  serviceLogsCommand,
  serviceRollbackCommand,
  stackDeployCommand,
  stackPsCommand,
  stackStatusCommand,
  switchCommand,
} from '../commands/index.js';
import type { ReleaseManifest } from '../host/state.js';
import { formatDuration } from '../text.js';
import type { ActivationStep, ComposeSource } from './compose.js';
import type { HostCtx } from './context.js';

export interface SwarmTask {
  name: string;
  node: string;
  desired: string;
  state: string;
  image: string;
  error: string;
}

export interface SwarmService {
  name: string;
  id: string;
  mode: 'replicated' | 'global' | 'job';
  desired: number;
  running: number;
  /** Jobs: tasks completed (replicas show `0/1 (1/1 completed)`). */
  completed?: number;
  /** The service's spec version (changes with every update of the service). */
  version: number;
  /** The service's last update, as Swarm reports it (none for a service never updated). */
  update?: { state: string; startedAt?: string; message: string };
  image: string;
  tasks: SwarmTask[];
}

export interface SwarmStatus {
  /** The manager's clock (epoch seconds) when it was read; informational. */
  now: number;
  services: SwarmService[];
}

const num = (s: string | undefined) => {
  const n = Number.parseInt((s ?? '').trim(), 10);
  return Number.isFinite(n) ? n : 0;
};

export function parseStackStatus(stdout: string): SwarmStatus {
  const status: SwarmStatus = { now: 0, services: [] };
  for (const line of stdout.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'now') status.now = num(f[1]);
    else if (f[0] === 'svc' && f.length >= 10) {
      const [, name, id, mode, replicas = '', version, state, started, image, ...msg] = f;
      // `2/3`, `3/3 (max 1 per node)`, or for jobs `0/1 (1/1 completed)`.
      const r = /^(\d+)\/(\d+)(?:\s*\((\d+)\/(\d+) completed\))?/.exec(replicas.trim());
      const job = mode === 'job' || (r?.[3] !== undefined && r[4] !== undefined);
      status.services.push({
        name: name!,
        id: id!,
        mode: job ? 'job' : mode === 'global' ? 'global' : 'replicated',
        desired: job ? num(r?.[4]) : num(r?.[2]),
        running: num(r?.[1]),
        ...(job ? { completed: num(r?.[3]) } : {}),
        version: num(version),
        ...(state ? { update: { state, ...(started ? { startedAt: started } : {}), message: msg.join('\t').trim() } } : {}),
        image: image!,
        tasks: [],
      });
    } else if (f[0] === 'task' && f.length >= 8) {
      const svc = status.services.find((s) => s.name === f[1]);
      svc?.tasks.push({ name: f[2]!, node: f[3]!, desired: f[4]!, state: f[5]!, image: f[6]!, error: f.slice(7).join('\t').trim() });
    }
  }
  return status;
}

export type Convergence = { kind: 'converged' } | { kind: 'waiting'; why: string } | { kind: 'failed'; why: string; rolledBack: boolean };

/** Each service as it was before a change: its spec version and its update's start. */
export type StackSnapshot = Map<string, { version: number; startedAt?: string }>;

export const snapshot = (s: SwarmStatus): StackSnapshot => new Map(s.services.map((x) => [x.name, { version: x.version, startedAt: x.update?.startedAt }]));

/** Whether Swarm started an update of the service after the snapshot (a new update status). */
const newUpdate = (s: SwarmService, before: StackSnapshot) => !!s.update?.startedAt && s.update.startedAt !== before.get(s.name)?.startedAt;

const taskTrouble = (s: SwarmService) =>
  s.tasks
    .filter((t) => !/^running/i.test(t.state) || t.error)
    .map((t) => `${t.name} on ${t.node}: ${t.state}${t.error ? ` (${t.error})` : ''}`)
    .slice(0, 5);

function describe(s: SwarmService): string {
  const trouble = taskTrouble(s);
  const count = s.mode === 'job' ? `${s.completed ?? 0}/${s.desired} completed` : `${s.running}/${s.desired} running`;
  return `${s.name}: ${count}${s.update ? `, update ${s.update.state}${s.update.message ? ` (${s.update.message})` : ''}` : ''}${trouble.length ? `; ${trouble.join('; ')}` : ''}`;
}

/** Every replica runs, and runs the service's current spec (its image), or a job completed. */
function settled(s: SwarmService): boolean {
  if (s.mode === 'job') return (s.completed ?? 0) >= s.desired;
  const current = s.tasks.filter((t) => /^running/i.test(t.state) && t.image === s.image).length;
  return s.running >= s.desired && (s.tasks.length === 0 || current >= s.desired);
}

/**
 * Where the stack is, against the snapshot taken before the run's change (`before`): a
 * service whose update started after it must have completed that update; an update Swarm
 * paused or rolled back is a failure (`rolledBack`: Swarm itself put back every service this
 * run updated). Every service must have every replica running its current spec.
 * `rollingBack`: the run asked these services to roll back (snapshot before that): their
 * rollback must have started and completed.
 */
export function judgeStack(status: SwarmStatus, before: StackSnapshot, o: { rollingBack?: { before: StackSnapshot; services: string[] } } = {}): Convergence {
  if (!status.services.length) return { kind: 'failed', why: 'the stack has no services', rolledBack: false };
  const failed: SwarmService[] = [];
  const waiting: SwarmService[] = [];
  let swarmRolledBack = 0;
  let updated = 0;
  for (const s of status.services) {
    const base = o.rollingBack?.before ?? before;
    const mine = newUpdate(s, base);
    const state = mine ? s.update!.state : 'none';
    if (mine) updated++;
    if (o.rollingBack?.services.includes(s.name) && !mine) {
      waiting.push(s); // the rollback has not started yet
      continue;
    }
    if (state === 'paused' || state === 'rollback_paused') failed.push(s);
    else if (state === 'rollback_completed' && !o.rollingBack) {
      failed.push(s);
      swarmRolledBack++;
    } else if (state === 'updating' || state === 'rollback_started') waiting.push(s);
    else if (!settled(s)) waiting.push(s);
  }
  if (failed.length) {
    return {
      kind: 'failed',
      why: `Swarm ${swarmRolledBack === failed.length ? 'rolled back' : 'stopped'} the update: ${failed.map(describe).join('; ')}`,
      rolledBack: !o.rollingBack && swarmRolledBack === failed.length && swarmRolledBack === updated,
    };
  }
  if (waiting.length) return { kind: 'waiting', why: waiting.map(describe).join('; ') };
  return { kind: 'converged' };
}

/** The KEY=VALUE lines of a release's stack.env: the env file (dotenv syntax, quotes removed), then the pinned image and the release's identity. */
export function stackEnv(userEnv: string, m: ReleaseManifest, image: string | undefined): string {
  const vars = stackVars(userEnv);
  const ours: Record<string, string | undefined> = { IMAGE: image, OPS_APP: m.app, OPS_ENVIRONMENT: m.environment, OPS_VERSION: m.version, OPS_RELEASE: m.id };
  for (const [k, v] of Object.entries(ours)) if (v !== undefined) vars.set(k, v);
  return [...vars].map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/**
 * Names that would change the docker CLI that deploys the stack, or the shell that exports
 * them (read-only in bash; `ops_line`, the line being read), rather than the stack: refused.
 */
const CLI_NAMES = /^(PATH|HOME|IFS|ENV|BASH_ENV|CDPATH|SHELL|PWD|OLDPWD|UID|EUID|PPID|OPTIND|SHELLOPTS|BASHOPTS|TMPDIR|ops_line)$|^(DOCKER_|LD_|BASH_FUNC)/;

/** The env file's variables (dotenv syntax, quotes removed), each checked to be carried line by line. */
export function stackVars(userEnv: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const [i, raw] of userEnv.replace(/\r\n/g, '\n').split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const kv = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!kv) throw new Error(`env-file line ${i + 1} is not KEY=VALUE (the stack's variables are read line by line)`);
    let value = kv[2]!;
    const q = /^(['"])(.*)\1$/.exec(value);
    if (q) value = q[1] === '"' ? q[2]!.replace(/\\(["\\$])/g, '$1').replace(/\\n/g, '\n') : q[2]!;
    else if (/^['"]/.test(value)) throw new Error(`env-file line ${i + 1}: a quoted value must end on its line (multi-line values cannot be given to a stack)`);
    else value = value.replace(/\s+#.*$/, '');
    if (value.includes('\n')) throw new Error(`env-file line ${i + 1}: ${kv[1]} holds a newline, which a stack's variables cannot carry`);
    if (CLI_NAMES.test(kv[1]!))
      throw new Error(`env-file line ${i + 1}: ${kv[1]} would change the docker CLI that deploys the stack (or the shell around it), not the stack: rename it in the env file and the stack file`);
    vars.set(kv[1]!, value);
  }
  return vars;
}

/** An image's repository in full (`docker.io/library/` spelled out), without tag or digest. */
export function repositoryOf(ref: string): string {
  let repo = ref.split('@')[0]!.replace(/:[^/:]+$/, '');
  const first = repo.split('/')[0]!;
  const hasRegistry = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) repo = `docker.io/${repo.includes('/') ? repo : `library/${repo}`}`;
  return repo.replace(/^index\.docker\.io\//, 'docker.io/');
}

/** The repository digest of `image` among `docker image inspect`'s RepoDigests lines (the same repository, exactly). */
export function pickRepoDigest(image: string, lines: string[]): string | undefined {
  const repo = repositoryOf(image);
  return lines.map((l) => l.trim()).find((l) => l.includes('@') && repositoryOf(l) === repo);
}

/**
 * Stage a swarm release on the manager: its files, then (with an image) the image pulled
 * there to learn its digest, stack.env (0600) with IMAGE pinned to `repo@digest`, and
 * release.json last.
 */
export async function stageSwarm(h: HostCtx, m: ReleaseManifest, src: ComposeSource): Promise<ReleaseManifest> {
  const dir = h.layout.release(m.id);
  await h.session.run(mkdirCommand(dir), { step: 'stage' });
  for (const f of src.files) await h.session.writeFile(path.posix.join(dir, f.name), f.content, 0o644);
  let pinned: string | undefined;
  let digest: string | undefined;
  if (m.image) {
    const given = /@(sha256:[0-9a-f]{64})$/.exec(m.image)?.[1];
    await h.session.run(pullImageCommand(m.image), { step: 'pull', stream: true });
    const r = await h.session.exec(repoDigestsCommand(m.image), { step: 'pull' });
    const ref = pickRepoDigest(m.image, r.stdout.split('\n').filter(Boolean));
    digest = given ?? ref?.split('@')[1];
    if (!digest)
      throw new Error(`host ${h.target.name}: ${m.image} has no registry digest after 'docker pull' (a local image cannot be deployed to a swarm: push it to a registry the nodes can pull from)`);
    pinned = given ? m.image : `${ref!.split('@')[0]}@${digest}`;
  }
  await h.session.writeFile(path.posix.join(dir, 'stack.env'), stackEnv(src.env, m, pinned), 0o600);
  const full = { ...m, ...(digest ? { image_digest: digest } : {}) };
  await h.session.replaceFile(path.posix.join(dir, 'release.json'), JSON.stringify(full, null, 2) + '\n', 0o644);
  return full;
}

/** What makes a swarm release serve: `docker stack deploy` (the run then waits for convergence), then `current` pointed at it. */
export function swarmActivation(h: HostCtx, m: ReleaseManifest): ActivationStep[] {
  return [
    { step: 'stack deploy', command: stackDeployCommand(h.layout.release(m.id), m.project!, m.compose_files ?? []), stream: true },
    { step: 'switch', command: switchCommand(h.layout.appDir, m.id) },
  ];
}

export async function readStack(h: HostCtx, stack: string): Promise<SwarmStatus> {
  const r = await h.session.exec(stackStatusCommand(stack), { step: 'swarm status' });
  if (r.code !== 0) throw new Error(`host ${h.target.name}: reading the stack's services failed: ${(r.stderr || r.stdout).trim().slice(-500)}`);
  return parseStackStatus(r.stdout);
}

/** Each host's stack as it was before this run's last `stack deploy` there (what its updates are told apart by). */
const beforeDeploy = new WeakMap<HostCtx, SwarmStatus>();

/** The last stack status each host's wait saw (for the report). */
export const lastStatus = new WeakMap<HostCtx, SwarmStatus>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Poll the stack (every 2 s) until it converged twice in a row, an update failed, or the
 * timeout passed; progress goes to the log when it changes. A few failed reads in a row
 * (a leader election) are waited out.
 */
export async function waitForStack(
  h: HostCtx,
  m: ReleaseManifest,
  before: StackSnapshot,
  o: { rollingBack?: { before: StackSnapshot; services: string[] }; intervalMs?: number } = {},
): Promise<SwarmStatus> {
  const timeoutMs = (m.swarm?.converge_timeout_s ?? 600) * 1000;
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  let said = '';
  let readErrors = 0;
  for (;;) {
    let status: SwarmStatus;
    try {
      status = await readStack(h, m.project!);
      readErrors = 0;
    } catch (e) {
      if (++readErrors >= 5 || Date.now() > deadline) throw e;
      await sleep(o.intervalMs ?? 2000);
      continue;
    }
    lastStatus.set(h, status);
    const v = judgeStack(status, before, o);
    if (v.kind === 'failed') throw new Error(`host ${h.target.name}: stack ${m.project} did not converge on ${m.id}: ${v.why}`);
    if (v.kind === 'converged' && ++streak >= 2) return status;
    if (v.kind === 'waiting') {
      streak = 0;
      if (v.why !== said) h.logger.info(`host ${h.target.name}: waiting for the stack: ${v.why}`);
      said = v.why;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `host ${h.target.name}: stack ${m.project} did not converge on ${m.id} within ${formatDuration(timeoutMs)} (converge-timeout): ${v.kind === 'waiting' ? v.why : 'still settling'}`,
      );
    }
    await sleep(o.intervalMs ?? 2000);
  }
}

/** Deploy the release's stack and wait for it to converge; then point `current` at it. */
export async function activateSwarm(h: HostCtx, m: ReleaseManifest): Promise<void> {
  const [deployStep, switchStep] = swarmActivation(h, m);
  const before = await readStack(h, m.project!);
  beforeDeploy.set(h, before);
  await h.session.run(deployStep!.command, { step: deployStep!.step, stream: true });
  await waitForStack(h, m, snapshot(before));
  await h.session.run(switchStep!.command, { step: switchStep!.step });
}

/**
 * Return a host whose deploy of `from` failed to `to`. When the stack has the services it
 * had before the deploy and every service that changed is one whose update this run
 * started, `docker service rollback` of those (the ones Swarm did not roll back itself) is
 * exactly `to`: the run starts it, waits for it, and points `current` at `to`. A stack that
 * did not change at all (the stack deploy failed) is left as it is. Otherwise
 * (services added or removed, a change Swarm applied without an update, no record of the
 * deploy), `to`'s stack is deployed again.
 */
export async function rollbackSwarm(h: HostCtx, from: ReleaseManifest, to: ReleaseManifest): Promise<'unchanged' | 'swarm' | 'service-rollback' | 'stack-deploy'> {
  const base = beforeDeploy.get(h);
  if (base) {
    const now = await readStack(h, from.project!);
    const was = snapshot(base);
    const sameServices = now.services.length === was.size && now.services.every((s) => was.has(s.name));
    const changed = now.services.filter((s) => s.version !== was.get(s.name)?.version);
    // `docker stack deploy` itself failed (or changed nothing): the stack still runs `to`.
    if (sameServices && !changed.length) {
      await h.session.run(switchCommand(h.layout.appDir, to.id), { step: 'switch' });
      return 'unchanged';
    }
    const updated = changed.filter((s) => newUpdate(s, was));
    if (sameServices && updated.length === changed.length) {
      const toRoll = updated.filter((s) => !/^rollback_/.test(s.update!.state)).map((s) => s.name);
      const r = toRoll.length ? await h.session.exec(serviceRollbackCommand(toRoll), { step: 'service rollback' }) : { code: 0 };
      if (r.code === 0) {
        if (toRoll.length) h.logger.info(`host ${h.target.name}: docker service rollback ${toRoll.join(' ')}`);
        await waitForStack(h, to, was, { rollingBack: { before: snapshot(now), services: toRoll } });
        await h.session.run(switchCommand(h.layout.appDir, to.id), { step: 'switch' });
        return toRoll.length ? 'service-rollback' : 'swarm';
      }
      h.logger.warning(`host ${h.target.name}: docker service rollback failed; deploying ${to.id}'s stack again instead`);
    } else {
      h.logger.info(`host ${h.target.name}: the stack's services changed beyond what docker service rollback returns; deploying ${to.id}'s stack again`);
    }
  }
  await activateSwarm(h, to);
  return 'stack-deploy';
}

/** What an operator looks at when the stack fails: every task (failed ones too) and the services' last log lines. */
export async function swarmDiagnostics(h: HostCtx, m: ReleaseManifest, lines: number, timeoutMs: number): Promise<{ title: string; run: () => Promise<{ stdout: string; stderr: string }> }[]> {
  const services = (lastStatus.get(h) ?? (await readStack(h, m.project!).catch(() => undefined)))?.services.map((s) => s.name) ?? [];
  return [
    { title: 'docker stack ps', run: () => h.session.exec(stackPsCommand(m.project!), { step: 'diagnostics', timeoutMs }) },
    ...(services.length ? [{ title: `docker service logs --tail ${lines}`, run: () => h.session.exec(serviceLogsCommand(services, lines), { step: 'diagnostics', timeoutMs }) }] : []),
  ];
}

/** What is wrong with the stack now (for the health gate): an update Swarm paused or rolled back since the deploy, a service short of replicas. */
export async function stackProblems(h: HostCtx, m: ReleaseManifest): Promise<string[]> {
  const status = await readStack(h, m.project!);
  lastStatus.set(h, status);
  const base = beforeDeploy.get(h);
  // Without a deploy by this run (none to tell apart), only the replicas decide.
  const v = judgeStack(status, base ? snapshot(base) : snapshot(status));
  return v.kind === 'converged' ? [] : [v.why];
}
