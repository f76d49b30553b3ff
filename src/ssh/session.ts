import type { Duplex, Readable } from 'node:stream';
import ssh2, { type Client as ClientT, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { render, type Command } from '../shell/index.js';
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

const { Client } = ssh2;

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
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** The host has no `timeout` command, so a timed-out process may still be running there. */
  mayStillRun?: boolean;
}

/** What a host offers that the executor adapts to; read once per connection. */
export interface HostFacts {
  /** coreutils (or busybox) `timeout`: the deadline is enforced on the host. */
  timeout: boolean;
  bash: boolean;
  uid: number;
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

type Handshake = { client?: ClientT; rejected?: { v: Verdict; blob: Buffer } };

/**
 * One SSH connection to one target, reused for all of that target's commands. When the
 * connection drops, the command running on it fails with a `connection` error, and the
 * next command reconnects (with the same host-key verification and retries).
 */
export class SshSession {
  private client?: ClientT;
  private reconnecting?: Promise<ClientT>;
  private sftpP?: Promise<SFTPWrapper>;
  private factsP?: Promise<HostFacts>;
  private lostReason?: string;
  private closed = false;

  private constructor(
    readonly target: Target,
    private readonly opts: SshOptions,
    private readonly via?: SshSession,
  ) {}

  /** Connect with retries (connect errors only) and exponential backoff. */
  static async connect(target: Target, opts: SshOptions, via?: SshSession): Promise<SshSession> {
    const s = new SshSession(target, opts, via);
    s.adopt(await connectWithRetries(target, opts, via));
    return s;
  }

  /** Why the last connection dropped, if it did. */
  get lost(): string | undefined {
    return this.lostReason;
  }

  private adopt(c: ClientT): void {
    this.client = c;
    this.lostReason = undefined;
    const drop = (why: string) => {
      if (this.client !== c) return;
      this.client = undefined;
      this.sftpP = undefined;
      this.factsP = undefined;
      this.lostReason = why;
      if (!this.closed) this.opts.logger.debug(`host ${this.target.name}: the SSH connection dropped: ${why}`);
    };
    // A connection can fail at any time after it was made (a reset, a keepalive timeout):
    // the error is this session's to report, never an uncaught exception.
    c.on('error', (e: Error) => drop(errorMessage(e)));
    c.on('end', () => drop('the server closed the connection'));
    c.on('close', () => drop('the connection closed'));
  }

  /** The live connection, reconnecting once if the previous one dropped. */
  private async live(): Promise<ClientT> {
    if (this.closed) throw new SshError('connection', this.target.name, `host ${this.target.name}: the session was closed`);
    if (this.client) return this.client;
    this.reconnecting ??= (async () => {
      const why = this.lostReason;
      const c = await connectWithRetries(this.target, this.opts, this.via);
      this.adopt(c);
      this.opts.logger.info(`host ${this.target.name}: reconnected${why ? ` (the previous connection was lost: ${why})` : ''}`);
      return c;
    })().finally(() => (this.reconnecting = undefined));
    return this.reconnecting;
  }

  /** Drop the connection on purpose (the next command reconnects). */
  disconnect(): void {
    const c = this.client;
    if (!c) return;
    this.client = undefined;
    this.sftpP = undefined;
    this.factsP = undefined;
    this.lostReason = 'disconnected';
    c.end();
  }

  /** What the host offers (read once per connection, in one round trip). */
  facts(): Promise<HostFacts> {
    this.factsP ??= this.rawExec(
      'command -v timeout >/dev/null 2>&1 && echo timeout; command -v bash >/dev/null 2>&1 && echo bash; echo "uid=$(id -u)"',
      15_000,
    ).then(
      (r) => ({ timeout: /^timeout$/m.test(r.stdout), bash: /^bash$/m.test(r.stdout), uid: Number(/^uid=(\d+)/m.exec(r.stdout)?.[1] ?? -1) }),
      (e) => {
        this.factsP = undefined;
        throw e;
      },
    );
    return this.factsP;
  }

  /** A bare command line with a runner-side deadline only (for the facts probe). */
  private async rawExec(line: string, timeoutMs: number): Promise<ExecResult> {
    return this.channel(line, timeoutMs, {}, undefined);
  }

