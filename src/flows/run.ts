/**
 * Run a script on one host or a fleet: per host (max-parallel, canary, halt | continue),
 * a private directory gets the script and the environment by SFTP (0700 / 0600: values
 * never on a command line), the script runs fail-fast in the working directory (through
 * `sudo -n` when asked), and its exit code, duration and last lines are the host's result.
 * With an app, the app's deploy lock is held on every host while the script runs.
 */
import path from 'node:path';
import type { Target } from '../host/target.js';
import { forEachHost } from '../fleet/run.js';
import { errorMessage, type Logger } from '../log.js';
import type { SshPool } from '../host/pool.js';
import type { SshSession } from '../host/session.js';
import { makeRunDirCommand, envFileText, runScriptCommand, sudo } from '../commands/index.js';
import { connectHosts, lockAndRefresh, type RunIdentity } from '../deploy/context.js';
import type { HeldLocks, LockSite } from '../host/lock.js';
import { Timeline } from '../host/timeline.js';
import { formatDuration } from '../text.js';
import { resolveAppDir } from '../host/layout.js';
import type { HostRun, RunResult } from '../fleet/results.js';

export type { HostRun, RunResult } from '../fleet/results.js';

export interface RunConfig {
  script: string;
  /** The script has a shebang line (a script-file): executed directly. */
  direct: boolean;
  env: [string, string][];
  workingDirectory: string;
  sudo: boolean;
  timeoutMs: number;
  maxParallel: number;
  canary: number;
  onHostFailure: 'halt' | 'continue';
  /** Lines of stdout/stderr kept per host in the results. */
  outputLines: number;
  /** Hold this app's deploy lock on every host while the script runs. */
  lock?: { run: RunIdentity; appDir: string; timeoutMs: number; ttlMs: number; onLocked?: (held: LockSite[], ownerId: string) => void };
}

const lastLines = (s: string, n: number) => {
  const lines = s.replace(/\n$/, '').split('\n');
  return (lines.length > n ? lines.slice(-n) : lines).join('\n');
};

export async function runScript(cfg: RunConfig, pool: SshPool, targets: Target[], logger: Logger): Promise<RunResult> {
  const timeline = new Timeline();
  let locks: HeldLocks | undefined;
  if (cfg.lock) {
    const reached = await connectHosts(pool, targets, cfg.lock.appDir, { logger, timeline, commandTimeoutMs: cfg.timeoutMs, maxParallel: cfg.maxParallel });
    const unreachable = reached.filter((r) => r.status === 'failed');
    if (unreachable.length) {
      return {
        ok: false,
        hosts: targets.map((t) => {
          const u = unreachable.find((r) => r.target.name === t.name);
          return { host: t.name, result: u ? 'failed' : 'skipped', exitCode: null, durationMs: 0, stdout: '', stderr: '', error: u?.error };
        }),
        error: `cannot reach every host; the script ran nowhere:\n${unreachable.map((r) => r.error).join('\n')}`,
        timeline,
      };
    }
    try {
      const o = cfg.lock;
      locks = await lockAndRefresh(
        reached.map((r) => r.value!),
        o.appDir,
        o.run,
        'deploy',
        { timeoutMs: o.timeoutMs, ttlMs: o.ttlMs, logger, onAcquired: (held, owner) => o.onLocked?.(held, owner.id) },
      );
    } catch (e) {
      return {
        ok: false,
        hosts: targets.map((t) => ({ host: t.name, result: 'skipped', exitCode: null, durationMs: 0, stdout: '', stderr: '' })),
        error: `${errorMessage(e)}\nThe script ran nowhere.`,
        timeline,
      };
    }
  }
  try {
    const rs = await forEachHost(
      targets,
      async (t) => {
        const s = await pool.get(t);
        locks?.assertHeld();
        const start = Date.now();
        const r = await onHost(s, cfg, logger);
        timeline.add(t.name, 'script', start, Date.now(), r.exitCode === 0);
        if (r.exitCode !== 0) throw Object.assign(new Error(r.message), { run: r });
        return r;
      },
      { maxParallel: cfg.maxParallel, canary: cfg.canary, onFailure: cfg.onHostFailure, logger },
    );
    const hosts: HostRun[] = rs.map((r) => {
      const run = (r.status === 'succeeded' ? r.value : (r.cause as { run?: HostOutcome } | undefined)?.run) as HostOutcome | undefined;
      return {
        host: r.target.name,
        result: r.status,
        exitCode: run?.exitCode ?? null,
        durationMs: r.durationMs,
        timedOut: run?.timedOut || undefined,
        stdout: lastLines(logger.secrets.redact(run?.stdout ?? ''), cfg.outputLines),
        stderr: lastLines(logger.secrets.redact(run?.stderr ?? ''), cfg.outputLines),
        error: r.status === 'failed' ? (run?.message ?? r.error) : undefined,
      };
    });
    const failed = hosts.filter((h) => h.result === 'failed');
    const skipped = hosts.filter((h) => h.result === 'skipped');
    const only = rs.length === 1 && rs[0]!.status !== 'skipped' ? ((rs[0]!.value ?? (rs[0]!.cause as { run?: HostOutcome })?.run) as HostOutcome | undefined) : undefined;
    return {
      ok: failed.length === 0 && skipped.length === 0,
      hosts,
      stdout: only ? logger.secrets.redact(only.stdout) : undefined,
      error: failed.length
        ? `the script failed on ${failed.length} of ${hosts.length} host(s):\n${failed.map((h) => h.error).join('\n')}${skipped.length ? `\nNot run (on-host-failure: halt): ${skipped.map((h) => h.host).join(', ')}` : ''}`
        : undefined,
      timeline,
    };
  } finally {
    await locks?.release();
  }
}

