/**
 * The sandbox: real servers on this machine, on loopback, for tests, the demo and the
 * benchmarks. `startSandbox` starts what is asked; `stop` stops exactly what it started.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeClientKeys, pathWithout, startHosts, stopHosts, type ClientKeys, type SandboxHost } from './hosts.js';
import { dockerPlugins } from './plugins.js';
import { randomBytes } from 'node:crypto';
import { isRoot, run, unmountUnder } from './procs.js';
import { createNet, deleteNet, type Net } from './netns.js';
import { buildMigratorImage, buildTestImages, startEngine, startRegistry, stopEngine, stopRegistry, type Engine, type Registry, type TestImages } from './docker.js';
import { startMariaDB, startPostgres, stopMariaDB, stopPostgres, type MariaDB, type Postgres } from './databases.js';

export type { SandboxHost, ClientKeys } from './hosts.js';
export type { Engine, Registry, TestImages } from './docker.js';
export type { Postgres, MariaDB } from './databases.js';
export type { Net } from './netns.js';

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
  /** Also build and push `ops/migrator:1` (psql + sh FROM scratch); needs images. */
  migrator?: boolean;
  /**
   * Put each host in its own network namespace (own loopback, sshd on port 22 of its own
   * address on a bridge this sandbox creates), as separate machines would be.
   */
  isolated?: boolean;
  /**
   * Which Compose each host has (one value for all, or one per host): `v1` (the
   * `docker-compose` 1.29 of Debian 12; the default), `v2` (the `docker compose` plugin
   * only: docker-compose is not on its PATH) or `both`.
   */
  compose?: ComposeFlavor | ComposeFlavor[];
  /** Give the runner side a docker config with the buildx plugin (`sb.dockerConfig`). */
  buildx?: boolean;
}

export type ComposeFlavor = 'v1' | 'v2' | 'both';