  /** Run one command; resolves with exit code and output whatever the exit code. */
  async exec(command: Command, o: ExecOptions = {}): Promise<ExecResult> {
    const line = render(command);
    const timeoutMs = o.timeoutMs ?? this.opts.commandTimeoutMs;
    const facts = await this.facts();
    this.opts.logger.debug(`[${this.target.name}] $ ${line.length > 500 ? line.slice(0, 500) + '…' : line}`);
    return this.channel(facts.timeout ? withRemoteTimeout(line, timeoutMs) : line, timeoutMs, o, facts);
  }

  private async channel(line: string, timeoutMs: number, o: ExecOptions, facts: HostFacts | undefined): Promise<ExecResult> {
    const client = await this.live();
    const log = this.opts.logger;
    const name = this.target.name;
    const emit = (stream: 'out' | 'err') => (l: string) => {
      const text = `[${name}] ${stream === 'err' ? '! ' : ''}${l}`;
      if (o.stream) log.info(text);
      else log.debug(text);
    };
    const out = new Capture(emit('out'));
    const err = new Capture(emit('err'));
    const started = Date.now();
    const what = o.step ? `step '${o.step}'` : 'a command';
    return new Promise((resolve, reject) => {
      let ch: ClientChannel | undefined;
      let code: number | null = null;
      let signal: string | undefined;
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const stopInput = () => {
        if (!o.stdinStream) return;
        if (ch) o.stdinStream.unpipe(ch);
        // The command is over: a producer still writing (a local tar) must not block on a full pipe.
        o.stdinStream.destroy();
      };
      const finish = (timedOut: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        stopInput();
        const durationMs = Date.now() - started;
        if (!timedOut && code === null && signal === undefined && this.client !== client) {
          const why = this.lostReason ?? 'the connection dropped';
          reject(
            new SshError('connection', name, `host ${name}: the SSH connection was lost while ${what} was running (${why}); whether it finished on the host is unknown`, {
              step: o.step,
              stderrTail: tail(err.finish()),
            }),
          );
          return;
        }
        // `timeout` exits 124 (137 after -k) when it had to stop the command.
        const remoteTimeout = !!facts?.timeout && (code === 124 || code === 137) && durationMs >= timeoutMs - 1000;
        resolve({
          code,
          signal,
          stdout: out.finish(),
          stderr: err.finish(),
          durationMs,
          timedOut: timedOut || remoteTimeout,
          mayStillRun: timedOut && !facts?.timeout ? true : undefined,
        });
      };
      // With `timeout` on the host the deadline is enforced there (it kills the process
      // group); this timer is the backstop for a host or network that stopped answering.
      // Without it, the runner enforces the deadline itself: it closes the channel, which
      // OpenSSH does not turn into a kill, so the process may go on running.
      const backstop = facts?.timeout ? timeoutMs + REMOTE_KILL_GRACE_MS + 5000 : timeoutMs;
      timer = setTimeout(() => {
        ch?.close();
        finish(true);
      }, backstop);
      client.exec(line, (e: Error | undefined, channel: ClientChannel) => {
        if (e) {
          clearTimeout(timer);
          done = true;
          stopInput();
          const kind = this.client === client ? 'channel' : 'connection';
          reject(new SshError(kind, name, `host ${name}: could not start ${what}: ${e.message}`, { step: o.step }));
          return;
        }
        ch = channel;
        if (done) {
          channel.close();
          return;
        }
        channel.on('data', (d: Buffer) => out.push(d));
        channel.stderr.on('data', (d: Buffer) => err.push(d));
        channel.on('exit', (c: number | null, sig?: string) => {
          code = c;
          if (sig) signal = sig;
        });
        channel.on('close', () => finish(false));
        channel.on('error', () => {
          /* reported through close */
        });
        if (o.stdinStream) {
          o.stdinStream.on('error', (e2) => {
            err.push(Buffer.from(`local input failed: ${e2.message}\n`));
            channel.close();
          });
          o.stdinStream.pipe(channel);
        } else if (o.stdin !== undefined) channel.end(o.stdin);
        else channel.end();
      });
    });
  }