interface HostOutcome {
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  message: string;
}

async function onHost(s: SshSession, cfg: RunConfig, logger: Logger): Promise<HostOutcome> {
  const name = s.target.name;
  if (cfg.sudo) await s.run(['sudo', '-n', 'true'], { step: 'sudo' });
  const dir = (await s.run(makeRunDirCommand(), { step: 'prepare' })).stdout.trim();
  if (!dir.startsWith('/')) throw new Error(`host ${name}: could not make a private directory for the script (mktemp said ${JSON.stringify(dir)})`);
  try {
    await s.writeFile(path.posix.join(dir, 'env'), envFileText(cfg.env), 0o600);
    await s.writeFile(path.posix.join(dir, 'script'), cfg.script, 0o700);
    // Under sudo, HOME is root's: `~` means the connecting user's home, resolved first.
    let wd = cfg.workingDirectory;
    if (cfg.sudo && (wd === '~' || wd.startsWith('~/'))) wd = resolveAppDir(wd, (await s.run(['sh', '-c', 'printf %s "$HOME"'], { step: 'prepare' })).stdout);
    const wrapper = runScriptCommand(dir, wd, cfg.direct);
    const r = await s.exec(cfg.sudo ? sudo(wrapper) : wrapper, { step: 'script', stream: true, timeoutMs: cfg.timeoutMs });
    const code = r.timedOut ? null : r.code;
    const tail = lastLines(r.stderr.trim() || r.stdout.trim(), 5);
    const message = r.timedOut
      ? `host ${name}: the script timed out after ${formatDuration(cfg.timeoutMs)} and was stopped${r.mayStillRun ? " (the host has no 'timeout' command: it may still be running there)" : ''}; raise 'timeout' if it needs longer`
      : r.code === 0
        ? ''
        : `host ${name}: the script ${r.code === null ? `was killed by signal ${r.signal ?? 'unknown'}` : `exited with code ${r.code}`}${tail ? `; last output:\n${logger.secrets.redact(tail)}` : ''}`;
    return { exitCode: code, timedOut: r.timedOut, stdout: r.stdout, stderr: r.stderr, message };
  } finally {
    // The wrapper removes it; this covers a wrapper that never started.
    await s.exec(['rm', '-rf', '--', dir]).catch(() => {});
  }
}
