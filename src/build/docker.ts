/** The docker CLI on the runner, as argument lists; secrets reach it only through stdin or the environment. */
import { spawn } from 'node:child_process';
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
  cacheFrom: string[];
  iidFile: string;
  platforms: string[];
}

export function buildArgs(b: BuildSpec): string[] {
  return [
    'build',
    '--file', b.file,
    '--iidfile', b.iidFile,
    ...b.tags.flatMap((t) => ['--tag', t]),
    ...Object.entries(b.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...b.buildArgNames.flatMap((n) => ['--build-arg', n]),
    ...(b.cacheFrom.length ? ['--build-arg', 'BUILDKIT_INLINE_CACHE=1', ...b.cacheFrom.flatMap((c) => ['--cache-from', c])] : []),
    ...(b.target ? ['--target', b.target] : []),
    ...(b.platforms.length ? ['--platform', b.platforms.join(',')] : []),
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
