/** What a script run on a fleet (the run action) returns: one line per host. */
import type { Timeline } from '../host/timeline.js';

export interface HostRun {
  host: string;
  result: 'succeeded' | 'failed' | 'skipped';
  exitCode: number | null;
  durationMs: number;
  timedOut?: boolean;
  stdout: string;
  stderr: string;
  /** Why the host failed, when it was not the script's own exit code (unreachable, sudo, ...). */
  error?: string;
}

export interface RunResult {
  ok: boolean;
  hosts: HostRun[];
  /** The full stdout of the only host (for the `stdout` output). */
  stdout?: string;
  error?: string;
  timeline: Timeline;
}
