/**
 * build-push as a flow: log in (to a private docker config) → build (buildx when the
 * runner has it, else `docker build`) → push → the digest the registry reports → size.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatDuration } from '../text.js';
import type { Logger } from '../log.js';
import { tail } from '../text.js';
import { buildArgs, buildxArgs, cachedSteps, detectBuilder, docker, privateDockerConfig } from '../build/docker.js';
import { isInsecureRegistry, parseImageName, parseRegistryConfig, pushedDigest, readManifest, type ManifestInfo } from '../build/registry.js';

export interface BuildPushConfig {
  image: string;
  /** Registry to log in to (default: the image's). */
  registry?: string;
  username?: string;
  password?: string;
  context: string;
  file: string;
  /** Full references (`image:tag`) and the bare tags, in the same order. */
  refs: string[];
  tags: string[];
  labels: Record<string, string>;
  buildArgs: Record<string, string>;
  /** BuildKit secrets: id → value. */
  secrets: Record<string, string>;
  /** BuildKit secrets: id → a file on the runner. */
  secretFiles: Record<string, string>;
  target?: string;
  platforms: string[];
  /** Network for RUN steps: none or host (default: the builder's). */
  network?: string;
  push: boolean;
  cache: boolean;
  /** auto: buildx when the runner has it; buildx or docker to insist. */
  builder: 'auto' | 'buildx' | 'docker';
  /** A private temporary directory (RUNNER_TEMP). */
  tempDir: string;
}

export interface BuildPushResult {
  imageId: string;
  digest: string;
  size: number;
  cachedSteps: number;
  cacheFrom: string[];
  buildMs: number;
  /** What built it, e.g. `buildx 0.13.1 (docker driver)` or `docker build`. */
  builder: string;
}

export class BuildInputError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(message);
  }
}

