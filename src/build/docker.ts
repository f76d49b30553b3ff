/** The docker CLI on the runner, as argument lists; secrets reach it only through stdin, files or the environment. */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the docker CLI; output is streamed to the log (redacted by the logger) and captured. */
export function docker(args: string[], o: { env?: NodeJS.ProcessEnv; input?: string; logger: Logger; quiet?: boolean }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const emit = (chunk: string) => {
      if (!o.quiet) for (const l of chunk.replace(/\n$/, '').split('\n')) o.logger.info(l);
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      emit(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      emit(d.toString());
    });
    child.on('error', (e) => reject(new Error(`cannot run docker: ${e.message}; is the Docker CLI installed on the runner?`)));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}

export interface BuildSpec {
  context: string;
  file: string;
  tags: string[];
  labels: Record<string, string>;
  /** Names only: values are passed in the environment, never on the command line. */
  buildArgNames: string[];
  target?: string;
  /** Images whose inline cache metadata seeds the build. */
  cacheFrom: string[];
  iidFile: string;
  platforms: string[];
  /** Network for RUN steps (`none`, `host`); the builder's default when unset. */
  network?: string;
}

/** `docker build` (the classic builder, or BuildKit behind it): no secrets, inline cache only. */
export function buildArgs(b: BuildSpec): string[] {
  return [
    'build',
    '--file',
    b.file,
    '--iidfile',
    b.iidFile,
    ...b.tags.flatMap((t) => ['--tag', t]),
    ...Object.entries(b.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...b.buildArgNames.flatMap((n) => ['--build-arg', n]),
    ...(b.cacheFrom.length ? ['--build-arg', 'BUILDKIT_INLINE_CACHE=1', ...b.cacheFrom.flatMap((c) => ['--cache-from', c])] : []),
    ...(b.target ? ['--target', b.target] : []),
    ...(b.platforms.length ? ['--platform', b.platforms.join(',')] : []),
    ...(b.network ? ['--network', b.network] : []),
    b.context,
  ];
}

export interface BuildxSpec extends BuildSpec {
  metadataFile: string;
  /** BuildKit secrets: id → a file holding the value (0600, in a private directory). */
  secretFiles: Record<string, string>;
  push: boolean;
  /** The builder's driver: `docker` keeps images in the engine and caches inline only. */
  driver: string;
  /** Reuse and write build cache. */
  cache: boolean;
  /** Where registry cache goes on drivers that can export it (`<image>:buildcache`). */
  cacheRef?: string;
}

/**
 * `docker buildx build`. Cache: with the `docker` driver, inline cache metadata in the pushed
 * image and `type=registry` import of the previous images (the only export that driver
 * has); with `docker-container`/`remote` drivers, a `type=registry` cache image
 * (`<image>:buildcache`, mode=max). Without push, the image is loaded into the engine.
 */
export function buildxArgs(b: BuildxSpec): string[] {
  const docker = b.driver === 'docker';
  const cache = !b.cache
    ? []
    : docker
      ? [...b.cacheFrom.flatMap((c) => ['--cache-from', `type=registry,ref=${c}`]), ...(b.push ? ['--cache-to', 'type=inline'] : [])]
      : b.cacheRef
        ? ['--cache-from', `type=registry,ref=${b.cacheRef}`, ...(b.push ? ['--cache-to', `type=registry,ref=${b.cacheRef},mode=max`] : [])]
        : [];
  return [
    'buildx',
    'build',
    '--progress',
    'plain',
    '--file',
    b.file,
    '--iidfile',
    b.iidFile,
    '--metadata-file',
    b.metadataFile,
    ...b.tags.flatMap((t) => ['--tag', t]),
    ...Object.entries(b.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...b.buildArgNames.flatMap((n) => ['--build-arg', n]),
    ...Object.entries(b.secretFiles).flatMap(([id, file]) => ['--secret', `id=${id},src=${file}`]),
    ...cache,
    ...(b.target ? ['--target', b.target] : []),
    ...(b.platforms.length ? ['--platform', b.platforms.join(',')] : []),
    ...(b.network ? ['--network', b.network] : []),
    ...(b.push ? ['--push'] : docker ? [] : ['--load']),
    b.context,
  ];
}

/** How many build steps were served from cache (legacy builder: "Using cache"; BuildKit: "CACHED"). */
export function cachedSteps(output: string): { cached: number; steps: number } {
  const cached = (output.match(/Using cache|\bCACHED\b/g) ?? []).length;
  const steps = (output.match(/^Step \d+\/\d+ :|^#\d+ \[[^\]]*\d+\/\d+\]/gm) ?? []).length;
  return { cached, steps };
}

/**
 * Build-arg names that must not be set: their values reach docker through the CLI's own
 * environment, so these would redirect the CLI itself (its PATH, config, daemon, TLS).
 */
export function reservedBuildArg(name: string): boolean {
  return /^(PATH|HOME|USER|SHELL|TMPDIR|GODEBUG|GOTRACEBACK|SSL_CERT_FILE|SSL_CERT_DIR|LD_.*|DOCKER_.*|BUILDKIT_.*|BUILDX_.*|XDG_.*)$/i.test(name);
}

/** The docker config directory the CLI uses now. */
export function currentDockerConfig(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
}

/**
 * A private docker config for one build: credentials from `docker login` land here and
 * nowhere else. The user's CLI plugins (buildx), builder instances and contexts stay
 * available, and their config.json is kept without its credentials.
 */
export function privateDockerConfig(parent: string, base = currentDockerConfig()): string {
  const dir = mkdtempSync(path.join(parent, 'docker-config-'));
  for (const sub of ['cli-plugins', 'buildx', 'contexts']) {
    const from = path.join(base, sub);
    if (existsSync(from)) symlinkSync(from, path.join(dir, sub));
  }
  const cfg = path.join(base, 'config.json');
  if (existsSync(cfg)) {
    try {
      const j = JSON.parse(readFileSync(cfg, 'utf8')) as Record<string, unknown>;
      delete j.auths;
      delete j.credsStore;
      delete j.credHelpers;
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(j, null, 2), { mode: 0o600 });
    } catch {
      /* an unreadable config: start empty */
    }
  } else if (existsSync(path.join(base, 'daemon.json'))) copyFileSync(path.join(base, 'daemon.json'), path.join(dir, 'daemon.json'));
  return dir;
}

/** The builder on this runner: buildx with its driver, or the classic `docker build`. */
export async function detectBuilder(env: NodeJS.ProcessEnv, logger: Logger): Promise<{ kind: 'buildx'; driver: string; version: string } | { kind: 'docker' }> {
  const v = await docker(['buildx', 'version'], { env, logger, quiet: true }).catch(() => ({ code: 1, stdout: '', stderr: '' }));
  if (v.code !== 0) return { kind: 'docker' };
  const inspect = await docker(['buildx', 'inspect'], { env, logger, quiet: true });
  const driver = /^Driver:\s*(\S+)/m.exec(inspect.stdout)?.[1] ?? 'docker';
  return { kind: 'buildx', driver, version: v.stdout.trim().split(/\s+/).slice(1, 2).join('') };
}
