/**
 * The sandbox: real servers on this machine, on loopback, for tests, the demo and the
 * benchmarks. `startSandbox` starts what is asked; `stop` stops exactly what it started.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeClientKeys, startHosts, stopHosts, type ClientKeys, type SandboxHost } from './hosts.js';
import { isRoot } from './procs.js';

export type { SandboxHost, ClientKeys } from './hosts.js';

export interface SandboxOptions {
  /** How many SSH hosts. */
  hosts?: number;
  /** Keep the files after stop (for debugging). */
  keep?: boolean;
  /** Start a Docker engine per host (and the shared registry). */
  docker?: boolean;
}

export interface Sandbox {
  root: string;
  hosts: SandboxHost[];
  keys: ClientKeys;
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
    hosts = await startHosts(o.hosts ?? 1, keys, { root });
    const sb: Sandbox = {
      root,
      hosts,
      keys,
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
