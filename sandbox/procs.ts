/**
 * Process and package helpers for the sandbox. Everything the sandbox starts is tracked by
 * pid and stopped by pid; an exit hook stops what is left if a test run dies.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import net from 'node:net';

const started = new Set<number>();
let hooked = false;

function killAllSync() {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  started.clear();
}

function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // A program with its own handler (the demo's graceful stop) decides; 'exit' still kills what is left.
    if (process.listenerCount(sig) > 0) continue;
    process.once(sig, () => {
      killAllSync();
      process.exit(130);
    });
  }
}

/** Remember a pid so it is killed at exit if nobody stopped it. */
export function track(pid: number): void {
  hookExit();
  started.add(pid);
}

/** Stop a process we started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPid(pid: number | undefined, graceMs = 5000): Promise<void> {
  if (!pid) return;
  started.delete(pid);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

export function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program (argv, no shell); resolves with its result, rejects only if it cannot start. */
export function run(cmd: string, args: string[], o: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, maxBuffer: 256 * 1024 * 1024, timeout: o.timeoutMs ?? 600_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}

/** Run a program and fail with its stderr unless it exits 0. */
export async function must(cmd: string, args: string[], o: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** Start a long-running daemon, detached from our stdio, logging to a file. */
export function daemon(cmd: string, args: string[], o: { log: string; env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number }): number {
  const fd = openSync(o.log, 'a');
  const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', fd, fd], detached: true, uid: o.uid, gid: o.gid });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  track(child.pid);
  return child.pid;
}

/** Wait until a TCP port accepts connections (and, if given, sends a greeting starting with `banner`). */
export async function waitForPort(host: string, port: number, o: { timeoutMs?: number; banner?: string; pid?: number; log?: string } = {}): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  let last = '';
  while (Date.now() < deadline) {
    if (o.pid) {
      try {
        process.kill(o.pid, 0);
      } catch {
        const tailLog = o.log ? safeRead(o.log).slice(-2000) : '';
        throw new Error(`process ${o.pid} for ${host}:${port} exited before listening${tailLog ? `:\n${tailLog}` : ''}`);
      }
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.setTimeout(2000);
      s.once('connect', () => {
        if (!o.banner) {
          s.destroy();
          resolve(true);
        }
      });
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith(o.banner!));
      });
      s.once('error', (e) => {
        last = e.message;
        resolve(false);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${host}:${port} did not come up in time (${last})`);
}

export function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** A free TCP port on an address. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const isRoot = () => process.getuid?.() === 0;

/** Install Debian packages that are missing (only as root; otherwise say what to install). */
export function ensurePackages(pkgs: string[]): void {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const missing = pkgs.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout !== 'install ok installed');
  if (missing.length === 0) return;
  if (!isRoot()) throw new Error(`the sandbox needs these Debian packages: ${missing.join(' ')} (run as root to install them automatically)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, encoding: 'utf8' });
    r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, encoding: 'utf8' });
  }
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed: ${r.stderr.slice(-2000)}`);
}

/** Unmount everything mounted under `dir` (deepest first), e.g. the netns file dockerd leaves. */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = safeRead('/proc/self/mounts')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]);
}
