/**
 * Isolated hosts: each in its own network namespace with its own loopback (so every host
 * can run its app on 127.0.0.1:8080, as real servers do), joined to the runner by a veth
 * pair on a bridge that this sandbox creates. Nothing here routes beyond that bridge.
 */
import { ensurePackages, must, run } from './procs.js';

export interface Net {
  bridge: string;
  /** The /24 this sandbox owns, e.g. `10.213.7`. */
  prefix: string;
  /** The runner side (bridge) address. */
  gateway: string;
  subnet: string;
}

/** A bridge with `<base>.<index>.1/24` (10.213 unless another base is asked for). */
export async function createNet(tag: string, index: number, base = '10.213'): Promise<Net> {
  ensurePackages(['iproute2']);
  const prefix = `${base}.${index}`;
  const bridge = `obr${tag}`;
  await must('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await must('ip', ['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
  await must('ip', ['link', 'set', bridge, 'up']);
  return { bridge, prefix, gateway: `${prefix}.1`, subnet: `${prefix}.0/24` };
}

export async function deleteNet(net: Net): Promise<void> {
  await run('ip', ['link', 'del', net.bridge]);
}

export interface Namespace {
  name: string;
  address: string;
  /** The path nsenter takes. */
  path: string;
}

/** A namespace with loopback up and `eth0` on the bridge at `<prefix>.<10+i>`. */
export async function createNamespace(net: Net, tag: string, i: number): Promise<Namespace> {
  const name = `ops${tag}h${String(i + 1).padStart(2, '0')}`;
  const veth = `ove${tag}${i + 1}`;
  const address = `${net.prefix}.${10 + i}`;
  await run('ip', ['netns', 'del', name]);
  await must('ip', ['netns', 'add', name]);
  await must('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
  await must('ip', ['link', 'set', veth, 'master', net.bridge]);
  await must('ip', ['link', 'set', veth, 'up']);
  await must('ip', ['-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await must('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
  await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, address, path: `/var/run/netns/${name}` };
}

export async function deleteNamespace(ns: Namespace): Promise<void> {
  // Deleting the namespace removes its end of the veth pair, and with it ours.
  await run('ip', ['netns', 'del', ns.name]);
}

/** argv prefix that runs a program inside the namespace (nsenter execs it: same pid). */
export function inNamespace(ns: Namespace | undefined, argv: string[]): [string, string[]] {
  if (!ns) return [argv[0]!, argv.slice(1)];
  return ['nsenter', [`--net=${ns.path}`, '--', ...argv]];
}
