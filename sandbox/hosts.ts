/**
 * Independent SSH hosts on loopback: each its own address (127.77.<n>.<i>), sshd, host
 * keys, non-root deploy user and home, and (optionally) its own Docker engine, reachable
 * through `DOCKER_HOST` set by sshd for that host's sessions.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { daemon, ensurePackages, freePort, must, readPid, run, sleep, stopPid, waitForPort } from './procs.js';
import { createNamespace, deleteNamespace, inNamespace, type Namespace, type Net } from './netns.js';

export interface HostKey {
  type: string;
  publicLine: string;
  fingerprint: string;
}

export interface ClientKey {
  type: string;
  privateKey: string;
  publicLine: string;
  passphrase?: string;
}

export interface SandboxHost {
  index: number;
  name: string;
  address: string;
  port: number;
  user: string;
  uid: number;
  gid: number;
  home: string;
  dir: string;
  hostKeys: HostKey[];
  /** known_hosts lines for this host (every key type). */
  knownHosts: string;
  /** `user@address:port`, as the `hosts` input takes it. */
  spec: string;
  /** Set when the host has its own Docker engine. */
  dockerHost?: string;
  sshdPid?: number;
  /** Its host-wide state directory ($OPS_ACTIONS_HOST_DIR: where the maintenance lock lives). */
  hostStateDir: string;
  /** Extra sshd_config lines (e.g. SetEnv). */
  sshdExtra: string[];
  /** Set for isolated hosts: the host's own network namespace (own loopback). */
  netns?: Namespace;
  /** sshd runs as PID 1 of a PID namespace of its own, which `~/.sandbox-reboot` restarts (see makeRebootable). */
  rebootable?: boolean;
}

export const SANDBOX_PACKAGES = ['openssh-server', 'openssh-client', 'procps', 'wget', 'openssl'];

let instances = 0;

async function keygen(file: string, type: string, comment: string, passphrase = ''): Promise<void> {
  const bits = type === 'rsa' ? ['-b', '3072'] : type === 'ecdsa' ? ['-b', '256'] : [];
  await must('ssh-keygen', ['-q', '-t', type, ...bits, '-N', passphrase, '-C', comment, '-f', file]);
}

