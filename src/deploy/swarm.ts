/**
 * The swarm strategy: a release is its stack files, a 0600 `stack.env` (the env file and
 * the image pinned to its digest) and release.json, on a Swarm manager. Activating it is
 * `docker stack deploy`; Swarm rolls the tasks with the stack's `update_config` and health
 * checks, and the run waits until every service of the stack converged or its update
 * failed. A deploy that fails is returned with `docker service rollback` (Swarm's previous
 * spec, for the services this deploy updated); any other return to a recorded release (the
 * rollback action, the watchdog) deploys that release's stack again, pinned digests and all.
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
  error: string;
}

export interface SwarmService {
  name: string;
  id: string;
  mode: 'replicated' | 'global';
  desired: number;
  running: number;
  /** The service's last update, as Swarm reports it (none for a service never updated). */
  update?: { state: string; startedAt?: number; message: string };
  image: string;
  tasks: SwarmTask[];
}

export interface SwarmStatus {
  /** The manager's clock (epoch seconds) when it was read. */
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
      const [, name, id, mode, desired, running, state, started, image, ...msg] = f;
      status.services.push({
        name: name!,
        id: id!,
        mode: mode === 'global' ? 'global' : 'replicated',
        desired: num(desired),
        running: num(running),
        ...(state ? { update: { state, ...(started ? { startedAt: num(started) } : {}), message: msg.join('\t').trim() } } : {}),
        image: image!,
        tasks: [],
      });
    } else if (f[0] === 'task' && f.length >= 7) {
      const svc = status.services.find((s) => s.name === f[1]);
      svc?.tasks.push({ name: f[2]!, node: f[3]!, desired: f[4]!, state: f[5]!, error: f.slice(6).join('\t').trim() });
    }
  }
  return status;
}

export type Convergence = { kind: 'converged' } | { kind: 'waiting'; why: string } | { kind: 'failed'; why: string; rolledBack: boolean };

/** Whether the service's last update is one this run started (the manager's clock, read before it; a second of slack). */
const updatedSince = (s: SwarmService, since: number) => s.update?.startedAt !== undefined && s.update.startedAt >= since - 1;

const taskTrouble = (s: SwarmService) =>
  s.tasks
    .filter((t) => !/^running/i.test(t.state) || t.error)
    .map((t) => `${t.name} on ${t.node}: ${t.state}${t.error ? ` (${t.error})` : ''}`)
    .slice(0, 5);

function describe(s: SwarmService): string {
  const trouble = taskTrouble(s);
  return `${s.name}: ${s.running}/${s.desired} running${s.update ? `, update ${s.update.state}${s.update.message ? ` (${s.update.message})` : ''}` : ''}${trouble.length ? `; ${trouble.join('; ')}` : ''}`;
}

/**
 * Where the stack is, given the manager's clock before the run's `stack deploy` (`since`):
 * a service this run updated must have completed its update with every replica running;
 * one it did not update must have every replica running. An update Swarm paused or rolled
 * back is a failure (`rolledBack`: Swarm itself put every updated service back).
 * `rollingBack`: the run started `docker service rollback` of these services (the manager's
 * clock before it): their rollback must have started and completed.
 */
