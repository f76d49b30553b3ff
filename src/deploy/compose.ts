/** The compose strategy: a release is its compose files, a 0600 .env and release.json. */
import path from 'node:path';
import {
  drainAndStopCommand,
  mkdirCommand,
  nginxSite,
  otherColor,
  proxyApplyCommand,
  pullCommand,
  recordColorCommand,
  repoDigestsCommand,
  switchColorCommand,
  upCommand,
  upstreamMarker,
  waitProxyCommand,
  waitReadyCommand,
  type Color,
  type ComposeCall,
} from '../commands/index.js';
import type { ReleaseManifest } from '../host/state.js';
import { isOneShot, readProjectContainers, type ContainerState } from '../host/containers.js';
import { switchCommand } from '../commands/index.js';
import { and, type Command } from '../shell/index.js';
import type { HostCtx } from './context.js';

export interface ComposeSource {
  files: { name: string; content: Buffer }[];
  /** Secret env file content (written 0600). */
  env: string;
  services: string[];
}

/**
 * How to call Compose for a release on this host (v2 when the host has it, else v1). A
 * blue-green release runs as the project of a color: by default the color it serves as
 * (the other one than the host's, unless it is the current release).
 */
export function composeCall(h: HostCtx, m: ReleaseManifest, color: Color | undefined = m.blue_green ? colorFor(h, m) : undefined): ComposeCall {
  const bg = m.blue_green;
  return {
    flavor: h.state.compose === 'v2' ? 'v2' : 'v1',
    dir: h.layout.release(m.id),
    project: color ? `${m.project!}-${color}` : m.project!,
    files: m.compose_files ?? [],
    // Every call sees the color's variables, not only `up`: the files interpolate them.
    ...(bg && color ? { env: { OPS_COLOR: color, OPS_PORT: String(colorPort(bg, color)) } } : {}),
  };
}

/**
 * The color a blue-green release serves as on this host: the host's color when it is the
 * current release (re-activating it, e.g. putting it back after a failed switch), else the
 * other one (a deploy or a rollback boots it beside the one serving). A host with none
 * yet starts with blue.
 */
export function colorFor(h: HostCtx, m: ReleaseManifest): Color {
  const serving = h.state.color;
  if (!serving) return 'blue';
  return m.id === h.state.current ? serving : otherColor(serving);
}

export const colorPort = (bg: NonNullable<ReleaseManifest['blue_green']>, c: Color) => (c === 'blue' ? bg.base_port : bg.base_port + 1);

/** The .env of a release: the user's env file, then the pinned image and the release's identity. */
export function releaseEnv(userEnv: string, m: ReleaseManifest): string {
  const ours: Record<string, string> = {
    ...(m.image ? { IMAGE: m.image } : {}),
    OPS_APP: m.app,
    OPS_ENVIRONMENT: m.environment,
    OPS_VERSION: m.version,
    OPS_RELEASE: m.id,
  };
  const user = userEnv
    .replace(/\r\n/g, '\n')
    .split('\n')
    .filter((l) => {
      const k = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(l)?.[1];
      return !(k && k in ours);
    });
  const lines = [...user.filter((l, i, a) => !(i === a.length - 1 && l === '')), ...Object.entries(ours).map(([k, v]) => `${k}=${v}`)];
  return lines.join('\n') + '\n';
}

/** Stage a compose release: files, .env (0600), pull, digest, release.json last. */
export async function stageCompose(h: HostCtx, m: ReleaseManifest, src: ComposeSource): Promise<ReleaseManifest> {
  const dir = h.layout.release(m.id);
  await h.session.run(mkdirCommand(dir), { step: 'stage' });
  for (const f of src.files) await h.session.writeFile(path.posix.join(dir, f.name), f.content, 0o644);
  await h.session.writeFile(path.posix.join(dir, '.env'), releaseEnv(src.env, m), 0o600);
  await h.session.run(pullCommand(composeCall(h, m), m.services ?? []), { step: 'pull', stream: true });
  let digest: string | undefined;
  if (m.image) {
    const r = await h.session.exec(repoDigestsCommand(m.image));
    const lines = r.stdout.trim().split('\n').filter(Boolean);
    digest = (lines.find((l) => m.image!.startsWith(l.split('@')[0]!)) ?? lines[0])?.split('@')[1];
  }
  const full = { ...m, ...(digest ? { image_digest: digest } : {}) };
  // Written last: a release without release.json is incomplete and never switched to.
  await h.session.replaceFile(path.posix.join(dir, 'release.json'), JSON.stringify(full, null, 2) + '\n', 0o644);
  return full;
}

