/**
 * Docker Compose on a host, as data: `docker compose` (v2) or `docker-compose` (v1) with a
 * release's project name, files and env file; and the docker commands around it.
 */
import path from 'node:path';
import { sh, shScript, userScript, type Command } from '../shell/index.js';

/** Which Compose to call and with what: everything `composeArgs` needs, no host context. */
export interface ComposeCall {
  flavor: 'v1' | 'v2';
  /** The release directory (project directory; holds the files and .env). */
  dir: string;
  project: string;
  files: string[];
  /** Variables every call of this project gets (a blue-green color's OPS_COLOR and OPS_PORT). */
  env?: Record<string, string>;
}

/** `env K=V ...` before a compose call that has variables of its own. */
const envPrefix = (c: ComposeCall): string[] => (c.env && Object.keys(c.env).length ? ['env', ...Object.entries(c.env).map(([k, v]) => `${k}=${v}`)] : []);

/** `docker compose` / `docker-compose` with the release's project, files and `--env-file`. */
export function composeArgs(c: ComposeCall): string[] {
  const bin = c.flavor === 'v2' ? ['docker', 'compose'] : ['docker-compose'];
  return [
    ...envPrefix(c),
    ...bin,
    '--project-name',
    c.project,
    '--project-directory',
    c.dir,
    ...c.files.flatMap((f) => ['-f', path.posix.join(c.dir, f)]),
    '--env-file',
    path.posix.join(c.dir, '.env'),
  ];
}

export function pullCommand(c: ComposeCall, services: string[]): Command {
  return [...composeArgs(c), 'pull', '--quiet', ...services];
}

export function upCommand(c: ComposeCall, services: string[]): Command {
  return [...composeArgs(c), 'up', '-d', '--remove-orphans', ...services];
}

/** The repository digests of a local image, one per line. */
export function repoDigestsCommand(image: string): Command {
  return ['docker', 'image', 'inspect', '--format', '{{join .RepoDigests "\\n"}}', image];
}

export function removeImagesCommand(images: string[]): Command {
  return ['docker', 'image', 'rm', ...images];
}

/** Every container of a compose project, one line each (service|oneoff|name|status|restarts|exit|policy|health). */
export function containersCommand(project: string): Command {
  return shScript(
    sh`ids=$(docker ps -aq --filter "label=com.docker.compose.project=$1")
[ -n "$ids" ] || exit 0
docker inspect --format '{{index .Config.Labels "com.docker.compose.service"}}|{{index .Config.Labels "com.docker.compose.oneoff"}}|{{.Name}}|{{.State.Status}}|{{.RestartCount}}|{{.State.ExitCode}}|{{.HostConfig.RestartPolicy.Name}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}' $ids`,
    project,
  );
}

/** Write the resolved compose config (it holds the env values: 0600) to `file`. */
export function resolvedConfigCommand(c: ComposeCall, file: string): Command {
  return shScript(sh`f=$1; shift; umask 077; "$@" config > "$f"`, file, ...composeArgs(c));
}

/** The one-off service a compose v1 migration runs as. */
export const oneOffService = (service: string) => `${service}-ops-oneoff`;

/** `services: <svc>-ops-oneoff: extends: {file: <resolved config>, service: <svc>}` */
export function oneOffOverride(configFile: string, service: string): string {
  return `services:\n  ${oneOffService(service)}:\n    extends:\n      file: ${JSON.stringify(configFile)}\n      service: ${JSON.stringify(service)}\n`;
}

/** `-e K=V` for each variable (names and values are data, never syntax). */
const envArgs = (env: Record<string, string>) => Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

/** A user's script, fail-fast, in a one-off container of `service` (`compose run --rm -T`). */
export function runOneOffCommand(c: ComposeCall, service: string, script: string, env: Record<string, string>): Command {
  return [...composeArgs(c), 'run', '--rm', '-T', ...envArgs(env), service, ...userScript(script)];
}

/**
 * The same on compose v1, as a copy of the service (see `oneOffOverride`): v1 cannot `run` a
 * one-off of a service that is running with `network_mode: host`.
 */
export function runOneOffCopyCommand(c: ComposeCall, files: { config: string; override: string }, service: string, script: string, env: Record<string, string>): Command {
  return [
    ...envPrefix(c),
    'docker-compose',
    '--project-name',
    c.project,
    '--project-directory',
    c.dir,
    '-f',
    files.config,
    '-f',
    files.override,
    'run',
    '--rm',
    '-T',
    ...envArgs(env),
    oneOffService(service),
    ...userScript(script),
  ];
}

/** A user's script, fail-fast, inside the running `service` (`compose exec -T`). */
export function execInServiceCommand(c: ComposeCall, service: string, script: string, env: Record<string, string>): Command {
  return [...composeArgs(c), 'exec', '-T', ...envArgs(env), service, ...userScript(script)];
}

/** Every container of the release's project, stopped ones too (for failure diagnostics). */
export function psCommand(c: ComposeCall): Command {
  return [...composeArgs(c), 'ps', '-a'];
}

/** The last `lines` lines of the services' logs (all services when none are named). */
export function logsCommand(c: ComposeCall, services: string[], lines: number): Command {
  return [...composeArgs(c), 'logs', '--no-color', '--tail', String(lines), ...services];
}
