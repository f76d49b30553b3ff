import '../../src/action/esm-shim.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAction, type ActionContext } from '../../src/action/runtime.js';
import { InputError, collectInputs, formatDuration } from '../../src/inputs/schema.js';
import { resolveTags } from '../../src/build/tags.js';
import { isInsecureRegistry, parseImageName, parseRegistryConfig, pushedDigest, readManifest, type ManifestInfo } from '../../src/build/registry.js';
import { buildArgs, cachedSteps, docker, reservedBuildArg } from '../../src/build/docker.js';
import { tail } from '../../src/ssh/errors.js';
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
  for (const val of Object.values(v['build-args'] ?? {})) ctx.inputs.mask(val);
  for (const name of Object.keys(v['build-args'] ?? {}).filter(reservedBuildArg)) {
    problems.push({ input: 'build-args', message: `${name} would change the docker CLI's own environment (build-arg values reach docker through it); rename the build argument` });
  }
  const ws = ctx.run.workspace;
  const context = path.resolve(ws, v.context ?? '.');
  const file = path.resolve(ws, v.file || path.join(v.context ?? '.', 'Dockerfile'));
  if (v.context !== undefined && !existsSync(context)) problems.push({ input: 'context', message: `'${v.context}' does not exist in the workspace` });
  else if (!existsSync(file)) problems.push({ input: 'file', message: `${path.relative(ws, file) || file} does not exist; set 'file' or add a Dockerfile to the context` });
  const logger = ctx.logger;
  const quiet = { logger, quiet: true };
  const native = `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`;
  if (v.platforms.length && (v.platforms.length > 1 || v.platforms[0] !== native)) {
    const buildx = await docker(['buildx', 'version'], quiet).catch(() => ({ code: 1 }));
    if (buildx.code !== 0) problems.push({ input: 'platforms', message: `${v.platforms.join(', ')} needs docker buildx, which this runner does not have (without it only the native ${native} can be built)` });
    else problems.push({ input: 'platforms', message: 'multi-platform builds (buildx with a docker-container builder) are not supported by this version; build the native platform or use docker/build-push-action for multi-platform images' });
  }
  if (problems.length) throw new InputError(problems);

  const { registry } = parseImageName(v.image);
  const reg = v.registry || registry;
  const isGhcr = reg === 'ghcr.io';
  const username = v.username || (isGhcr ? ctx.run.actor : undefined);
  const password = v.password || (isGhcr ? v['github-token'] : undefined);
  const git = { sha: ctx.run.sha, ref: ctx.run.ref, defaultBranch: defaultBranch() };
  const { tags, version } = resolveTags(v.tags, git);
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

  // Credentials go to a private, temporary docker config, through stdin only.
  const cfgDir = password ? mkdtempSync(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'docker-config-')) : undefined;
  const env = { ...(cfgDir ? { DOCKER_CONFIG: cfgDir } : {}), ...v['build-args'] };
  const work = mkdtempSync(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'build-'));
  try {
    if (password) {
      if (!username) throw new InputError([{ input: 'username', message: `is required to log in to ${reg} with 'password'` }]);
      const login = await docker(['login', reg, '--username', username, '--password-stdin'], { env, input: password, ...quiet });
      if (login.code !== 0) throw new Error(`login to ${reg} as ${username} failed: ${tail(login.stderr || login.stdout, 3)}; check 'username' and 'password' (for ghcr.io the token needs packages: write)`);
      logger.info(`logged in to ${reg} as ${username}`);
    }
    const cacheFrom: string[] = [];
    if (v.cache && v.push) {
      for (const candidate of [...new Set([refs.find((r) => !r.endsWith(':latest') && !/:sha-/.test(r)), `${v.image}:latest`].filter((r): r is string => !!r))]) {
        const pulled = await docker(['pull', '--quiet', candidate], { env, ...quiet });
        if (pulled.code === 0) cacheFrom.push(candidate);
      }
      logger.info(cacheFrom.length ? `cache: layers from ${cacheFrom.join(', ')}` : 'cache: no previous image to reuse layers from');
    }
    const started = Date.now();
    const iidFile = path.join(work, 'iid');
    const built = await logger.group(`docker build ${refs[0]}`, () =>
      docker(buildArgs({ context, file, tags: refs, labels, buildArgNames: Object.keys(v['build-args']), target: v.target, cacheFrom, iidFile, platforms: v.platforms }), { env, logger }),
    );
    const buildMs = Date.now() - started;
    if (built.code !== 0) throw new Error(`docker build failed (exit ${built.code}); the failing step's output:\n${tail(built.stderr + '\n' + built.stdout, 25)}`);
    const imageId = readFileSync(iidFile, 'utf8').trim();
    const cache = cachedSteps(built.stdout + built.stderr);
    ctx.setOutput('image-id', imageId);
    ctx.setOutput('tags', refs.join('\n'));
    let digest = '';
    let size = 0;
    if (v.push) {
      // The digest each push reports is the registry's own; every tag must point at the same one.
      const digests = new Map<string, string>();
      for (const r of refs) {
        const pushed = await docker(['push', r], { env, ...quiet });
        if (pushed.code !== 0) throw new Error(`docker push ${r} failed: ${tail(pushed.stderr || pushed.stdout, 5)}`);
        const d = pushedDigest(pushed.stdout + pushed.stderr);
        if (d) digests.set(r, d);
        logger.info(`pushed ${r}${d ? ` (${d})` : ''}`);
      }
      // Plain HTTP only where the engine itself allows it (its insecure registries and CIDRs).
      const info = await docker(['info', '--format', '{{json .RegistryConfig}}'], quiet);
      const insecure = info.code === 0 ? await isInsecureRegistry(registry, parseRegistryConfig(info.stdout.trim())) : false;
      const access = { insecure };
      let manifest: ManifestInfo | undefined;
      try {
        manifest = await readManifest(v.image, tags[0]!, { username, password }, access);
      } catch (e) {
        if (!digests.size) throw e;
        logger.warning(`could not read the manifest of ${refs[0]} from the registry (size-bytes is unknown): ${(e as Error).message}`);
      }
      digest = digests.get(refs[0]!) ?? manifest!.digest;
      size = manifest?.size ?? 0;
      if (manifest && manifest.digest !== digest) throw new Error(`the registry has ${refs[0]} at ${manifest.digest}, but the push reported ${digest}; another push raced this one`);
      for (const [i, t] of tags.entries()) {
        if (i === 0) continue;
        const other = digests.get(refs[i]!) ?? (await readManifest(v.image, t, { username, password }, access)).digest;
        if (other !== digest) throw new Error(`the registry has ${v.image}:${t} at ${other}, not ${digest}; another push raced this one`);
      }
    } else {
      const inspected = await docker(['image', 'inspect', '--format', '{{.Size}}', imageId], quiet);
      size = Number(inspected.stdout.trim()) || 0;
    }
    ctx.setOutput('digest', digest);
    ctx.setOutput('image-ref', digest ? `${v.image}@${digest}` : '');
    ctx.setOutput('size-bytes', size);
    ctx.setOutput('cached-steps', cache.cached);
    await ctx.summary(
      [
        `## Image ${code(v.image)}: ${v.push ? 'built and pushed' : 'built (not pushed)'}`,
        '',
        table(
          ['', ''],
          [
            ['digest', digest ? code(digest) : '(not pushed)'],
            ['tags', refs.map(code).join('<br>')],
            ['size', `${(size / 1024 / 1024).toFixed(1)} MiB`],
            ['build time', formatDuration(buildMs)],
            ['cache', cacheFrom.length ? `${cache.cached} step(s) reused from ${cacheFrom.map(code).join(', ')}` : `${cache.cached} step(s) reused (local layers)`],
          ],
        ),
      ].join('\n'),
    );
    logger.info(digest ? `${v.image}@${digest}` : `built ${imageId}`);
  } finally {
    if (cfgDir) rmSync(cfgDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

runAction(main);
