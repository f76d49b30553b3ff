/**
 * Debian 12 hosts for the patching tests: a real root filesystem, debootstrapped from the
 * plain `bookworm` suite (so the `bookworm-security` updates in its sources are genuinely
 * pending), cached between runs under /var/cache/ops-sandbox.
 *
 * Each host is a copy of it, run as a chroot whose PID 1 (a small init: /run as a fresh
 * tmpfs, a minimal /dev, sshd, an HTTP health endpoint) lives in a PID and mount namespace
 * of its own, on an address of this machine's loopback (apt reaches the mirror as this
 * machine does). A reboot is PID 1 exiting (`shutdown`/`reboot` on the host are shims that
 * signal it): every process of the host dies with it, the supervisor starts it again, and
 * the host comes back with a new boot marker (a new PID 1 start time; the kernel's boot_id
 * stays, as in any container). `/run/reboot-required` goes with the old /run, as on a real
 * reboot. There is no systemd: `systemctl reboot` fails there, so the reboot takes the
 * `shutdown -r now` fallback.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientKeys, HostKey } from './hosts.js';
import { daemon, ensurePackages, must, run, sleep, stopPid, waitForPort } from './procs.js';

const CACHE = '/var/cache/ops-sandbox';
const INCLUDE = ['openssh-server', 'sudo', 'needrestart', 'busybox', 'ca-certificates'];

export interface DebianHost {
  index: number;
  name: string;
  address: string;
  port: number;
  user: string;
  spec: string;
  /** The host's root filesystem, as seen from this machine. */
  root: string;
  dir: string;
  knownHosts: string;
  hostKeys: HostKey[];
  /** The health endpoint the host serves (busybox httpd on port 8080 serving /srv/www). */
  healthUrl: string;
  supervisorPid?: number;
}

/** The Debian mirror this machine's apt uses (so the sandbox needs nothing else). */
function mirror(): string {
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+)/g)) {
      if (!/security/.test(m[1]!)) return m[1]!.replace(/\/$/, '');
    }
  }
  return 'http://deb.debian.org/debian';
}

const INIT = `#!/bin/sh
# PID 1 of a sandbox Debian host (see sandbox/debian.ts).
mount -t tmpfs -o mode=0755,nosuid,nodev run /run
mkdir -p /run/sshd /run/lock
mount -t tmpfs -o mode=0755,nosuid dev /dev
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  n=\${d%%:*}; r=\${d#*:}; mknod -m 666 "/dev/$n" c "\${r%:*}" "\${r#*:}"
done
mkdir -p /dev/pts /dev/shm && mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
. /etc/sandbox-host.env
hostname "$NAME"
/usr/sbin/sshd -E /var/log/sshd.log
[ -d /srv/www ] && busybox httpd -p "$ADDRESS:8080" -h /srv/www
trap 'exit 0' TERM INT
while :; do sleep 1 & wait $!; done
`;

// Signals PID 1, as a reboot does; the connection drops with every process of the host.
const REBOOT_SHIM = `#!/bin/sh
kill -TERM 1
`;