export function judgeStack(status: SwarmStatus, since: number, o: { rollingBack?: { since: number; services: string[] } } = {}): Convergence {
  if (!status.services.length) return { kind: 'failed', why: 'the stack has no services after the deploy', rolledBack: false };
  const failed: SwarmService[] = [];
  const waiting: SwarmService[] = [];
  let swarmRolledBack = 0;
  let updated = 0;
  for (const s of status.services) {
    if (o.rollingBack) {
      const back = o.rollingBack.services.includes(s.name);
      const state = back && updatedSince(s, o.rollingBack.since) ? s.update!.state : back ? 'not started' : 'none';
      if (state === 'rollback_paused' || state === 'paused') failed.push(s);
      else if (back && state !== 'rollback_completed') waiting.push(s);
      else if (s.running < s.desired) waiting.push(s);
      continue;
    }
    const mine = updatedSince(s, since);
    const state = mine ? s.update!.state : 'none';
    if (mine) updated++;
    if (state === 'paused' || state === 'rollback_paused') failed.push(s);
    else if (state === 'rollback_completed') {
      failed.push(s);
      swarmRolledBack++;
    } else if (state === 'updating' || state === 'rollback_started') waiting.push(s);
    else if (s.running < s.desired) waiting.push(s);
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
    vars.set(kv[1]!, value);
  }
  const ours: Record<string, string | undefined> = { IMAGE: image, OPS_APP: m.app, OPS_ENVIRONMENT: m.environment, OPS_VERSION: m.version, OPS_RELEASE: m.id };
  for (const [k, v] of Object.entries(ours)) if (v !== undefined) vars.set(k, v);
  return [...vars].map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/** The repository digest of `image` among `docker image inspect`'s RepoDigests lines. */
export function pickRepoDigest(image: string, lines: string[]): string | undefined {
  const repo = image.includes('@') ? image.split('@')[0]! : image.replace(/:[^/:]+$/, '');
  return (lines.find((l) => l.split('@')[0] === repo) ?? lines.find((l) => image.startsWith(l.split('@')[0]!)))?.trim();
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

/** The manager's clock before each host's last `stack deploy` by this run (what its updates are told apart by). */
const deployedSince = new WeakMap<HostCtx, number>();

/** The last stack status each host's wait saw (for the report). */
export const lastStatus = new WeakMap<HostCtx, SwarmStatus>();

export class SwarmUpdateFailed extends Error {
  constructor(
    message: string,
    readonly rolledBack: boolean,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Poll the stack (every 2 s) until it converged twice in a row, an update failed, or the
 * timeout passed; progress goes to the log when it changes.
 */
export async function waitForStack(h: HostCtx, m: ReleaseManifest, since: number, o: { rollingBack?: { since: number; services: string[] }; intervalMs?: number } = {}): Promise<SwarmStatus> {
  const timeoutMs = (m.swarm?.converge_timeout_s ?? 600) * 1000;
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  let said = '';
  for (;;) {
    const status = await readStack(h, m.project!);
    lastStatus.set(h, status);
    const v = judgeStack(status, since, o);
    if (v.kind === 'failed') throw new SwarmUpdateFailed(`host ${h.target.name}: stack ${m.project} did not converge on ${m.id}: ${v.why}`, v.rolledBack);
    if (v.kind === 'converged' && ++streak >= 2) return status;
    if (v.kind === 'waiting') {
      streak = 0;
      if (v.why !== said) h.logger.info(`host ${h.target.name}: waiting for the stack: ${v.why}`);
      said = v.why;
    }
    if (Date.now() > deadline) {
      throw new SwarmUpdateFailed(
        `host ${h.target.name}: stack ${m.project} did not converge on ${m.id} within ${formatDuration(timeoutMs)} (converge-timeout): ${v.kind === 'waiting' ? v.why : 'still settling'}`,
        false,
      );
    }
    await sleep(o.intervalMs ?? 2000);
  }
}

/** Deploy the release's stack and wait for it to converge; then point `current` at it. */
export async function activateSwarm(h: HostCtx, m: ReleaseManifest): Promise<void> {
  const [deployStep, switchStep] = swarmActivation(h, m);
  const since = (await readStack(h, m.project!)).now;
  deployedSince.set(h, since);
  await h.session.run(deployStep!.command, { step: deployStep!.step, stream: true });
  await waitForStack(h, m, since);
  await h.session.run(switchStep!.command, { step: switchStep!.step });
}

/**
 * Return a host whose deploy of `from` failed to `to`: the services this run updated go
 * back to their previous spec with `docker service rollback` (those Swarm already rolled
 * back are left alone), then the run waits for that and points `current` at `to`. Without
 * a record of this run's update (or when a service has no previous spec), `to`'s stack is
 * deployed again instead.
 */
export async function rollbackSwarm(h: HostCtx, from: ReleaseManifest, to: ReleaseManifest): Promise<'service-rollback' | 'stack-deploy'> {
  const since = deployedSince.get(h);
  if (since !== undefined) {
    const status = await readStack(h, from.project!);
    const mine = status.services.filter((s) => updatedSince(s, since) && !/^rollback_/.test(s.update!.state)).map((s) => s.name);
    const r = mine.length ? await h.session.exec(serviceRollbackCommand(mine), { step: 'service rollback' }) : { code: 0 };
    if (r.code === 0) {
      if (mine.length) h.logger.info(`host ${h.target.name}: docker service rollback ${mine.join(' ')}`);
      await waitForStack(h, to, since, { rollingBack: { since: status.now, services: mine } });
      await h.session.run(switchCommand(h.layout.appDir, to.id), { step: 'switch' });
      return 'service-rollback';
    }
    h.logger.warning(`host ${h.target.name}: docker service rollback failed; deploying ${to.id}'s stack again instead`);
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
  const v = judgeStack(status, deployedSince.get(h) ?? status.now + 2);
  return v.kind === 'converged' ? [] : [v.why];
}