/** One command of a switch, named for the log. */
export interface ActivationStep {
  step: string;
  command: Command;
  stream?: boolean;
}

/** What makes a compose release serve: `up -d` with its files, then `current` pointed at it. */
export function composeActivation(h: HostCtx, m: ReleaseManifest): ActivationStep[] {
  if (m.blue_green) return blueGreenActivation(h, m, colorFor(h, m));
  return [
    { step: 'up', command: upCommand(composeCall(h, m), m.services ?? []), stream: true },
    { step: 'switch', command: switchCommand(h.layout.appDir, m.id) },
  ];
}

/**
 * Blue-green: boot the release as `color` on its own port beside the color serving, wait
 * until it answers on the health path, point the proxy at it (validated, graceful reload),
 * record current and the color, then drain the other color and stop it. Up to the proxy
 * step, traffic has not moved.
 */
export function blueGreenActivation(h: HostCtx, m: ReleaseManifest, color: Color): ActivationStep[] {
  const bg = m.blue_green!;
  const port = colorPort(bg, color);
  const other = otherColor(color);
  const c = composeCall(h, m, color);
  const marker = upstreamMarker(m.id, color);
  const site = nginxSite({ name: bg.upstream, listen: bg.listen, upstreamPort: port, marker });
  return [
    { step: `up (${color}, port ${port})`, command: upCommand(c, m.services ?? []), stream: true },
    { step: `ready (${color})`, command: waitReadyCommand(port, bg.ready_path, bg.ready_timeout_s) },
    // The color is recorded as soon as the proxy may send it traffic: a run that dies after
    // this step leaves the host's color telling which one serves.
    { step: `proxy → ${color}`, command: and(proxyApplyCommand(bg.config, site, bg.test_command, bg.reload_command), recordColorCommand(h.layout.appDir, color)) },
    { step: `proxy serves ${color}`, command: waitProxyCommand(bg.listen, bg.ready_path, marker, 10) },
    { step: 'switch', command: switchColorCommand(h.layout.appDir, m.id, color) },
    { step: `drain (${other})`, command: drainAndStopCommand(colorPort(bg, other), `${m.project!}-${other}`, bg.drain_s, 30), stream: true },
  ];
}

export { parseContainers, type ContainerState } from '../host/containers.js';

/** The release's service containers (not one-off runs) on the host. */
export async function readContainers(h: HostCtx, m: ReleaseManifest): Promise<ContainerState[]> {
  return readProjectContainers(h.session, composeCall(h, m).project, m.services);
}

/**
 * What is wrong with the release's containers: not running (a one-shot service that
 * exited 0 without a restart policy is fine), restarting, unhealthy, or restarted between
 * `before` and `after` (its count grew, or it was not running before and is now).
 */
export function containerProblems(m: ReleaseManifest, before: ContainerState[], after: ContainerState[]): string[] {
  if (!after.length) return [`no container of project ${m.project} exists after 'up'`];
  const problems: string[] = [];
  for (const c of after) {
    const was = before.find((b) => b.name === c.name);
    const oneShot = isOneShot(c);
    if (c.status === 'restarting') problems.push(`${c.name} (${c.service}) is restarting (last exit code ${c.exitCode})`);
    else if (c.status !== 'running' && !oneShot) problems.push(`${c.name} (${c.service}) is ${c.status}${c.status === 'exited' ? ` with code ${c.exitCode}` : ''}`);
    else if (c.health === 'unhealthy') problems.push(`${c.name} (${c.service}) reports its Docker healthcheck unhealthy`);
    // Docker counts a restart when it schedules it: a container seen restarting (or exited)
    // before the probes and running after them started again during the gate, same count or not.
    else if (was && (c.restarts > was.restarts || (was.status !== 'running' && !isOneShot(was))))
      problems.push(`${c.name} (${c.service}) restarted ${Math.max(1, c.restarts - was.restarts)} time(s) during the gate`);
    else if (!was && before.length) problems.push(`${c.name} (${c.service}) was replaced during the gate`);
  }
  return problems;
}