/** Build (once; cached, and locked against parallel builds) the Debian 12 root filesystem. */
export async function debianRootfs(): Promise<string> {
  const key = createHash('sha256')
    .update(`bookworm ${INCLUDE.join(',')}`)
    .digest('hex')
    .slice(0, 12);
  const dir = path.join(CACHE, `bookworm-${key}`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  ensurePackages(['debootstrap', 'util-linux']);
  mkdirSync(CACHE, { recursive: true });
  const lock = path.join(CACHE, '.debian.lock');
  writeFileSync(lock, '', { flag: 'a' });
  const script = `set -eu
d=$1; tmp=$1.building.$$; mirror=$2; include=$3
[ -e "$d/.complete" ] && exit 0
rm -rf "$tmp"
debootstrap --variant=minbase --include="$include" bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1 || { tail -20 "$tmp.log" >&2; exit 1; }
sec=$(printf %s "$mirror" | sed 's#/debian$#/debian-security#')
printf 'deb %s bookworm main\\ndeb %s bookworm-security main\\n' "$mirror" "$sec" > "$tmp/etc/apt/sources.list"
rm -f "$tmp"/etc/ssh/ssh_host_*
rm -rf "$d"; mv "$tmp" "$d"; rm -f "$tmp.log"`;
  await must('flock', [lock, 'sh', '-c', script, 'sh', dir, mirror(), INCLUDE.join(',')], { timeoutMs: 15 * 60_000 });
  writeFileSync(path.join(dir, '.complete'), new Date().toISOString());
  return dir;
}

const chroot = (h: { root: string }, script: string, ...args: string[]) => must('chroot', [h.root, 'sh', '-c', script, 'sh', ...args], { timeoutMs: 120_000 });

/** The supervisor: starts PID 1 in its namespaces, again each time it exits, unless halted. */
const SUPERVISOR = `root=$1; halt=$2
while :; do
  while [ -e "$halt" ]; do sleep 0.2; done
  unshare --pid --uts --fork --kill-child --mount --propagation private --mount-proc="$root/proc" chroot "$root" /sbin/sandbox-init
  sleep 0.5
done`;

export interface DebianHostsOptions {
  root: string;
  keys: ClientKeys;
  tag: string;
}

export async function startDebianHosts(n: number, o: DebianHostsOptions): Promise<DebianHost[]> {
  const base = await debianRootfs();
  const net = ((process.pid + 113) % 250) + 1;
  const hosts: DebianHost[] = [];
  for (let i = 0; i < n; i++) {
    const name = `deb${String(i + 1).padStart(2, '0')}`;
    const dir = path.join(o.root, name);
    const root = path.join(dir, 'root');
    mkdirSync(dir, { recursive: true });
    await must('cp', ['-a', '--reflink=auto', base, root], { timeoutMs: 300_000 });
    const address = `127.78.${net}.${i + 1}`;
    const user = 'ops';
    const h: DebianHost = { index: i, name, address, port: 22, user, spec: `${user}@${address}:22`, root, dir, knownHosts: '', hostKeys: [], healthUrl: `http://${address}:8080/health` };
    await chroot(h, 'ssh-keygen -A >/dev/null && useradd -m -s /bin/bash "$1" && usermod -p "*" "$1" && mkdir -p /srv/www && echo ok > /srv/www/health', user);
    const ssh = path.join(root, 'home', user, '.ssh');
    mkdirSync(ssh, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(ssh, 'authorized_keys'), `${o.keys.ed25519.publicLine}\n`, { mode: 0o600 });
    await chroot(h, 'chown -R "$1:$1" "/home/$1/.ssh"', user);
    writeFileSync(path.join(root, 'sbin', 'sandbox-init'), INIT, { mode: 0o755 });
    for (const x of ['shutdown', 'reboot']) writeFileSync(path.join(root, 'usr', 'local', 'sbin', x), REBOOT_SHIM, { mode: 0o755 });
    writeFileSync(path.join(root, 'etc', 'sudoers.d', user), `${user} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    writeFileSync(path.join(root, 'etc', 'sandbox-host.env'), `ADDRESS=${address}\nNAME=${name}\n`);
    writeFileSync(path.join(root, 'etc', 'hosts'), `127.0.0.1 localhost\n${address} ${name}\n`);
    writeFileSync(
      path.join(root, 'etc', 'ssh', 'sshd_config.d', 'sandbox.conf'),
      [`ListenAddress ${address}:22`, 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin no', `AllowUsers ${user}`, 'MaxStartups 100:30:200'].join('\n') +
        '\n',
    );
    for (const t of ['ed25519', 'ecdsa', 'rsa']) {
      const pub = readFileSync(path.join(root, 'etc', 'ssh', `ssh_host_${t}_key.pub`), 'utf8')
        .trim()
        .split(/\s+/)
        .slice(0, 2)
        .join(' ');
      h.hostKeys.push({ type: pub.split(' ')[0]!, publicLine: pub, fingerprint: '' });
    }
    h.knownHosts = h.hostKeys.map((k) => `${address} ${k.publicLine}`).join('\n') + '\n';
    chmodSync(dir, 0o755);
    await startSupervisor(h);
    hosts.push(h);
  }
  return hosts;
}

async function startSupervisor(h: DebianHost): Promise<void> {
  h.supervisorPid = daemon('sh', ['-c', SUPERVISOR, 'supervisor', h.root, path.join(h.dir, 'halt')], { log: path.join(h.dir, 'supervisor.log') });
  await waitForPort(h.address, 22, { banner: 'SSH-2.0', pid: h.supervisorPid, log: path.join(h.root, 'var', 'log', 'sshd.log'), timeoutMs: 30_000 });
}

/** Keep the host down at its next reboot (a host that never comes back), or let it up again. */
export function haltDebianHost(h: DebianHost, halted: boolean): void {
  const f = path.join(h.dir, 'halt');
  if (halted) writeFileSync(f, '');
  else rmSync(f, { force: true });
}

/** The pid (as this machine sees it) of the unshare whose child is the host's PID 1. */
async function unsharePid(h: DebianHost): Promise<number | undefined> {
  const r = await run('pgrep', ['-f', '--', `--mount-proc=${h.root}/proc`]);
  const pid = Number(r.stdout.trim().split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

/** Run a script inside the host as root (in its namespaces: its /proc, /run, /dev). */
export async function onDebian(h: DebianHost, script: string, ...args: string[]): Promise<string> {
  const pid = await unsharePid(h);
  // unshare's child is PID 1 of the namespaces: enter those, and its root.
  const child = pid ? Number((await run('pgrep', ['-P', String(pid)])).stdout.trim().split('\n')[0]) : 0;
  if (!child) throw new Error(`sandbox host ${h.name} is not running`);
  return must('nsenter', ['-t', String(child), '-m', '-p', '-r', '-w', 'sh', '-c', script, 'sh', ...args], { timeoutMs: 300_000 });
}

export async function stopDebianHosts(hosts: DebianHost[]): Promise<void> {
  for (const h of hosts) {
    await stopPid(h.supervisorPid, 1000);
    const pid = await unsharePid(h);
    if (pid) await run('kill', ['-KILL', String(pid)]);
    for (let i = 0; i < 50 && (await unsharePid(h)); i++) await sleep(100);
    rmSync(h.dir, { recursive: true, force: true });
  }
}
