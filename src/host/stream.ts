/**
 * A remote command whose stdout is a Node stream with backpressure (the SSH window is not
 * opened further until the consumer reads), stdin optionally from a stream, stderr kept
 * apart (its last 64 KiB, for errors), and the exit status delivered after the stream has
 * ended, never lost. Memory does not grow with the size of the stream.
 */
import { PassThrough, Transform, type Readable } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { SshError } from './errors.js';
import { REMOTE_KILL_GRACE_MS, withRemoteTimeout, type HostFacts } from './exec.js';
import { tail } from '../text.js';

export interface StreamOptions {
  /** Bytes for the command's stdin (closed at its end); none: stdin is closed at once. */
  stdin?: Readable;
  timeoutMs: number;
  step?: string;
}

export interface StreamResult {
  code: number | null;
  signal?: string;
  /** The end of stderr (the last 64 KiB, as text). */
  stderrTail: string;
  /** Bytes read from stdout. */
  bytes: number;
  durationMs: number;
  timedOut: boolean;
}

export interface RemoteStream {
  /** The command's stdout. Read it to the end (or destroy it to stop the command). */
  stdout: Readable;
  /** Settles once stdout has ended and the command has exited. */
  done: Promise<StreamResult>;
}

const STDERR_KEEP = 64 * 1024;

export function openStream(client: Client, line: string, o: StreamOptions, ctx: { name: string; facts: HostFacts; lost: () => string | undefined }): Promise<RemoteStream> {
  const what = o.step ? `step '${o.step}'` : 'a command';
  const started = Date.now();
  const command = ctx.facts.timeout ? withRemoteTimeout(line, o.timeoutMs) : line;
  return new Promise((resolve, reject) => {
    const start = (e: Error | undefined, ch: ClientChannel) => {
      if (e) return reject(new SshError(ctx.lost() ? 'connection' : 'channel', ctx.name, `host ${ctx.name}: could not start ${what}: ${e.message}`, { step: o.step }));
      let bytes = 0;
      let stderr = Buffer.alloc(0);
      let code: number | null = null;
      let signal: string | undefined;
      let timedOut = false;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          cb(null, chunk);
        },
      });
      ch.pipe(counter);
      ch.stderr.on('data', (d: Buffer) => {
        stderr = Buffer.concat([stderr, d]);
        if (stderr.length > STDERR_KEEP * 2) stderr = stderr.subarray(stderr.length - STDERR_KEEP);
      });
      ch.on('exit', (c: number | null, sig?: string) => {
        code = c;
        if (sig) signal = sig;
      });
      ch.on('error', () => {
        /* reported through close */
      });
      // The consumer gave up: stop the command's output (the remote side gets SIGPIPE/EOF).
      counter.on('close', () => {
        if (!counter.readableEnded) ch.close();
      });
      const backstop = ctx.facts.timeout ? o.timeoutMs + REMOTE_KILL_GRACE_MS + 5000 : o.timeoutMs;
      const timer = setTimeout(() => {
        timedOut = true;
        ch.close();
      }, backstop);
      const done = new Promise<StreamResult>((res, rej) => {
        let closed = false;
        let ended = false;
        const settle = () => {
          if (!closed || !ended) return;
          clearTimeout(timer);
          const durationMs = Date.now() - started;
          const stderrTail = tail(stderr.subarray(Math.max(0, stderr.length - STDERR_KEEP)).toString('utf8'));
          const lost = ctx.lost();
          if (!timedOut && code === null && signal === undefined && lost) {
            rej(new SshError('connection', ctx.name, `host ${ctx.name}: the SSH connection was lost while ${what} was streaming (${lost}); the stream is incomplete`, { step: o.step, stderrTail }));
            return;
          }
          const remoteTimeout = ctx.facts.timeout && (code === 124 || code === 137) && durationMs >= o.timeoutMs - 1000;
          res({ code, signal, stderrTail, bytes, durationMs, timedOut: timedOut || remoteTimeout });
        };
        ch.on('close', () => {
          closed = true;
          // The command is over: a local producer still writing must not block on a full pipe.
          if (o.stdin) {
            o.stdin.unpipe(ch);
            o.stdin.destroy();
          }
          // A channel torn down with the connection may not have ended its stream.
          if (!counter.writableEnded) counter.end();
          settle();
        });
        counter.on('end', () => {
          ended = true;
          settle();
        });
        counter.on('close', () => {
          ended = true;
          settle();
        });
      });
      done.catch(() => {});
      if (o.stdin) {
        const input = o.stdin;
        // A producer that fails (or failed before the command started) must not leave the
        // command waiting for the rest of its input: the channel goes, and the command with it.
        const broken = () => {
          if (!input.readableEnded) ch.close();
        };
        input.on('error', broken);
        input.on('close', broken);
        if (input.destroyed) broken();
        else input.pipe(ch);
      } else ch.end();
      const out = new PassThrough({ highWaterMark: 1024 * 1024 });
      counter.pipe(out);
      out.on('close', () => {
        if (!out.readableEnded) counter.destroy();
      });
      resolve({ stdout: out, done });
    };
    try {
      client.exec(command, start);
    } catch (e) {
      reject(new SshError('connection', ctx.name, `host ${ctx.name}: could not start ${what}: ${(e as Error).message}`, { step: o.step }));
    }
  });
}
