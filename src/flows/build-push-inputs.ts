/** The build-push action's inputs, checked and turned into a BuildPushConfig (every problem reported at once). */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Problem, Parsed } from '../inputs/schema.js';
import { resolveTags } from '../build/tags.js';
import { reservedBuildArg } from '../build/docker.js';
import type { schema } from '../schemas/build-push.js';
import type { Caller } from './caller.js';
import { lowercaseRepository } from '../inputs/common.js';
import type { BuildPushConfig } from './build-push.js';

function defaultBranch(): string {
  try {
    const ev = JSON.parse(readFileSync(process.env.GITHUB_EVENT_PATH ?? '', 'utf8')) as { repository?: { default_branch?: string } };
    return ev.repository?.default_branch ?? 'main';
  } catch {
    return 'main';
  }
}

export function prepareBuildPush(v: Parsed<typeof schema>, problems: Problem[], c: Caller): BuildPushConfig | undefined {
  for (const val of [...Object.values(v['build-args'] ?? {}), ...Object.values(v.secrets ?? {})]) c.mask(val);
  for (const name of Object.keys(v['build-args'] ?? {}).filter(reservedBuildArg)) {
    problems.push({ input: 'build-args', message: `${name} would change the docker CLI's own environment (build-arg values reach docker through it); rename the build argument` });
  }
  const ws = c.workspace;
  const context = path.resolve(ws, v.context ?? '.');
  const file = path.resolve(ws, v.file || path.join(v.context ?? '.', 'Dockerfile'));
  if (v.context !== undefined && !existsSync(context)) problems.push({ input: 'context', message: `'${v.context}' does not exist in the workspace` });
  else if (!existsSync(file)) problems.push({ input: 'file', message: `${path.relative(ws, file) || file} does not exist; set 'file' or add a Dockerfile to the context` });
  const secretFiles: Record<string, string> = {};
  for (const [id, f] of Object.entries(v['secret-files'] ?? {})) {
    const p = path.resolve(ws, f.trim());
    if (!existsSync(p)) problems.push({ input: 'secret-files', message: `${id}: '${f.trim()}' does not exist` });
    secretFiles[id] = p;
  }
  const dupes = Object.keys(secretFiles).filter((id) => id in (v.secrets ?? {}));
  if (dupes.length) problems.push({ input: 'secret-files', message: `secret id ${dupes.join(', ')} is also in 'secrets'` });
  if (problems.length) return undefined;

  const image = lowercaseRepository(v.image);
  if (image !== v.image) c.logger.info(`image ${v.image} is pushed as ${image} (registries take lowercase repository names)`);
  const isGhcr = (v.registry || image.split('/')[0]) === 'ghcr.io';
  const { tags, version } = resolveTags(v.tags, { sha: c.sha, ref: c.ref, defaultBranch: defaultBranch() });
  if (!tags.length) {
    problems.push({ input: 'tags', message: `gives no tag for ${c.ref || 'this ref'} (e.g. semver only applies to v1.2.3 tags); add sha or a literal tag` });
    return undefined;
  }
  const server = process.env.GITHUB_SERVER_URL ?? 'https://github.com';
  return {
    image,
    registry: v.registry,
    username: v.username || (isGhcr ? c.actor : undefined),
    password: v.password || (isGhcr ? v['github-token'] : undefined),
    context,
    file,
    refs: tags.map((t) => `${image}:${t}`),
    tags,
    labels: {
      'org.opencontainers.image.source': c.repository ? `${server}/${c.repository}` : '',
      'org.opencontainers.image.revision': c.sha,
      'org.opencontainers.image.created': new Date().toISOString(),
      'org.opencontainers.image.version': version,
      ...v.labels,
    },
    buildArgs: v['build-args'],
    secrets: v.secrets,
    secretFiles,
    target: v.target,
    platforms: v.platforms,
    network: v.network === 'default' ? undefined : v.network,
    push: v.push,
    cache: v.cache,
    builder: v.builder,
    tempDir: process.env.RUNNER_TEMP || os.tmpdir(),
  };
}
