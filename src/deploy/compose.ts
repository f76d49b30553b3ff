/** The compose strategy: a release is its compose files, a 0600 .env and release.json. */
import path from 'node:path';
import { shScript, type Command } from '../shell/index.js';
import { switchCommand, type ReleaseManifest } from '../state/releases.js';
import type { HostCtx } from './host.js';

export interface ComposeSource {
  files: { name: string; content: Buffer }[];
  /** Secret env file content (written 0600). */
  env: string;
  services: string[];
}

/** `docker compose` (v2) or `docker-compose` (v1), whichever the host has, with the release's files. */
export function composeArgs(h: HostCtx, m: ReleaseManifest): string[] {
  const dir = h.layout.release(m.id);
  const bin = h.state.compose === 'v2' ? ['docker', 'compose'] : ['docker-compose'];
  return [...bin, '--project-name', m.project!, '--project-directory', dir, ...(m.compose_files ?? []).flatMap((f) => ['-f', path.posix.join(dir, f)]), '--env-file', path.posix.join(dir, '.env')];
}

/** The .env of a release: the user's env file, then the pinned image and the release's identity. */
export function releaseEnv(userEnv: string, m: ReleaseManifest): string {
  const ours: Record<string, string> = {
    ...(m.image ? { IMAGE: m.image } : {}),
    OPS_APP: m.app,
    OPS_ENVIRONMENT: m.environment,
    OPS_VERSION: m.version,
    OPS_RELEASE: m.id,
  };
  const user = userEnv.replace(/\r\n/g, '\n').split('\n').filter((l) => {
    const k = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(l)?.[1];
    return !(k && k in ours);
  });
  const lines = [...user.filter((l, i, a) => !(i === a.length - 1 && l === '')), ...Object.entries(ours).map(([k, v]) => `${k}=${v}`)];
  return lines.join('\n') + '\n';
}

export function mkdirCommand(dir: string): Command {
  return shScript('mkdir -p "$1" && chmod 0750 "$1"', dir);
}

/** Stage a compose release: files, .env (0600), pull, digest, release.json last. */
export async function stageCompose(h: HostCtx, m: ReleaseManifest, src: ComposeSource): Promise<ReleaseManifest> {
  const dir = h.layout.release(m.id);
  await h.session.run(mkdirCommand(dir), { step: 'stage' });
  for (const f of src.files) await h.session.writeFile(path.posix.join(dir, f.name), f.content, 0o644);
  await h.session.writeFile(path.posix.join(dir, '.env'), releaseEnv(src.env, m), 0o600);
  const args = composeArgs(h, m);
  await h.session.run([...args, 'pull', '--quiet', ...(m.services ?? [])], { step: 'pull', stream: true });
  let digest: string | undefined;
  if (m.image) {
    const r = await h.session.exec(['docker', 'image', 'inspect', '--format', '{{join .RepoDigests "\\n"}}', m.image]);
    const lines = r.stdout.trim().split('\n').filter(Boolean);
    digest = (lines.find((l) => m.image!.startsWith(l.split('@')[0]!)) ?? lines[0])?.split('@')[1];
  }
  const full = { ...m, ...(digest ? { image_digest: digest } : {}) };
  // Written last: a release without release.json is incomplete and never switched to.
  await h.session.writeFile(path.posix.join(dir, 'release.json'), JSON.stringify(full, null, 2) + '\n', 0o644);
  return full;
}

/** Make a compose release serve: `up -d` with its files, then point `current` at it. */
export async function activateCompose(h: HostCtx, m: ReleaseManifest): Promise<void> {
  await h.session.run([...composeArgs(h, m), 'up', '-d', '--remove-orphans', ...(m.services ?? [])], { step: 'up', stream: true });
  await h.session.run(switchCommand(h.layout.appDir, m.id), { step: 'switch' });
}
