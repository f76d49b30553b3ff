/** A compose project's containers as `docker inspect` describes them, read through one session. */
import { containersCommand } from '../commands/index.js';
import type { SshSession } from './session.js';

/** One container of a compose project. */
export interface ContainerState {
  service: string;
  name: string;
  oneoff: boolean;
  status: string;
  restarts: number;
  exitCode: number;
  restartPolicy: string;
  /** The Docker healthcheck's status (`healthy`, `unhealthy`, `starting`), or '' when it has none. */
  health: string;
}

export function parseContainers(stdout: string): ContainerState[] {
  return stdout
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const [service = '', oneoff = '', name = '', status = '', restarts = '0', exitCode = '0', restartPolicy = '', health = ''] = l.split('|');
      return { service, oneoff: oneoff === 'True', name: name.replace(/^\//, ''), status, restarts: Number(restarts) || 0, exitCode: Number(exitCode) || 0, restartPolicy, health };
    });
}

/** The project's service containers (not one-off runs), optionally only the given services. */
export async function readProjectContainers(session: SshSession, project: string, services?: string[]): Promise<ContainerState[]> {
  const r = await session.run(containersCommand(project), { step: 'containers' });
  const wanted = services?.length ? new Set(services) : undefined;
  return parseContainers(r.stdout).filter((c) => !c.oneoff && (!wanted || wanted.has(c.service)));
}

/** A container that is meant to stay exited: a one-shot service that exited 0 without a restart policy. */
export function isOneShot(c: ContainerState): boolean {
  return c.status === 'exited' && c.exitCode === 0 && (c.restartPolicy === 'no' || c.restartPolicy === '');
}
