/** What running a command on a host takes and gives: options, results, the output capture. */
import type { Readable } from 'node:stream';
import { render } from '../shell/index.js';

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
  /** Keep the output out of the debug log (data read for the runner, such as file listings). */
  quiet?: boolean;
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
  /** More output than is kept in memory (8 MiB per stream) came: the oldest was dropped. */
  truncated?: boolean;
}

/** What a host offers that the executor adapts to; read once per connection. */
export interface HostFacts {
  /** coreutils (or busybox) `timeout`: the deadline is enforced on the host. */
  timeout: boolean;
  bash: boolean;
  uid: number;
}

/** Output kept in memory for a command (the newest 8 MiB), optionally logged line by line. */
export const CAPTURE_LIMIT = 8 * 1024 * 1024;

export class Capture {
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

/** coreutils `timeout`'s grace between TERM and KILL. */
export const REMOTE_KILL_GRACE_MS = 10_000;

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