export interface Sandbox {
  root: string;
  hosts: SandboxHost[];
  keys: ClientKeys;
  /** Each host's engine, by host name (with `docker`). */
  engines: Map<string, Engine>;
  /** With `isolated`: the bridge joining the hosts' namespaces to this machine. */
  net?: Net;
  registry?: Registry;
  images?: TestImages;
  /** With `migrator`: the migration image reference. */
  migrator?: string;
  postgres?: Postgres;
  mariadb?: MariaDB;
  /** With `buildx`: a DOCKER_CONFIG directory whose cli-plugins has docker-buildx. */
  dockerConfig?: string;
  /** Which Compose each host has, by host name. */
  composeOf: Map<string, ComposeFlavor>;
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

/** A <base>.<n>.0/24 (10.213 by default) no interface on this machine uses yet. */
export async function freeNetIndex(base = '10.213'): Promise<number> {
  const used = (await run('ip', ['-4', '-o', 'addr'])).stdout;
  for (let k = 0; k < 250; k++) {
    const n = ((process.pid + k * 7) % 250) + 1;
    if (!used.includes(` ${base}.${n}.`)) return n;
  }
  throw new Error(`no free ${base}.x.0/24 for the sandbox network`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove what sandboxes of dead runs left behind (a killed test run cannot clean up):
 * their processes, namespaces, bridge, users and files, found by the tag each one records.
 */
async function reclaimStale(base: string): Promise<void> {
  for (const d of readdirSync(base)) {
    const dir = path.join(base, d);
    const ownerFile = path.join(dir, 'owner');
    if (!existsSync(ownerFile)) continue;
    const [pidText = '', tag = ''] = readFileSync(ownerFile, 'utf8').trim().split(' ');
    if (alive(Number(pidText)) || !/^[0-9a-f]{4}$/.test(tag)) continue;
    const users = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':')[0]!)
      .filter((u) => u.startsWith(`ops${tag}h`));
    for (const u of users) await run('pkill', ['-KILL', '-u', u]);
    await run('pkill', ['-KILL', '-f', dir]);
    for (const ns of (await run('ip', ['netns', 'list'])).stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`ops${tag}h`)))
      await run('ip', ['netns', 'del', ns]);
    await run('ip', ['link', 'del', `obr${tag}`]);
    for (const u of users) await run('userdel', [u]);
    await unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startSandbox(o: SandboxOptions = {}): Promise<Sandbox> {
  if (!isRoot()) throw new Error('the sandbox starts sshd, users and Docker engines: run it as root');
  const base = path.join(os.tmpdir(), 'ops-sandbox');
  mkdirSync(base, { recursive: true });
  await reclaimStale(base);
  const root = mkdtempSync(path.join(base, 'sbx-'));
  const tag = randomBytes(2).toString('hex');
  writeFileSync(path.join(root, 'owner'), `${process.pid} ${tag}\n`);
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
    let net: Net | undefined;
    if (o.isolated) {
      net = await createNet(tag, await freeNetIndex());
      const n = net;
      cleanups.push(() => deleteNet(n));
    }
    const docker = o.docker || (o.images?.length ?? 0) > 0;
    if (docker)
      cleanups.push(async () => {
        await Promise.all([...engines.values()].map((e) => stopEngine(e)));
      });
    const flavors = (i: number): ComposeFlavor => (Array.isArray(o.compose) ? (o.compose[i] ?? 'v1') : (o.compose ?? 'v1'));
    const composeOf = new Map<string, ComposeFlavor>();
    const needPlugins = (o.compose !== undefined && [o.compose].flat().some((f) => f !== 'v1')) || o.buildx;
    const plugins = needPlugins ? await dockerPlugins() : undefined;
    hosts = await startHosts(o.hosts ?? 1, keys, {
      root,
      net,
      tag,
      prepare: docker
        ? async (h) => {
            const e = await startEngine(path.join(h.dir, 'docker'), { gid: h.gid, netns: h.netns, insecureRegistry: net?.subnet });
            engines.set(h.name, e);
            h.dockerHost = e.host;
            h.sshdExtra.push(`SetEnv DOCKER_HOST=${e.host}`);
            const flavor = flavors(h.index);
            composeOf.set(h.name, flavor);
            if (flavor !== 'v1') {
              const dir = path.join(h.home, '.docker', 'cli-plugins');
              mkdirSync(dir, { recursive: true });
              copyFileSync(plugins!.compose, path.join(dir, 'docker-compose'));
              chmodSync(path.join(dir, 'docker-compose'), 0o755);
              for (const p of [path.join(h.home, '.docker'), dir, path.join(dir, 'docker-compose')]) chownSync(p, h.uid, h.gid);
            }
            if (flavor === 'v2') pathWithout(h, ['docker-compose']);
          }
        : undefined,
    });
    let dockerConfig: string | undefined;
    if (o.buildx) {
      dockerConfig = path.join(root, 'docker-config');
      mkdirSync(path.join(dockerConfig, 'cli-plugins'), { recursive: true });
      copyFileSync(plugins!.buildx, path.join(dockerConfig, 'cli-plugins', 'docker-buildx'));
      chmodSync(path.join(dockerConfig, 'cli-plugins', 'docker-buildx'), 0o755);
    }
    let registry: Registry | undefined;
    let images: TestImages | undefined;
    let migrator: string | undefined;
    if (o.images?.length) {
      registry = await startRegistry(path.join(root, 'registry'), net?.gateway);
      cleanups.push(() => stopRegistry(registry));
      images = await buildTestImages(engines.get(hosts[0]!.name)!, registry, o.images, root);
      if (o.migrator) migrator = await buildMigratorImage(engines.get(hosts[0]!.name)!, registry, root);
    }
    let postgres: Postgres | undefined;
    let mariadb: MariaDB | undefined;
    if (o.postgres) {
      postgres = await startPostgres(path.join(root, 'postgres'), net ? { address: net.gateway, subnet: net.subnet } : undefined);
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
      net,
      registry,
      images,
      migrator,
      postgres,
      mariadb,
      dockerConfig,
      composeOf,
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
