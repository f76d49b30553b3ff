import type { Duplex } from 'node:stream';
import type { Client as ClientT, ClientChannel, SFTPWrapper } from 'ssh2';
import { render, type Command } from '../shell/index.js';
import { factsCommand } from '../commands/host.js';
import { errorMessage } from '../log.js';
import { formatDuration, tail } from '../text.js';
import { SshError } from './errors.js';
import { connectWithRetries, type SshOptions, type Via } from './connect.js';
import { Capture, REMOTE_KILL_GRACE_MS, withRemoteTimeout, type ExecOptions, type ExecResult, type HostFacts } from './exec.js';
import { replaceFile, writeFile } from './sftp.js';
import { openStream, type RemoteStream, type StreamOptions } from './stream.js';
import type { Target } from './target.js';

export type { ExecOptions, ExecResult, HostFacts, RemoteStream, SshOptions };

/** What `sudo -n` said when it would not run a command, in words for the error. */
export function sudoProblem(stderr: string): string | undefined {
  if (/^sudo: (a password is required|a terminal is required)/m.test(stderr)) return 'sudo asks for a password';
  if (/^sudo: .*(command not found|not found)|sh: \d+: sudo: not found|sudo: not found/m.test(stderr)) return 'sudo is not installed';
  if (/is not in the sudoers file|is not allowed to run sudo/m.test(stderr)) return 'sudo does not allow it';
  return undefined;
}

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
    private readonly via?: Via,
  ) {}

  /** Connect with retries (connect errors only) and exponential backoff. */
  static async connect(target: Target, opts: SshOptions, via?: Via): Promise<SshSession> {
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

  /**
   * Connect again now (dropping the current connection, if any), with `retries` connect
   * retries instead of the configured ones: for waiting on a host that reboots.
   */
  async reconnect(o: { retries?: number; timeoutMs?: number } = {}): Promise<void> {
    this.disconnect();
    const c = await connectWithRetries(this.target, { ...this.opts, connectRetries: o.retries ?? this.opts.connectRetries, connectTimeoutMs: o.timeoutMs ?? this.opts.connectTimeoutMs }, this.via);
    this.adopt(c);
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
    this.factsP ??= this.rawExec(render(factsCommand()), 15_000).then(
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
      if (o.quiet && stream === 'out') return;
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
          truncated: out.truncated || err.truncated || undefined,
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
      const failStart = (e: Error) => {
        clearTimeout(timer);
        done = true;
        stopInput();
        const kind = this.client === client ? 'channel' : 'connection';
        reject(new SshError(kind, name, `host ${name}: could not start ${what}: ${e.message}`, { step: o.step }));
      };
      // Local input may fail before the channel opens (a missing file, a tar that cannot start).
      o.stdinStream?.once('error', (e2) => {
        if (!ch) failStart(new Error(`its input failed: ${e2.message}`));
      });
      const onChannel = (e: Error | undefined, channel: ClientChannel) => {
        if (e) {
          failStart(e);
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
      };
      try {
        client.exec(line, onChannel);
      } catch (e) {
        // ssh2 throws at once when the connection is already gone.
        failStart(e as Error);
      }
    });
  }

  /**
   * Run a command whose stdout is streamed (with backpressure) instead of captured: for
   * dumps and archives of any size. `done` has the exit status once stdout has ended.
   */
  async stream(command: Command, o: { stdin?: StreamOptions['stdin']; timeoutMs?: number; step?: string } = {}): Promise<RemoteStream> {
    const facts = await this.facts();
    const client = await this.live();
    const line = render(command);
    this.opts.logger.debug(`[${this.target.name}] $ (streamed) ${line.length > 500 ? line.slice(0, 500) + '…' : line}`);
    return openStream(
      client,
      line,
      { ...o, timeoutMs: o.timeoutMs ?? this.opts.commandTimeoutMs },
      {
        name: this.target.name,
        facts,
        lost: () => (this.client === client ? undefined : (this.lostReason ?? 'the connection dropped')),
      },
    );
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
      const sudo = sudoProblem(r.stderr);
      if (sudo) {
        throw new SshError(
          'sudo',
          this.target.name,
          `host ${this.target.name}: ${o.step ? `step '${o.step}'` : 'the command'} needs root, but ${sudo} for user '${this.target.user}'; allow it without a password (a NOPASSWD rule in /etc/sudoers.d), or connect as root`,
          {
            exitCode: r.code,
            stderrTail: tail(r.stderr),
            step: o.step,
          },
        );
      }
      const why = r.code === null ? `was killed by signal ${r.signal ?? 'unknown'}` : `exited with code ${r.code}`;
      const t = tail(r.stderr) || tail(r.stdout);
      const hint = r.code === 127 ? '\n(exit code 127: a command was not found. Non-interactive SSH sessions do not read ~/.profile: use absolute paths or set PATH in the script.)' : '';
      throw new SshError('command', this.target.name, `host ${this.target.name}: ${o.step ? `step '${o.step}'` : 'command'} ${why}${t ? `; last output:\n${t}` : ''}${hint}`, {
        exitCode: r.code,
        signal: r.signal,
        stderrTail: t,
        step: o.step,
      });
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
   * secrets). With `exclusive`, the file must not exist yet (a symlink is never followed).
   */
  async writeFile(remote: string, content: string | Buffer, mode = 0o644, o: { exclusive?: boolean } = {}): Promise<void> {
    await writeFile(await this.sftp(), this.target.name, remote, content, mode, o);
  }

  /** Replace a file atomically (temporary name, then rename): a symlink in its place is replaced, never followed. */
  async replaceFile(remote: string, content: string | Buffer, mode = 0o644): Promise<void> {
    await replaceFile(await this.sftp(), this.target.name, remote, content, mode);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    c?.end();
  }
}
