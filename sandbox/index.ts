/**
 * The sandbox: real servers on this machine, on loopback, for tests, the demo and the
 * benchmarks. `startSandbox` starts what is asked; `stop` stops exactly what it started.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeClientKeys, startHosts, stopHosts, type ClientKeys, type SandboxHost } from './hosts.js';
import { isRoot } from './procs.js';
import { buildTestImages, startEngine, startRegistry, stopEngine, stopRegistry, type Engine, type Registry, type TestImages } from './docker.js';
import { startMariaDB, startPostgres, stopMariaDB, stopPostgres, type MariaDB, type Postgres } from './databases.js';

export type { SandboxHost, ClientKeys } from './hosts.js';
export type { Engine, Registry, TestImages } from './docker.js';
export type { Postgres, MariaDB } from './databases.js';

export interface SandboxOptions {
  /** How many SSH hosts. */
  hosts?: number;
  /** Keep the files after stop (for debugging). */
  keep?: boolean;
  /** Start a Docker engine per host. */
  docker?: boolean;
  /** Start a registry and push the test images (`app:<version>` for each, `app:unhealthy`, `app:crash`); implies docker. */
  images?: string[];
  postgres?: boolean;
  mariadb?: boolean;
}

export interface Sandbox {
  root: string;
  hosts: SandboxHost[];
  keys: ClientKeys;
  /** Each host's engine, by host name (with `docker`). */
  engines: Map<string, Engine>;
  registry?: Registry;
  images?: TestImages;
  postgres?: Postgres;
  mariadb?: MariaDB;
  /** known_hosts lines for every host. */
  knownHosts(hosts?: SandboxHost[]): string;
  /** The `hosts` input for these hosts. */
  hostsInput(hosts?: SandboxHost[]): string;
  /** Inputs that reach the given hosts with the ed25519 key, host keys pinned. */
  sshInputs(hosts?: SandboxHost[]): Record<string, string>;
  stop(): Promise<void>;
  /** Register extra cleanup run by stop (last registered first). */
  onStop(fn: () => Promise<void>): void;
}

export async function startSandbox(o: SandboxOptions = {}): Promise<Sandbox> {
  if (!isRoot()) throw new Error('the sandbox starts sshd, users and Docker engines: run it as root');
  const base = path.join(os.tmpdir(), 'ops-sandbox');
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(path.join(base, 'sbx-'));
  // Each host's user reads its own home under here.
  chmodSync(base, 0o755);
  chmodSync(root, 0o755);
  const cleanups: (() => Promise<void>)[] = [];
  let hosts: SandboxHost[] = [];
  const stop = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e) => console.error('sandbox cleanup:', e));
    cleanups.length = 0;
    await stopHosts(hosts);
    if (!o.keep) rmSync(root, { recursive: true, force: true });
  };
  try {
    const keys = await makeClientKeys(path.join(root, 'client'));
    const engines = new Map<string, Engine>();
    const docker = o.docker || (o.images?.length ?? 0) > 0;
    if (docker) cleanups.push(async () => {
      await Promise.all([...engines.values()].map((e) => stopEngine(e)));
    });
    hosts = await startHosts(o.hosts ?? 1, keys, {
      root,
      prepare: docker
        ? async (h) => {
            const e = await startEngine(path.join(h.dir, 'docker'), { gid: h.gid });
            engines.set(h.name, e);
            h.dockerHost = e.host;
            h.sshdExtra.push(`SetEnv DOCKER_HOST=${e.host}`);
          }
        : undefined,
    });
    let registry: Registry | undefined;
    let images: TestImages | undefined;
    if (o.images?.length) {
      registry = await startRegistry(path.join(root, 'registry'));
      cleanups.push(() => stopRegistry(registry));
      images = await buildTestImages(engines.get(hosts[0]!.name)!, registry, o.images, root);
    }
    let postgres: Postgres | undefined;
    let mariadb: MariaDB | undefined;
    if (o.postgres) {
      postgres = await startPostgres(path.join(root, 'postgres'));
      cleanups.push(() => stopPostgres(postgres));
    }
    if (o.mariadb) {
      mariadb = await startMariaDB(path.join(root, 'mariadb'));
      cleanups.push(() => stopMariaDB(mariadb));
    }
    const sb: Sandbox = {
      root,
      hosts,
      keys,
      engines,
      registry,
      images,
      postgres,
      mariadb,
      knownHosts: (hs = hosts) => hs.map((h) => h.knownHosts).join(''),
      hostsInput: (hs = hosts) => hs.map((h) => h.spec).join('\n'),
      sshInputs: (hs = hosts) => ({
        hosts: hs.map((h) => h.spec).join('\n'),
        'ssh-key': keys.ed25519.privateKey,
        'known-hosts': hs.map((h) => h.knownHosts).join(''),
      }),
      stop,
      onStop: (fn) => cleanups.push(fn),
    };
    return sb;
  } catch (e) {
    await stop();
    throw e;
  }
}