  /** Run a command and fail with host, step, exit code and stderr tail unless it exits 0. */
  async run(command: Command, o: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(command, o);
    if (r.timedOut) {
      const after = formatDuration(o.timeoutMs ?? this.opts.commandTimeoutMs);
      throw new SshError(
        'timeout',
        this.target.name,
        r.mayStillRun
          ? `host ${this.target.name}: ${o.step ? `step '${o.step}'` : 'the command'} timed out after ${after}; the host has no 'timeout' command, so the runner closed the channel but the process may still be running on the host (check and stop it there); raise 'command-timeout' if it needs longer`
          : `host ${this.target.name}: ${o.step ? `step '${o.step}'` : 'the command'} timed out after ${after} and was killed; raise 'command-timeout' if it needs longer`,
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
  async forwardOut(host: string, port: number): Promise<Duplex> {
    const c = await this.live();
    return new Promise((resolve, reject) => {
      c.forwardOut('127.0.0.1', 0, host, port, (e, stream) => (e ? reject(e) : resolve(stream)));
    });
  }

  private async sftp(): Promise<SFTPWrapper> {
    const c = await this.live();
    this.sftpP ??= new Promise<SFTPWrapper>((resolve, reject) => c.sftp((e, s) => (e ? reject(e) : resolve(s)))).catch((e) => {
      this.sftpP = undefined;
      throw e;
    });
    return this.sftpP;
  }

  /**
   * Write a file on the host, created with `mode` before any byte is written (0600 for
   * secrets). With `exclusive`, the file must not exist yet (O_EXCL: a symlink in its place
   * is never followed).
   */
  async writeFile(remote: string, content: string | Buffer, mode = 0o644, o: { exclusive?: boolean } = {}): Promise<void> {
    const sftp = await this.sftp();
    const p = sftpPath(remote);
    const fail = (e: Error) => new SshError('command', this.target.name, `host ${this.target.name}: cannot write ${remote}: ${e.message}`);
    await new Promise<void>((resolve, reject) => {
      sftp.open(p, o.exclusive ? 'wx' : 'w', { mode }, (e, handle) => {
        if (e) return reject(fail(e));
        sftp.fchmod(handle, mode, (e2) => {
          if (e2) return sftp.close(handle, () => reject(fail(e2)));
          const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
          const write = (off: number) => {
            if (off >= buf.length) return sftp.close(handle, (e3) => (e3 ? reject(fail(e3)) : resolve()));
            const n = Math.min(32 * 1024, buf.length - off);
            sftp.write(handle, buf, off, n, off, (e4) => (e4 ? sftp.close(handle, () => reject(fail(e4))) : write(off + n)));
          };
          write(0);
        });
      });
    });
  }

  /**
   * Replace a file atomically: written under a new temporary name (exclusive), then renamed
   * over `remote`. A symlink at `remote` is replaced, never followed.
   */
  async replaceFile(remote: string, content: string | Buffer, mode = 0o644): Promise<void> {
    const tmp = `${remote}.${process.pid}.${Date.now().toString(36)}.tmp`;
    await this.writeFile(tmp, content, mode, { exclusive: true });
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.ext_openssh_rename(sftpPath(tmp), sftpPath(remote), (e) =>
        e ? reject(new SshError('command', this.target.name, `host ${this.target.name}: cannot rename ${tmp} to ${remote}: ${e.message}`)) : resolve(),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    c?.end();
  }
}

async function connectWithRetries(target: Target, opts: SshOptions, via?: SshSession): Promise<ClientT> {
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
      return await connectVerified(target, opts, via);
    } catch (e) {
      // Only network trouble is worth another attempt; anything else is final as it is.
      if (!(e instanceof SshError)) throw e;
      last = e;
      if (last.kind !== 'connect') throw last;
    }
  }
  throw new SshError(
    'connect',
    target.name,
    `${last!.message} (gave up after ${attempts} attempt${attempts > 1 ? 's' : ''}; check that the host is up, that sshd listens on port ${target.port}, and the network/firewall between the runner and the host; 'connect-timeout' and 'connect-retries' tune this)`,
  );
}

/** One handshake, trying other host-key types when the pins name a type the host did not offer first. */
async function connectVerified(target: Target, opts: SshOptions, via?: SshSession): Promise<ClientT> {
  const policy = opts.hostKeys;
  const knownTypes = policy.mode === 'known-hosts' ? policy.knownHosts.typesFor(target.host, target.port) : [];
  const known = policy.mode === 'known-hosts' ? hostKeyAlgorithms(knownTypes) : undefined;
  const tries: (string[] | undefined)[] = policy.mode === 'fingerprints' ? [undefined, ...HOST_KEY_FAMILIES] : [known];
  const presented: string[] = [];
  let firstFailure: { v: Verdict; blob: Buffer } | undefined;
  for (const algos of tries) {
    const r = await handshake(target, opts, via, algos);
    if (r.client) return r.client;
    if (!r.rejected) continue; // the host has no key of that type
    const label = `${keyType(r.rejected.blob)} ${fingerprint(r.rejected.blob)}`;
    if (!presented.includes(label)) presented.push(label);
    firstFailure ??= r.rejected;
    if (r.rejected.v !== 'mismatch') break;
  }
  if (firstFailure) throw new SshError('hostkey', target.name, hostKeyMessage(firstFailure.v, target, firstFailure.blob, policy, presented));
  // No handshake got as far as a host key: the host offers none of the pinned key types.
  // Ask it for each type it has, so the message says what it offers.
  const offered: Buffer[] = [];
  for (const algos of HOST_KEY_FAMILIES) {
    const r = await handshake(target, { ...opts, hostKeys: { mode: 'none' } }, via, algos).catch(() => ({}) as Handshake);
    if (r.rejected) offered.push(r.rejected.blob);
  }
  const pinned = policy.mode === 'known-hosts' ? knownTypes.join(', ') : 'the pinned types';
  throw new SshError(
    'hostkey',
    target.name,
    `host ${target.name}: the host offers no host key of the type pinned for it in 'known-hosts' (${pinned}); it offers ${
      offered.length ? offered.map((b) => `${keyType(b)} ${fingerprint(b)}`).join(', ') : 'no key type this client supports'
    }. Verify the right key out of band and pin it${offered[0] ? `, e.g.:\n  ${knownHostsLine(target.host, target.port, offered[0])}` : '.'}`,
  );
}

async function handshake(target: Target, opts: SshOptions, via: SshSession | undefined, algos: string[] | undefined): Promise<Handshake> {
  let rejected: { v: Verdict; blob: Buffer } | undefined;
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
      config.sock = (await via.forwardOut(target.host, target.port)) as never;
    } catch (e) {
      throw new SshError('connect', target.name, `host ${target.name}: the jump host ${via.target.name} could not reach ${target.host}:${target.port}: ${errorMessage(e)}`);
    }
  }
  const client = new Client();
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      client.once('error', onError);
      client.once('close', () => reject(new Error('Connection lost before handshake')));
      client.once('ready', () => {
        client.removeListener('error', onError);
        client.removeAllListeners('close');
        resolve();
      });
      try {
        client.connect(config);
      } catch (e) {
        reject(e);
      }
    });
    // Without TCP_NODELAY every command waits on Nagle and delayed ACKs (~80 ms each,
    // measured by bench/ssh.ts); OpenSSH sets it too.
    client.setNoDelay(true);
    return { client };
  } catch (e) {
    client.removeAllListeners();
    client.on('error', () => {});
    client.end();
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
    if (kind === 'connect') throw new SshError('connect', target.name, `host ${target.name}: cannot connect to ${target.host}:${target.port}: ${msg}`);
    throw new SshError('protocol', target.name, `host ${target.name}: the SSH handshake with ${target.host}:${target.port} failed: ${msg}`);
  }
}

const REMOTE_KILL_GRACE_MS = 10_000;

/**
 * Run a command line under `timeout` on the host: OpenSSH ignores signal requests and a
 * closed channel does not stop a command, so the deadline must be enforced there. `timeout`
 * signals the command's whole process group (TERM, then KILL). Used only on hosts that
 * have `timeout` (see `facts`).
 */
export function withRemoteTimeout(line: string, timeoutMs: number): string {
  const secs = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  return render(['timeout', '-k', String(REMOTE_KILL_GRACE_MS / 1000), secs, 'sh', '-c', line]);
}

/** SFTP paths are relative to the login directory; `~/x` is `x` there. */
export function sftpPath(p: string): string {
  if (p === '~') return '.';
  return p.startsWith('~/') ? p.slice(2) : p;
}
