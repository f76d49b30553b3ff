import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { remotePath as remoteWord, render, type Command } from '../shell/index.js';
import type { Target } from '../fleet/targets.js';
import { errorMessage, type Logger } from '../log.js';
import { formatDuration } from '../inputs/schema.js';
import { SshError, classifyConnectError, tail } from './errors.js';
import {
  HOST_KEY_FAMILIES,
  expectedKeys,
  fingerprint,
  hostKeyAlgorithms,
  keyType,
  knownHostsLine,
  verify,
  type HostKeyPolicy,
  type Verdict,
} from './hostkeys.js';
import type { PrivateKey } from './keys.js';

export interface SshOptions {
  key: PrivateKey;
  hostKeys: HostKeyPolicy;
  connectTimeoutMs: number;
  connectRetries: number;
  commandTimeoutMs: number;
  proxyJump?: Target;
  logger: Logger;
  keepaliveIntervalMs?: number;
  /** Base of the exponential backoff between connect attempts (tests shorten it). */
  retryBaseMs?: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Data written to the command's stdin (then closed). */
  stdin?: string | Buffer;
  /** A stream piped into the command's stdin (e.g. a tar archive). */
  stdinStream?: Readable;
  /** Stream output lines into the log (info) instead of debug. */
  stream?: boolean;
  /** A step name for error messages: "step 'migrate' failed on web1". */
  step?: string;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

const CAPTURE_LIMIT = 8 * 1024 * 1024;

class Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  private partial = '';
  truncated = false;
  constructor(private readonly onLine?: (line: string) => void) {}
  push(b: Buffer) {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > CAPTURE_LIMIT && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
      this.truncated = true;
    }
    if (this.onLine) {
      const text = this.partial + b.toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop()!;
      for (const l of lines) this.onLine(l);
    }
  }
  finish(): string {
    if (this.onLine && this.partial) this.onLine(this.partial);
    this.partial = '';
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Host-key failure messages: what happened, what was presented, what to set. */
function hostKeyMessage(v: Verdict, t: Target, blob: Buffer, policy: HostKeyPolicy, presentedAll: string[]): string {
  const fp = fingerprint(blob);
  const line = knownHostsLine(t.host, t.port, blob);
  const presented = presentedAll.length > 1 ? presentedAll.join(', ') : `${keyType(blob)} ${fp}`;
  switch (v) {
    case 'unconfigured':
      return (
        `host ${t.name}: refusing to connect without verifying its host key. ` +
        `Set 'known-hosts' (or 'host-fingerprints'), or opt out with 'insecure-ignore-host-key: true'. ` +
        `The host presented ${presented}. If that is your server, pin it with this known-hosts line:\n  ${line}`
      );
    case 'unknown':
      return (
        `host ${t.name}: its host key is not in '${policy.mode === 'fingerprints' ? 'host-fingerprints' : 'known-hosts'}'. ` +
        `The host presented ${presented}. If that is your server, add:\n  ${line}`
      );
    case 'revoked':
      return `host ${t.name}: the host presented a key marked @revoked in 'known-hosts' (${keyType(blob)} ${fp}). Not connecting.`;
    default:
      return (
        `host ${t.name}: HOST KEY MISMATCH. Expected ${expectedKeys(policy, t.name, t.host, t.port).join(' or ')}, ` +
        `but the host presented ${presented}. Someone may be intercepting the connection, or the host was ` +
        `reinstalled; verify the new key out of band before updating 'known-hosts'/'host-fingerprints'.`
      );
  }
}

/** One SSH connection to one target, reused for all of that target's commands. */
export class SshSession {
  private sftpP?: Promise<SFTPWrapper>;
  private closed = false;

  private constructor(
    readonly target: Target,
    private readonly ssh: NodeSSH,
    private readonly opts: SshOptions,
  ) {}

  get connection(): Client {
    return this.ssh.connection!;
  }

  /** Connect with retries (connect errors only) and exponential backoff. */
  static async connect(target: Target, opts: SshOptions, via?: SshSession): Promise<SshSession> {
    const attempts = 1 + opts.connectRetries;
    const base = opts.retryBaseMs ?? 1000;
    let last: SshError | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) {
        const wait = Math.min(base * 2 ** (i - 1), 15_000);
        opts.logger.info(`host ${target.name}: ${last!.message}; retrying in ${formatDuration(wait)} (attempt ${i + 1} of ${attempts})`);
        await sleep(wait);
      }
      try {
        return await SshSession.connectVerified(target, opts, via);
      } catch (e) {
        last = e instanceof SshError ? e : new SshError('connect', target.name, errorMessage(e));
        if (last.kind !== 'connect') throw last;
      }
    }
    throw new SshError(
      'connect',
      target.name,
      `${last!.message} (gave up after ${attempts} attempt${attempts > 1 ? 's' : ''}; check that the host is up, that sshd listens on port ${target.port}, and the network/firewall between the runner and the host; 'connect-timeout' and 'connect-retries' tune this)`,
    );
  }

  /** One handshake, trying other host-key types when fingerprints pin a type the host did not offer first. */
  private static async connectVerified(target: Target, opts: SshOptions, via?: SshSession): Promise<SshSession> {
    const policy = opts.hostKeys;
    const known = policy.mode === 'known-hosts' ? hostKeyAlgorithms(policy.knownHosts.typesFor(target.host, target.port)) : undefined;
    const tries: (string[] | undefined)[] = policy.mode === 'fingerprints' ? [undefined, ...HOST_KEY_FAMILIES] : [known];
    const presented: string[] = [];
    let firstFailure: { v: Verdict; blob: Buffer } | undefined;
    for (const algos of tries) {
      const r = await SshSession.handshake(target, opts, via, algos);
      if (r.session) return r.session;
      if (!r.rejected) continue; // the host has no key of that type
      const label = `${keyType(r.rejected.blob)} ${fingerprint(r.rejected.blob)}`;
      if (!presented.includes(label)) presented.push(label);
      firstFailure ??= r.rejected;
      if (r.rejected.v !== 'mismatch') break;
    }
    const f = firstFailure!;
    throw new SshError('hostkey', target.name, hostKeyMessage(f.v, target, f.blob, policy, presented));
  }

  private static async handshake(
    target: Target,
    opts: SshOptions,
    via: SshSession | undefined,
    algos: string[] | undefined,
  ): Promise<{ session?: SshSession; rejected?: { v: Verdict; blob: Buffer } }> {
    let rejected: { v: Verdict; blob: Buffer } | undefined;
    const ssh = new NodeSSH();
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey: opts.key.text,
      passphrase: opts.key.passphrase,
      readyTimeout: opts.connectTimeoutMs,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 4,
      tryKeyboard: false,
      agent: undefined,
      hostVerifier: (blob: Buffer) => {
        const v = verify(opts.hostKeys, target.name, target.host, target.port, blob);
        if (v === 'ok') {
          if (opts.hostKeys.mode === 'insecure') {
            opts.logger.warning(
              `host ${target.name}: host key NOT verified (insecure-ignore-host-key); it presented ${keyType(blob)} ${fingerprint(blob)}. Pin it with known-hosts line: ${knownHostsLine(target.host, target.port, blob)}`,
            );
          }
          return true;
        }
        rejected = { v, blob };
        return false;
      },
      ...(algos ? { algorithms: { serverHostKey: algos as never } } : {}),
    };
    if (via) {
      try {
        config.sock = await via.forwardOut(target.host, target.port);
      } catch (e) {
        throw new SshError('connect', target.name, `host ${target.name}: the jump host ${via.target.name} could not reach ${target.host}:${target.port}: ${errorMessage(e)}`);
      }
    }
    try {
      await ssh.connect(config as never);
      // Without TCP_NODELAY every command waits on Nagle and delayed ACKs (~80 ms each,
      // measured by bench/ssh.ts); OpenSSH sets it too.
      ssh.connection?.setNoDelay(true);
      return { session: new SshSession(target, ssh, opts) };
    } catch (e) {
      ssh.dispose();
      if (rejected) return { rejected };
      const msg = errorMessage(e);
      if (algos && /no matching|handshake failed|host key format/i.test(msg)) return {};
      const kind = classifyConnectError(e);
      if (kind === 'auth') {
        throw new SshError(
          'auth',
          target.name,
          `host ${target.name}: authentication failed for user '${target.user}' with the ${opts.key.type} key ${opts.key.fingerprint} from 'ssh-key'. ` +
            `Check that the user exists on the host and that its ~/.ssh/authorized_keys holds this public key:\n  ${opts.key.publicLine}`,
        );
      }
      if (kind === 'dns') throw new SshError('dns', target.name, `host ${target.name}: cannot resolve '${target.host}' (${msg}); check the host name`);
      throw new SshError('connect', target.name, `host ${target.name}: cannot connect to ${target.host}:${target.port}: ${msg}`);
    }
  }

  /** Run one command; resolves with exit code and output whatever the exit code. */
  exec(command: Command | string, o: ExecOptions = {}): Promise<ExecResult> {
    const line = typeof command === 'string' ? command : render(command);
    const log = this.opts.logger;
    const name = this.target.name;
    const timeoutMs = o.timeoutMs ?? this.opts.commandTimeoutMs;
    const emit = (stream: 'out' | 'err') => (l: string) => {
      const text = `[${name}] ${stream === 'err' ? '! ' : ''}${l}`;
      if (o.stream) log.info(text);
      else log.debug(text);
    };
    const out = new Capture(emit('out'));
    const err = new Capture(emit('err'));
    const started = Date.now();
    log.debug(`[${name}] $ ${line.length > 500 ? line.slice(0, 500) + '…' : line}`);
    return new Promise((resolve, reject) => {
      this.connection.exec(withRemoteTimeout(line, timeoutMs), (e: Error | undefined, ch: ClientChannel) => {
        if (e) {
          reject(new SshError('channel', name, `host ${name}: could not start a command: ${e.message}`));
          return;
        }
        let code: number | null = null;
        let signal: string | undefined;
        let done = false;
        const finish = (timedOut: boolean) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const durationMs = Date.now() - started;
          // `timeout` exits 124 (137 after -k) when it had to stop the command.
          const remoteTimeout = (code === 124 || code === 137) && durationMs >= timeoutMs - 1000;
          resolve({ code, signal, stdout: out.finish(), stderr: err.finish(), durationMs, timedOut: timedOut || remoteTimeout });
        };
        // The host enforces the deadline (see withRemoteTimeout); this is the backstop for a
        // host or network that stopped answering.
        const timer = setTimeout(() => {
          ch.close();
          finish(true);
        }, timeoutMs + REMOTE_KILL_GRACE_MS + 5000);
        ch.on('data', (d: Buffer) => {
          out.push(d);
          o.onStdout?.(d);
        });
        ch.stderr.on('data', (d: Buffer) => {
          err.push(d);
          o.onStderr?.(d);
        });
        ch.on('exit', (c: number | null, sig?: string) => {
          code = c;
          if (sig) signal = sig;
        });
        ch.on('close', () => finish(false));
        ch.on('error', () => {
          /* reported through close */
        });
        if (o.stdinStream) {
          o.stdinStream.on('error', (e2) => {
            err.push(Buffer.from(`local input failed: ${e2.message}\n`));
            ch.close();
          });
          o.stdinStream.pipe(ch);
        } else if (o.stdin !== undefined) ch.end(o.stdin);
        else ch.end();
      });
    });
  }

  /** Run a command and fail with host, step, exit code and stderr tail unless it exits 0. */
  async run(command: Command | string, o: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(command, o);
    if (r.timedOut) {
      throw new SshError(
        'timeout',
        this.target.name,
        `host ${this.target.name}: ${o.step ? `step '${o.step}'` : 'the command'} timed out after ${formatDuration(o.timeoutMs ?? this.opts.commandTimeoutMs)} and was killed; raise 'command-timeout' if it needs longer`,
        { step: o.step, stderrTail: tail(r.stderr) },
      );
    }
    if (r.code !== 0) {
      const why = r.code === null ? `was killed by signal ${r.signal ?? 'unknown'}` : `exited with code ${r.code}`;
      const t = tail(r.stderr) || tail(r.stdout);
      const hint =
        r.code === 127
          ? '\n(exit code 127: a command was not found. Non-interactive SSH sessions do not read ~/.profile: use absolute paths or set PATH in the script.)'
          : '';
      throw new SshError(
        'command',
        this.target.name,
        `host ${this.target.name}: ${o.step ? `step '${o.step}'` : 'command'} ${why}${t ? `; last output:\n${t}` : ''}${hint}`,
        { exitCode: r.code, signal: r.signal, stderrTail: t, step: o.step },
      );
    }
    return r;
  }

  /** A TCP stream to host:port as seen from this host (for tunnels and jump hosts). */
  forwardOut(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      this.connection.forwardOut('127.0.0.1', 0, host, port, (e, stream) => (e ? reject(e) : resolve(stream)));
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpP ??= new Promise((resolve, reject) => this.connection.sftp((e, s) => (e ? reject(e) : resolve(s))));
    return this.sftpP;
  }

  /** Write a file on the host, created with `mode` before any byte is written (0600 for secrets). */
  async writeFile(remote: string, content: string | Buffer, mode = 0o644): Promise<void> {
    const sftp = await this.sftp();
    const p = sftpPath(remote);
    await new Promise<void>((resolve, reject) => {
      sftp.open(p, 'w', { mode }, (e, handle) => {
        if (e) return reject(new SshError('command', this.target.name, `host ${this.target.name}: cannot write ${remote}: ${e.message}`));
        sftp.fchmod(handle, mode, (e2) => {
          if (e2) return sftp.close(handle, () => reject(e2));
          const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
          const write = (off: number) => {
            if (off >= buf.length) return sftp.close(handle, (e3) => (e3 ? reject(e3) : resolve()));
            const n = Math.min(32 * 1024, buf.length - off);
            sftp.write(handle, buf, off, n, off, (e4) => (e4 ? sftp.close(handle, () => reject(e4)) : write(off + n)));
          };
          write(0);
        });
      });
    });
  }

  /** Upload a file or a directory tree, preserving modes (and symlinks). */
  async upload(local: string, remote: string, o: { mode?: number } = {}): Promise<{ files: number; bytes: number }> {
    const st = await fs.lstat(local);
    if (!st.isDirectory()) {
      const data = await fs.readFile(local);
      await this.run(['mkdir', '-p', '--', remoteWord(path.posix.dirname(remote))], { step: 'upload' });
      await this.writeFile(remote, data, o.mode ?? st.mode & 0o7777);
      return { files: 1, bytes: data.length };
    }
    const dirs: string[] = [remote];
    const files: { local: string; remote: string; mode: number }[] = [];
    const links: { target: string; remote: string }[] = [];
    const walk = async (l: string, r: string) => {
      for (const ent of await fs.readdir(l, { withFileTypes: true })) {
        const lp = path.join(l, ent.name);
        const rp = path.posix.join(r, ent.name);
        if (ent.isDirectory()) {
          dirs.push(rp);
          await walk(lp, rp);
        } else if (ent.isSymbolicLink()) links.push({ target: await fs.readlink(lp), remote: rp });
        else if (ent.isFile()) files.push({ local: lp, remote: rp, mode: (await fs.stat(lp)).mode & 0o7777 });
      }
    };
    await walk(local, remote);
    await this.run(['mkdir', '-p', '--', ...dirs.map(remoteWord)], { step: 'upload' });
    let bytes = 0;
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++]!;
        const data = await fs.readFile(f.local);
        bytes += data.length;
        await this.writeFile(f.remote, data, f.mode);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
    for (const l of links) await this.run(['ln', '-sfn', '--', l.target, remoteWord(l.remote)], { step: 'upload' });
    return { files: files.length, bytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ssh.dispose();
  }
}

const REMOTE_KILL_GRACE_MS = 10_000;

/**
 * Run a command line under coreutils `timeout` on the host when it has one: OpenSSH ignores
 * signal requests and a closed channel does not stop a command, so the deadline must be
 * enforced there. `timeout` signals the command's whole process group (TERM, then KILL).
 */
export function withRemoteTimeout(line: string, timeoutMs: number): string {
  const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  return render([
    'sh',
    '-c',
    `if command -v timeout >/dev/null 2>&1; then exec timeout -k ${REMOTE_KILL_GRACE_MS / 1000} "$0" sh -c "$1"; else exec sh -c "$1"; fi`,
    secs,
    line,
  ]);
}

/** SFTP paths are relative to the login directory; `~/x` is `x` there. */
export function sftpPath(p: string): string {
  if (p === '~') return '.';
  return p.startsWith('~/') ? p.slice(2) : p;
}