export async function buildPush(cfg: BuildPushConfig, logger: Logger): Promise<BuildPushResult> {
  const quiet = { logger, quiet: true };
  const reg = cfg.registry || parseImageName(cfg.image).registry;
  // Credentials go to a private, temporary docker config, through stdin only.
  const cfgDir = cfg.password ? privateDockerConfig(cfg.tempDir) : undefined;
  const work = mkdtempSync(path.join(cfg.tempDir, 'build-'));
  const env: NodeJS.ProcessEnv = { ...(cfgDir ? { DOCKER_CONFIG: cfgDir } : {}), ...cfg.buildArgs };
  try {
    const found = await detectBuilder(env, logger);
    const useBuildx = cfg.builder === 'buildx' || (cfg.builder === 'auto' && found.kind === 'buildx');
    if (useBuildx && found.kind !== 'buildx') throw new BuildInputError('builder', "is 'buildx' but docker buildx is not installed on this runner (docker/setup-buildx-action installs it)");
    const native = `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`;
    if (!useBuildx) {
      if (cfg.platforms.length && (cfg.platforms.length > 1 || cfg.platforms[0] !== native)) {
        throw new BuildInputError(
          'platforms',
          `${cfg.platforms.join(', ')} needs docker buildx, which this runner does not have${cfg.builder === 'docker' ? " (or 'builder: docker' was asked for)" : ''}; without it only the native ${native} can be built`,
        );
      }
      const ids = [...Object.keys(cfg.secrets), ...Object.keys(cfg.secretFiles)];
      if (ids.length)
        throw new BuildInputError(
          Object.keys(cfg.secrets).length ? 'secrets' : 'secret-files',
          'BuildKit secrets need docker buildx on the runner (GitHub-hosted runners have it; docker/setup-buildx-action installs it)',
        );
    }
    const driver = found.kind === 'buildx' ? found.driver : '';
    const builderName = useBuildx && found.kind === 'buildx' ? `buildx ${found.version} (${driver} driver)` : 'docker build';

    if (cfg.password) {
      if (!cfg.username) throw new BuildInputError('username', `is required to log in to ${reg} with 'password'`);
      const login = await docker(['login', reg, '--username', cfg.username, '--password-stdin'], { env, input: cfg.password, ...quiet });
      if (login.code !== 0)
        throw new Error(`login to ${reg} as ${cfg.username} failed: ${tail(login.stderr || login.stdout, 3)}; check 'username' and 'password' (for ghcr.io the token needs packages: write)`);
      logger.info(`logged in to ${reg} as ${cfg.username}`);
    }

    // Cache: the previous image of this ref (or latest), whose inline cache metadata seeds the build.
    const cacheFrom: string[] = [];
    const candidates = [...new Set([cfg.refs.find((r) => !r.endsWith(':latest') && !/:sha-/.test(r)), `${cfg.image}:latest`].filter((r): r is string => !!r))];
    if (cfg.cache && cfg.push) {
      if (useBuildx) cacheFrom.push(...(driver === 'docker' ? candidates : []));
      else {
        for (const candidate of candidates) {
          const pulled = await docker(['pull', '--quiet', candidate], { env, ...quiet });
          if (pulled.code === 0) cacheFrom.push(candidate);
        }
      }
      logger.info(
        driver && driver !== 'docker' && useBuildx
          ? `cache: registry cache ${cfg.image}:buildcache`
          : cacheFrom.length
            ? `cache: layers from ${cacheFrom.join(', ')}`
            : 'cache: no previous image to reuse layers from',
      );
    }

    const iidFile = path.join(work, 'iid');
    const metadataFile = path.join(work, 'metadata.json');
    const secretFiles: Record<string, string> = { ...cfg.secretFiles };
    for (const [id, value] of Object.entries(cfg.secrets)) {
      const f = path.join(work, `secret-${Object.keys(secretFiles).length}`);
      writeFileSync(f, value, { mode: 0o600 });
      secretFiles[id] = f;
    }
    const started = Date.now();
    const spec = {
      context: cfg.context,
      file: cfg.file,
      tags: cfg.refs,
      labels: cfg.labels,
      buildArgNames: Object.keys(cfg.buildArgs),
      target: cfg.target,
      cacheFrom,
      iidFile,
      platforms: cfg.platforms,
      network: cfg.network,
    };
    const args = useBuildx ? buildxArgs({ ...spec, metadataFile, secretFiles, push: cfg.push, driver, cache: cfg.cache, cacheRef: `${cfg.image}:buildcache` }) : buildArgs(spec);
    const built = await logger.group(`${useBuildx ? 'docker buildx build' : 'docker build'} ${cfg.refs[0]}`, () => docker(args, { env, logger }));
    const buildMs = Date.now() - started;
    if (built.code !== 0) {
      throw new Error(`${useBuildx ? 'docker buildx build' : 'docker build'} failed (exit ${built.code}); the failing step's output:\n${tail(built.stderr + '\n' + built.stdout, 25)}`);
    }
    const imageId = existsSync(iidFile) ? readFileSync(iidFile, 'utf8').trim() : '';
    const cache = cachedSteps(built.stdout + built.stderr);
    logger.info(`built with ${builderName} in ${formatDuration(buildMs)}`);

    let digest = '';
    let size = 0;
    if (cfg.push) {
      const digests = new Map<string, string>();
      if (useBuildx) {
        // buildx pushed every tag; its metadata names the digest the registry accepted.
        const meta = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<string, unknown>;
        const d = String(meta['containerimage.digest'] ?? '');
        if (!/^sha256:[0-9a-f]{64}$/.test(d)) throw new Error(`docker buildx did not report the pushed digest in its metadata file (${JSON.stringify(meta).slice(0, 200)})`);
        for (const r of cfg.refs) digests.set(r, d);
      } else {
        // The digest each push reports is the registry's own; every tag must point at the same one.
        for (const r of cfg.refs) {
          const pushed = await docker(['push', r], { env, ...quiet });
          if (pushed.code !== 0) throw new Error(`docker push ${r} failed: ${tail(pushed.stderr || pushed.stdout, 5)}`);
          const d = pushedDigest(pushed.stdout + pushed.stderr);
          if (d) digests.set(r, d);
          logger.info(`pushed ${r}${d ? ` (${d})` : ''}`);
        }
      }
      // Plain HTTP only where the engine itself allows it (its insecure registries and CIDRs).
      const info = await docker(['info', '--format', '{{json .RegistryConfig}}'], { env, ...quiet });
      const insecure = info.code === 0 ? await isInsecureRegistry(parseImageName(cfg.image).registry, parseRegistryConfig(info.stdout.trim())) : false;
      // The login's credentials go only to the registry they are for.
      const creds = parseImageName(cfg.image).registry === reg ? { username: cfg.username, password: cfg.password } : {};
      let manifest: ManifestInfo | undefined;
      try {
        manifest = await readManifest(cfg.image, cfg.tags[0]!, creds, { insecure });
      } catch (e) {
        if (!digests.size) throw e;
        logger.warning(`could not read the manifest of ${cfg.refs[0]} from the registry (size-bytes is unknown): ${(e as Error).message}`);
      }
      digest = digests.get(cfg.refs[0]!) ?? manifest!.digest;
      size = manifest?.size ?? 0;
      if (manifest && manifest.digest !== digest) throw new Error(`the registry has ${cfg.refs[0]} at ${manifest.digest}, but the build reported ${digest}; another push raced this one`);
      for (const [i, t] of cfg.tags.entries()) {
        if (i === 0) continue;
        const other = useBuildx ? (await readManifest(cfg.image, t, creds, { insecure })).digest : (digests.get(cfg.refs[i]!) ?? (await readManifest(cfg.image, t, creds, { insecure })).digest);
        if (other !== digest) throw new Error(`the registry has ${cfg.image}:${t} at ${other}, not ${digest}; another push raced this one`);
      }
    } else if (imageId) {
      const inspected = await docker(['image', 'inspect', '--format', '{{.Size}}', imageId], { env, ...quiet });
      size = Number(inspected.stdout.trim()) || 0;
    }
    return { imageId, digest, size, cachedSteps: cache.cached, cacheFrom, buildMs, builder: builderName };
  } finally {
    if (cfgDir) rmSync(cfgDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
