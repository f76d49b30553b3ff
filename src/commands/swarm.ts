/**
 * Docker Swarm on a manager, as data: the node's role, `docker stack deploy` of a release
 * (its files and its 0600 environment file, never on a command line), the stack's services
 * and tasks as tab-separated facts, and `docker service rollback`.
 */
import path from 'node:path';
import { sh, shScript, type Command } from '../shell/index.js';

/** `<LocalNodeState> <ControlAvailable>`: `active true` on a manager. */
export function swarmRoleCommand(): Command {
  return ['docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'];
}

/** Pull an image on the manager (to learn its digest). */
export function pullImageCommand(image: string): Command {
  return ['docker', 'pull', '--quiet', image];
}

/**
 * `docker stack deploy` of a release: the variables of its `stack.env` (KEY=VALUE lines,
 * written by the action) exported one by one with `export "$line"` (never evaluated), then
 * the stack deployed from the release directory with its files, registry credentials sent
 * to the nodes, services no longer in the files removed, and each image resolved to a
 * digest by the registry. After the exports only positional parameters are read, so no
 * variable of the file can change the stack, the directory or the files deployed.
 */
export function stackDeployCommand(dir: string, stack: string, files: string[]): Command {
  return shScript(
    sh`cd "$1"; shift
while IFS= read -r ops_line || [ -n "$ops_line" ]; do
  case "$ops_line" in ''|'#'*) continue ;; esac
  export "$ops_line"
done < stack.env
set -- docker stack deploy --with-registry-auth --prune --resolve-image always "$@"
"$@"`,
    dir,
    ...files.flatMap((f) => ['-c', path.posix.join(dir, f)]),
    stack,
  );
}

/**
 * The stack's services and their update, each followed by its tasks that should be running,
 * as tab-separated lines (no environment, no labels: nothing secret):
 * `now\t<manager's epoch seconds>`
 * `svc\tname\tid\tmode\treplicas (as service ls shows them)\tspec version\tupdate state\tupdate started (RFC 3339)\timage\tmessage`
 * `task\tservice name\ttask name\tnode\tdesired state\tcurrent state\timage\terror`
 */
export function stackStatusCommand(stack: string): Command {
  return shScript(
    sh`stack=$1
printf 'now\t%s\n' "$(date +%s)"
list=$(docker service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.ID}}\t{{.Replicas}}')
[ -n "$list" ] || exit 0
printf '%s\n' "$list" | while IFS='\t' read -r id replicas; do
  line=$(docker service inspect --format '{{.Spec.Name}}\t{{.ID}}\t{{if .Spec.Mode.Global}}global{{else if .Spec.Mode.Replicated}}replicated{{else}}job{{end}}\t{{.Version.Index}}\t{{if .UpdateStatus}}{{.UpdateStatus.State}}\t{{if .UpdateStatus.StartedAt}}{{.UpdateStatus.StartedAt.Format "2006-01-02T15:04:05.000000000Z07:00"}}{{end}}{{else}}\t{{end}}\t{{.Spec.TaskTemplate.ContainerSpec.Image}}\t{{if .UpdateStatus}}{{.UpdateStatus.Message}}{{end}}' "$id" < /dev/null | tr -d '\r\n')
  name=\${line%%\t*}; rest=\${line#*\t}
  sid=\${rest%%\t*}; rest=\${rest#*\t}
  mode=\${rest%%\t*}; rest=\${rest#*\t}
  printf 'svc\t%s\t%s\t%s\t%s\t%s\n' "$name" "$sid" "$mode" "$replicas" "$rest"
  docker service ps --no-trunc --filter desired-state=running --format '{{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Image}}\t{{.Error}}' "$id" < /dev/null | while IFS= read -r t; do
    printf 'task\t%s\t%s\n' "$name" "$t"
  done
done`,
    stack,
  );
}

/** Swarm's own rollback of each service to its previous spec, started without waiting. */
export function serviceRollbackCommand(services: string[]): Command {
  return shScript(sh`for s in "$@"; do docker service rollback --detach "$s" >/dev/null; done`, ...services);
}

/** Every task of the stack, failed ones too (for failure diagnostics; no environment). */
export function stackPsCommand(stack: string): Command {
  return ['docker', 'stack', 'ps', '--no-trunc', '--format', '{{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}', stack];
}

/** The last `lines` lines of each service's log. */
export function serviceLogsCommand(services: string[], lines: number): Command {
  return shScript(
    sh`n=$1; shift
for s in "$@"; do echo "--- $s"; docker service logs --no-task-ids --raw --tail "$n" "$s" 2>&1 || true; done`,
    String(lines),
    ...services,
  );
}
