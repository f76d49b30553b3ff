import '../../src/action/esm-shim.js';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs, formatDuration } from '../../src/inputs/schema.js';
import { resolveTags } from '../../src/build/tags.js';
import { reservedBuildArg } from '../../src/build/docker.js';
import { BuildInputError, buildPush } from '../../src/flows/build-push.js';
import { code, table } from '../../src/report/markdown.js';
import { schema } from './schema.js';

function defaultBranch(): string {
  try {
    const ev = JSON.parse(readFileSync(process.env.GITHUB_EVENT_PATH ?? '', 'utf8')) as { repository?: { default_branch?: string } };
    return ev.repository?.default_branch ?? 'main';
  } catch {
    return 'main';
  }
}

async function main(ctx: ActionContext) {
  const { values: v, problems } = collectInputs(schema, ctx.inputs);
  for (const val of [...Object.values(v['build-args'] ?? {}), ...Object.values(v.secrets ?? {})]) ctx.inputs.mask(val);
  for (const name of Object.keys(v['build-args'] ?? {}).filter(reservedBuildArg)) {
    problems.push({ input: 'build-args', message: `${name} would change the docker CLI's own environment (build-arg values reach docker through it); rename the build argument` });
  }
  const ws = ctx.run.workspace;
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
  if (problems.length) throw new InputError(problems);

  const isGhcr = (v.registry || v.image.split('/')[0]) === 'ghcr.io';
  const username = v.username || (isGhcr ? ctx.run.actor : undefined);
  const password = v.password || (isGhcr ? v['github-token'] : undefined);
  const { tags, version } = resolveTags(v.tags, { sha: ctx.run.sha, ref: ctx.run.ref, defaultBranch: defaultBranch() });
  if (!tags.length) throw new InputError([{ input: 'tags', message: `gives no tag for ${ctx.run.ref || 'this ref'} (e.g. semver only applies to v1.2.3 tags); add sha or a literal tag` }]);
  const refs = tags.map((t) => `${v.image}:${t}`);
  const server = process.env.GITHUB_SERVER_URL ?? 'https://github.com';
  const labels: Record<string, string> = {
    'org.opencontainers.image.source': ctx.run.repository ? `${server}/${ctx.run.repository}` : '',
    'org.opencontainers.image.revision': ctx.run.sha,
    'org.opencontainers.image.created': new Date().toISOString(),
    'org.opencontainers.image.version': version,
    ...v.labels,
  };
  let r;
  try {
    r = await buildPush(
      {
        image: v.image,
        registry: v.registry,
        username,
        password,
        context,
        file,
        refs,
        tags,
        labels,
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
      },
      ctx.logger,
    );
  } catch (e) {
    if (e instanceof BuildInputError) throw new InputError([{ input: e.input, message: e.message }]);
    throw e;
  }
  ctx.setOutput('image-id', r.imageId);
  ctx.setOutput('tags', refs.join('\n'));
  ctx.setOutput('digest', r.digest);
  ctx.setOutput('image-ref', r.digest ? `${v.image}@${r.digest}` : '');
  ctx.setOutput('size-bytes', r.size);
  ctx.setOutput('cached-steps', r.cachedSteps);
  ctx.setOutput('builder', r.builder);
  await ctx.summary(
    [
      `## Image ${code(v.image)}: ${v.push ? 'built and pushed' : 'built (not pushed)'}`,
      '',
      table(
        ['', ''],
        [
          ['digest', r.digest ? code(r.digest) : '(not pushed)'],
          ['tags', refs.map(code).join('<br>')],
          ['size', `${(r.size / 1024 / 1024).toFixed(1)} MiB`],
          ['built with', code(r.builder)],
          ['build time', formatDuration(r.buildMs)],
          ['cache', r.cacheFrom.length ? `${r.cachedSteps} step(s) reused from ${r.cacheFrom.map(code).join(', ')}` : `${r.cachedSteps} step(s) reused`],
        ],
      ),
    ].join('\n'),
  );
  ctx.logger.info(r.digest ? `${v.image}@${r.digest}` : `built ${r.imageId}`);
}

runAction(main);
