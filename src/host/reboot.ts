/**
 * Rebooting a host and waiting for it: record its boot marker, issue the reboot (the SSH
 * connection dropping is expected), then reconnect with backoff until the host answers
 * with a different marker, or fail at the deadline.
 */
import { bootMarkerCommand } from '../commands/host.js';
import { errorMessage, type Logger } from '../log.js';
import type { Command } from '../shell/index.js';
import { formatDuration } from '../text.js';
import { SshError } from './errors.js';
import type { SshSession } from './session.js';

export async function bootMarker(s: SshSession): Promise<string> {
  const r = await s.run(bootMarkerCommand(), { step: 'boot marker', timeoutMs: 30_000 });
  const m = r.stdout.trim();
  if (!/^[^:\s]+:\d+$/.test(m)) throw new SshError('command', s.target.name, `host ${s.target.name}: cannot read its boot marker (boot_id and PID 1 start time): ${JSON.stringify(m)}`);
  return m;
}

export interface RebootOptions {
  /** The command that reboots (already privileged); it may never return. */
  reboot: Command;
  timeoutMs: number;
  logger: Logger;
  /** First wait between attempts (doubles, up to 15 s). */
  pollMs?: number;
}

export interface RebootResult {
  before: string;
  after: string;
  /** From issuing the reboot to the first command on the new boot. */
  downMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function rebootAndWait(s: SshSession, o: RebootOptions): Promise<RebootResult> {
  const name = s.target.name;
  const before = await bootMarker(s);
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  o.logger.info(`host ${name}: rebooting (boot marker ${before})`);
  try {
    const r = await s.exec(o.reboot, { timeoutMs: 60_000, step: 'reboot' });
    // A reboot command that fails while the connection is still up did not reboot.
    if (r.code !== 0 && !s.lost) {
      await sleep(2000);
      if (!s.lost && (await bootMarker(s).catch(() => undefined)) === before) {
        throw new SshError('command', name, `host ${name}: the reboot command exited with code ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
      }
    }
  } catch (e) {
    // The connection dropping under the reboot command is what a reboot looks like.
    if (!(e instanceof SshError) || (e.kind !== 'connection' && e.kind !== 'timeout')) throw e;
  }
  let wait = o.pollMs ?? 1000;
  let last = 'no answer yet';
  for (;;) {
    if (Date.now() >= deadline) {
      throw new SshError('timeout', name, `host ${name}: did not come back from the reboot within ${formatDuration(o.timeoutMs)} ('reboot-timeout'; last: ${last}); check its console`);
    }
    await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
    wait = Math.min(wait * 2, 15_000);
    try {
      await s.reconnect({ retries: 0, timeoutMs: Math.max(1000, Math.min(20_000, deadline - Date.now())) });
      const after = await bootMarker(s);
      if (after !== before) {
        const downMs = Date.now() - started;
        o.logger.info(`host ${name}: back after ${formatDuration(downMs)} (boot marker ${after})`);
        return { before, after, downMs };
      }
      last = 'still on the boot before the reboot';
    } catch (e) {
      last = errorMessage(e).replace(`host ${name}: `, '');
    }
  }
}