async function readKeyInfo(pubFile: string): Promise<HostKey> {
  const publicLine = (await must('cat', [pubFile])).trim().split(/\s+/).slice(0, 2).join(' ');
  const fp = (await must('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile])).trim().split(/\s+/)[1]!;
  return { type: publicLine.split(' ')[0]!, publicLine, fingerprint: fp };
}

/** Generate a set of host keys (ed25519, ecdsa, rsa) into `dir`. */
export async function makeHostKeys(dir: string): Promise<{ files: string[]; keys: HostKey[] }> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const keys: HostKey[] = [];
  for (const t of ['ed25519', 'ecdsa', 'rsa']) {
    const f = path.join(dir, `ssh_host_${t}_key`);
    await keygen(f, t, 'sandbox-host');
    files.push(f);
    keys.push(await readKeyInfo(`${f}.pub`));
  }
  return { files, keys };
}

export function knownHostsFor(address: string, port: number, keys: HostKey[]): string {
  const name = port === 22 ? address : `[${address}]:${port}`;
  return keys.map((k) => `${name} ${k.publicLine}`).join('\n') + '\n';
}

function sshdConfig(h: SandboxHost, hostKeyFiles: string[]): string {
  const setenv = h.sshdExtra.filter((l) => l.startsWith('SetEnv ')).flatMap((l) => l.slice(7).trim().split(/\s+/));
  return (
    [
      `Port ${h.port}`,
      `ListenAddress ${h.address}`,
      ...hostKeyFiles.map((f) => `HostKey ${f}`),
      `PidFile ${path.join(h.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(h.home, '.ssh', 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${h.user}`,
      'AllowTcpForwarding yes',
      'Subsystem sftp internal-sftp',
      'LogLevel DEBUG1',
      'MaxStartups 100:30:200',
      'MaxSessions 50',
      // sshd takes only the first SetEnv line: every variable goes on one.
      ...(setenv.length ? [`SetEnv ${setenv.join(' ')}`] : []),
      ...h.sshdExtra.filter((l) => !l.startsWith('SetEnv ')),
    ].join('\n') + '\n'
  );
}

/**
 * A host that can be rebooted: sshd runs as PID 1 of a PID namespace of its own (so it has
 * its own /proc/1 and a new PID 1 start time, the boot marker a restarted container shows).
 * When the host's user creates ~/.sandbox-reboot, the supervisor kills the namespace (every
 * session drops), waits a moment and starts it again. While the file `halt` in the host's
 * directory exists, it stays down (a host that does not come back).
 */
const REBOOT_SUPERVISOR = `req=$1; halt=$2; shift 2
while :; do
  while [ -e "$halt" ]; do sleep 0.2; done
  unshare --pid --fork --kill-child --mount-proc "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    # unshare ignores TERM while it waits: kill the namespace's PID 1 (its child) instead.
    if [ -e "$req" ]; then rm -f "$req"; pkill -KILL -P "$pid"; wait "$pid" 2>/dev/null; sleep 1; break; fi
    sleep 0.2
  done
done`;

/** Make a host rebootable (restarts its sshd under the reboot supervisor). */
export async function makeRebootable(h: SandboxHost): Promise<void> {
  await stopSshd(h);
  h.rebootable = true;
  await startSshd(h);
}

/** Let the host's user run anything as root through sudo, with or without a password. */
export function grantSudo(h: SandboxHost, o: { nopasswd: boolean }): void {
  ensurePackages(['sudo']);
  writeFileSync(sudoersFile(h), `${h.user} ALL=(ALL) ${o.nopasswd ? 'NOPASSWD: ' : ''}ALL\n`, { mode: 0o440 });
}

const sudoersFile = (h: SandboxHost) => `/etc/sudoers.d/${h.user}`;

/** Start (or restart) a host's sshd with the given host keys (its own by default). */
export async function startSshd(h: SandboxHost, hostKeyDir = path.join(h.dir, 'hostkeys')): Promise<number> {
  const files = ['ed25519', 'ecdsa', 'rsa'].map((t) => path.join(hostKeyDir, `ssh_host_${t}_key`));
  const conf = path.join(h.dir, hostKeyDir.endsWith('hostkeys') ? 'sshd_config' : 'sshd_config.alt');
  writeFileSync(conf, sshdConfig(h, files));
  mkdirSync('/run/sshd', { recursive: true });
  const log = path.join(h.dir, 'sshd.log');
  // -D: stay in the foreground so the pid we track is sshd itself (or its supervisor).
  const sshd = ['/usr/sbin/sshd', '-D', '-f', conf, '-E', log];
  const argv = h.rebootable ? ['sh', '-c', REBOOT_SUPERVISOR, 'supervisor', path.join(h.home, '.sandbox-reboot'), path.join(h.dir, 'halt'), ...sshd] : sshd;
  const [cmd, args] = inNamespace(h.netns, argv);
  const pid = daemon(cmd, args, { log: path.join(h.dir, 'sshd.out') });
  await waitForPort(h.address, h.port, { banner: 'SSH-2.0', pid, log });
  h.sshdPid = pid;
  return pid;
}

/**
 * Give the host's SSH sessions a PATH without some commands (e.g. `timeout`, as on hosts
 * without coreutils): a directory of links to everything else on the system PATH, set by
 * sshd's SetEnv. Restarts sshd.
 */
export async function hideCommands(h: SandboxHost, hidden: string[]): Promise<void> {
  pathWithout(h, hidden);
  await stopSshd(h);
  await startSshd(h);
}

/** Set up the restricted PATH of hideCommands, for an sshd not started yet. */
export function pathWithout(h: SandboxHost, hidden: string[]): void {
  const bin = path.join(h.dir, 'bin');
  rmSync(bin, { recursive: true, force: true });
  mkdirSync(bin, { recursive: true });
  for (const d of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (hidden.includes(n) || existsSync(path.join(bin, n))) continue;
      symlinkSync(path.join(d, n), path.join(bin, n));
    }
  }
  h.sshdExtra = h.sshdExtra.filter((l) => !l.startsWith('SetEnv PATH='));
  h.sshdExtra.push(`SetEnv PATH=${bin}`);
}

export async function stopSshd(h: SandboxHost): Promise<void> {
  if (h.rebootable && h.sshdPid) {
    // The supervisor, its unshare and the namespace's sshd are one process group.
    try {
      process.kill(-h.sshdPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await stopPid(h.sshdPid ?? readPid(path.join(h.dir, 'sshd.pid')));
  h.sshdPid = undefined;
}

async function addUser(name: string, home: string): Promise<{ uid: number; gid: number }> {
  for (let i = 0; i < 50; i++) {
    const r = await run('useradd', ['-M', '-d', home, '-s', '/bin/bash', '-U', '-p', '*', name]);
    if (r.code === 0 || /already exists/.test(r.stderr)) break;
    if (!/lock/i.test(r.stderr)) throw new Error(`useradd ${name}: ${r.stderr}`);
    await sleep(100 + Math.random() * 200);
  }
  const uid = Number((await must('id', ['-u', name])).trim());
  const gid = Number((await must('id', ['-g', name])).trim());
  return { uid, gid };
}

async function delUser(name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await run('userdel', [name]);
    if (r.code === 0 || /does not exist/.test(r.stderr)) return;
    if (!/lock|currently used/i.test(r.stderr)) return;
    await sleep(100 + Math.random() * 200);
  }
}

export interface HostsOptions {
  /** Where the sandbox keeps its files. */
  root: string;
  /** Called per host before sshd starts, e.g. to start a Docker engine and add SetEnv. */
  prepare?: (h: SandboxHost) => Promise<void>;
  /** Put each host in its own network namespace on this bridge (port 22 on its own address). */
  net?: Net;
  tag?: string;
}

export interface ClientKeys {
  ed25519: ClientKey;
  ecdsa: ClientKey;
  rsa: ClientKey;
  /** ed25519, encrypted with a passphrase. */
  encrypted: ClientKey;
  /** A valid key that no host authorizes. */
  unauthorized: ClientKey;
}

export async function makeClientKeys(dir: string): Promise<ClientKeys> {
  mkdirSync(dir, { recursive: true });
  const make = async (file: string, type: string, passphrase?: string): Promise<ClientKey> => {
    const f = path.join(dir, file);
    await keygen(f, type, `ops-actions-sandbox-${file}`, passphrase ?? '');
    const info = await readKeyInfo(`${f}.pub`);
    return { type: info.type, privateKey: await must('cat', [f]), publicLine: info.publicLine, passphrase };
  };
  return {
    ed25519: await make('id_ed25519', 'ed25519'),
    ecdsa: await make('id_ecdsa', 'ecdsa'),
    rsa: await make('id_rsa', 'rsa'),
    encrypted: await make('id_encrypted', 'ed25519', `pass-${randomBytes(6).toString('hex')}`),
    unauthorized: await make('id_other', 'ed25519'),
  };
}

/** Create and start `n` hosts. */
export async function startHosts(n: number, keys: ClientKeys, o: HostsOptions): Promise<SandboxHost[]> {
  ensurePackages(SANDBOX_PACKAGES);
  const tag = o.tag ?? randomBytes(2).toString('hex');
  // A /24 per sandbox in 127.77.0.0/16, so parallel sandboxes never share an address.
  const net = ((process.pid + instances++ * 37) % 250) + 1;
  const authorized = [keys.ed25519, keys.ecdsa, keys.rsa, keys.encrypted].map((k) => k.publicLine).join('\n') + '\n';
  const make = async (i: number): Promise<SandboxHost> => {
    const netns = o.net ? await createNamespace(o.net, tag, i) : undefined;
    const address = netns ? netns.address : `127.77.${net}.${i + 1}`;
    const port = netns ? 22 : await freePort(address);
    const dir = path.join(o.root, `host${String(i + 1).padStart(2, '0')}`);
    const home = path.join(dir, 'home');
    mkdirSync(path.join(home, '.ssh'), { recursive: true });
    const user = `ops${tag}h${String(i + 1).padStart(2, '0')}`;
    const { uid, gid } = await addUser(user, home);
    writeFileSync(path.join(home, '.ssh', 'authorized_keys'), authorized);
    chmodSync(path.join(home, '.ssh', 'authorized_keys'), 0o600);
    for (const p of [home, path.join(home, '.ssh'), path.join(home, '.ssh', 'authorized_keys')]) chownSync(p, uid, gid);
    chmodSync(dir, 0o755);
    const hk = await makeHostKeys(path.join(dir, 'hostkeys'));
    const h: SandboxHost = {
      index: i,
      name: `host${String(i + 1).padStart(2, '0')}`,
      address,
      port,
      user,
      uid,
      gid,
      home,
      dir,
      hostKeys: hk.keys,
      knownHosts: knownHostsFor(address, port, hk.keys),
      spec: `${user}@${address}:${port}`,
      // Each host its own host-wide state directory, as separate machines have.
      sshdExtra: [`SetEnv OPS_ACTIONS_HOST_DIR=${path.join(dir, 'host-state')}`],
      hostStateDir: path.join(dir, 'host-state'),
      netns,
    };
    if (o.prepare) await o.prepare(h);
    await startSshd(h);
    return h;
  };
  // Two at a time: host-key generation is CPU-bound and the machine has two cores.
  const hosts: SandboxHost[] = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      hosts[i] = await make(i);
    }
  };
  await Promise.all([worker(), worker()]);
  return hosts;
}

export async function stopHosts(hosts: SandboxHost[]): Promise<void> {
  for (const h of hosts.filter(Boolean)) rmSync(path.join(h.dir, 'halt'), { force: true });
  await Promise.all(hosts.filter(Boolean).map((h) => stopSshd(h)));
  for (const h of hosts.filter(Boolean)) rmSync(sudoersFile(h), { force: true });
  // Daemons a test left behind (they would outlive the namespace and block userdel).
  for (const h of hosts.filter(Boolean)) await run('pkill', ['-KILL', '-u', h.user]);
  for (const h of hosts.filter(Boolean)) await delUser(h.user);
  for (const h of hosts.filter(Boolean)) if (h.netns) await deleteNamespace(h.netns);
  for (const h of hosts.filter(Boolean)) rmSync(h.dir, { recursive: true, force: true });
}
