/**
 * Patching a fleet, host by host (`max-parallel` at a time, 1 by default), as phases per
 * host: maintenance lock (host-wide: deploys refuse to start meanwhile) → `apt-get update` →
 * plan (`apt-get -s`) → hold the excluded packages → apply → unhold (always) → check the
 * versions dpkg now has → services (needrestart) → reboot if asked or required, waiting for
 * a new boot marker → health gate → release. A host that fails stops the run: later hosts
 * are not touched, and the result says who was updated, who was not, and why.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  afterUpgradeCommand,
  aptApplyCommand,
  aptMarkCommand,
  aptSimulateCommand,
  aptUpdateCommand,
  hostDirCommand,
  installedVersionsCommand,
  lockHoldersCommand,
  maintenanceDirCommand,
  restartServicesCommand,
  showHoldsCommand,
  type UpdateMode,
} from '../commands/apt.js';
import { privileged } from '../commands/host.js';
import { checkHealth } from '../health/check.js';
import type { HealthSpec } from '../health/spec.js';
import { appendEvent, type HistoryEvent, type NewEvent } from '../host/history.js';
import { acquireLocks, HOST_LOCK_NAME, type HeldLocks } from '../host/lock.js';
import type { SshPool } from '../host/pool.js';
import { rebootAndWait } from '../host/reboot.js';
import { SshError } from '../host/errors.js';
import type { SshSession } from '../host/session.js';
import type { Target } from '../host/target.js';
import { errorMessage, type Logger } from '../log.js';
import {
  dpkgLockHolder,
  parseAfterUpgrade,
  parseLockHolders,
  parseInstalled,
  parseSimulation,
  selectUpgrades,
  type HostReport,
  type PatchResult,
  type PlannedUpgrade,
  type Upgraded,
} from '../maintenance/plan.js';
import type { Command } from '../shell/index.js';
import { formatDuration } from '../text.js';

export type RebootPolicy = 'if-required' | 'never' | 'always';

export interface PatchConfig {
  run: { app: string; environment: string; actor: string; runUrl: string; runId: string };
  mode: UpdateMode;
  exclude: string[];
  reboot: RebootPolicy;
  /** A command of the user's; the default tries systemctl reboot, then shutdown -r now. */
  rebootCommand: Command;
  rebootTimeoutMs: number;
  restartServices: boolean;
  dryRun: boolean;
  gate?: HealthSpec;
  /** true / false, or undefined: sudo when the user is not root. */
  useSudo?: boolean;
  maxParallel: number;
  lockTimeoutMs: number;
  /** How long apt waits for the dpkg lock another process holds. */
  dpkgLockTimeoutMs: number;
  /** How long the upgrade itself may take. */
  timeoutMs: number;
}

export type { HostReport, HostStatus, PatchResult, Upgraded } from '../maintenance/plan.js';

class StepError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

const asUpgrade = (p: PlannedUpgrade): Upgraded => ({ package: p.package, from: p.from, to: p.to });

export async function securityUpdate(cfg: PatchConfig, pool: SshPool, targets: Target[], logger: Logger): Promise<PatchResult> {
  const started = Date.now();
  const reports: HostReport[] = targets.map((t) => blank(t.name));
  let stop: string | undefined;
  for (let i = 0; i < targets.length && !stop; i += cfg.maxParallel) {
    const batch = targets.slice(i, i + cfg.maxParallel);
    const done = await Promise.all(batch.map((t) => patchHost(cfg, pool, t, logger)));
    done.forEach((r, k) => {
      reports[i + k] = r;
    });
    const failed = done.find((r) => r.status === 'failed');
    if (failed) stop = `host ${failed.host} failed at '${failed.step}': ${failed.error}`;
  }
  const untouched = reports.filter((r) => r.status === 'not-started').map((r) => r.host);
  const error = stop && `${stop}${untouched.length ? `. Not started, untouched: ${untouched.join(', ')}` : ''}`;
  return { ok: !stop, hosts: reports, error, durationMs: Date.now() - started };
}

function blank(host: string): HostReport {
  return {
    host,
    status: 'not-started',
    packages: [],
    excluded: [],
    rebooted: false,
    pendingReboot: false,
    rebootReasons: [],
    servicesRestarted: [],
    servicesNeedingRestart: [],
    durationMs: 0,
    warnings: [],
  };
}

async function patchHost(cfg: PatchConfig, pool: SshPool, target: Target, logger: Logger): Promise<HostReport> {
  const t0 = Date.now();
  const r = blank(target.name);
  let step = 'connect';
  let locks: HeldLocks | undefined;
  let s: SshSession | undefined;
  let historyFile: string | undefined;
  let viaSudo = false;
  /** Leave the maintenance lock in place (the host's state needs a person). */
  let keepLock = false;
  let plannedAll: PlannedUpgrade[] = [];
  let lockDir = '';
  const as = (c: Command) => privileged(c, viaSudo);
  const run = async (name: string, c: Command, o: { timeoutMs?: number; check?: boolean; waitForLock?: boolean } = {}) => {
    step = name;
    let x = await s!.exec(as(c), { step: name, timeoutMs: o.timeoutMs });
    // apt-mark changes selections through dpkg, which does not wait for the lock: retry
    // while another package manager holds it, up to dpkg-lock-timeout (as apt-get waits).
    const until = Date.now() + cfg.dpkgLockTimeoutMs;
    let said = false;
    while (o.waitForLock && x.code !== 0 && /frontend lock was locked|Could not get lock|lock was locked by another process/.test(x.stderr) && Date.now() < until) {
      if (!said) logger.info(`host ${target.name}: waiting for the dpkg lock another process holds (${x.stderr.match(/pid \d+|process \d+[^\n]*/)?.[0] ?? 'see apt'})`);
      said = true;
      await new Promise((res) => setTimeout(res, 2000));
      x = await s!.exec(as(c), { step: name, timeoutMs: o.timeoutMs });
    }
    if (x.timedOut) {
      const limit = formatDuration(o.timeoutMs ?? 0);
      const dpkg = name === 'upgrade' || name === 'hold' || name === 'unhold';
      if (dpkg) keepLock = true;
      throw new StepError(
        name,
        `'${name}' did not finish within ${limit}${name === 'upgrade' ? " ('timeout')" : ''}${x.mayStillRun ? ' and may still be running on the host' : ' and was stopped'}` +
          (dpkg ? '; dpkg may be half-way: check the host (dpkg --audit, dpkg --configure -a). Its maintenance lock stays, so nothing deploys to it meanwhile' : ''),
      );
    }
    if (o.check !== false && x.code !== 0) {
      const tail = (x.stderr || x.stdout).trim().split('\n').slice(-8).join('\n');
      let holder = dpkgLockHolder(`${x.stderr}\n${x.stdout}`);
      // apt names the holder only while it waits; the kernel's lock table always can.
      if (holder && !/process \d+ \(/.test(holder)) {
        const found = await s!.exec(lockHoldersCommand(), { step: 'lock holders' }).then(
          (r) => parseLockHolders(r.stdout),
          () => undefined,
        );
        if (found) holder = found;
      }
      throw new StepError(
        name,
        holder
          ? `the dpkg lock was still held after ${formatDuration(cfg.dpkgLockTimeoutMs)} ('dpkg-lock-timeout'): ${holder}. Wait for it to finish (or stop it), then run again`
          : `'${name}' exited with code ${x.code}${tail ? `:\n${tail}` : ''}`,
      );
    }
    return x;
  };
  const record = async (e: NewEvent) => {
    if (!historyFile || !s) return;
    const event = { ...e, time: new Date().toISOString(), host: target.name, actor: cfg.run.actor, run_url: cfg.run.runUrl || undefined } as HistoryEvent;
    await s.exec(as(appendEvent(historyFile, event)), { step: 'history' }).catch((err) => logger.warning(`host ${target.name}: could not record ${e.type}: ${errorMessage(err)}`));
  };
  try {
    s = await pool.get(target);
    const facts = await s.facts();
    viaSudo = cfg.useSudo ?? facts.uid !== 0;
    step = 'sudo';
    if (viaSudo) {
      const probe = await s.exec(['sudo', '-n', 'true'], { step: 'sudo' });
      if (probe.code !== 0)
        throw new StepError(
          'sudo',
          `${target.user} cannot run commands as root without a password (sudo -n: ${probe.stderr.trim() || `exit ${probe.code}`}); give it NOPASSWD sudo for apt-get, apt-mark, needrestart and the reboot, or connect as root`,
        );
    }
    if (!cfg.dryRun) {
      step = 'lock';
      const hostDir = (await s.run(hostDirCommand(), { step: 'lock' })).stdout.trim();
      const dir = path.posix.join(hostDir, HOST_LOCK_NAME);
      lockDir = dir;
      await s.run(as(maintenanceDirCommand(dir)), { step: 'lock' });
      historyFile = path.posix.join(dir, 'history.jsonl');
      locks = await acquireLocks(
        [{ name: target.name, appDir: dir, session: s, sortKey: target.name, sudo: viaSudo }],
        { id: `${cfg.run.runId || 'local'}-${randomBytes(4).toString('hex')}`, kind: 'maintenance', app: cfg.run.app, environment: cfg.run.environment, actor: cfg.run.actor, run_url: cfg.run.runUrl },
        { timeoutMs: cfg.lockTimeoutMs, ttlMs: 10 * 60_000, logger },
      );
      await record({ type: 'maintenance-started', release: '', mode: cfg.mode });
    }
    if (cfg.dryRun && !viaSudo && facts.uid !== 0) {
      // A planning user without root (use-sudo: false) cannot refresh the lists: the plan is
      // from the lists as the host last fetched them.
      r.warnings.push('the package lists were not refreshed (not root, and use-sudo is false): the plan is as of the last apt-get update on the host');
      logger.warning(`host ${target.name}: ${r.warnings[r.warnings.length - 1]}`);
    } else {
      logger.info(`host ${target.name}: refreshing the package lists`);
      await run('apt-get update', aptUpdateCommand(cfg.dpkgLockTimeoutMs / 1000), { timeoutMs: Math.max(10 * 60_000, cfg.dpkgLockTimeoutMs + 5 * 60_000) });
    }
    const sim = await run('plan', aptSimulateCommand(cfg.mode), { timeoutMs: 5 * 60_000 });
    const plan = parseSimulation(sim.stdout);
    plannedAll = plan;
    const { selected, excluded } = selectUpgrades(plan, cfg.mode, cfg.exclude);
    r.packages = selected.map(asUpgrade);
    r.excluded = excluded.map(asUpgrade);
    const others = cfg.mode === 'security' ? plan.length - selected.length - excluded.length : 0;
    logger.info(
      `host ${target.name}: ${selected.length} package(s) to upgrade${cfg.mode === 'security' ? ' from the security archive' : ''}${excluded.length ? `, ${excluded.length} excluded (${excluded.map((p) => p.package).join(', ')})` : ''}${others ? `; ${others} other update(s) left for mode full` : ''}`,
    );
    for (const p of selected) logger.info(`  ${p.package} ${p.from || '(new)'} → ${p.to}`);
    if (cfg.dryRun) {
      const after = parseAfterUpgrade((await run('reboot check', afterUpgradeCommand(), { check: false })).stdout);
      r.pendingReboot = after.rebootRequired;
      r.rebootReasons = after.rebootReasons;
      r.servicesNeedingRestart = after.services;
      r.status = selected.length ? 'planned' : 'up-to-date';
      r.gate = 'none';
      return r;
    }
    if (selected.length) {
      locks!.assertHeld();
      const holds = new Set((await run('holds', showHoldsCommand())).stdout.split('\n').map((l) => l.trim()));
      const toHold = cfg.exclude.filter((p) => !holds.has(p) && plan.some((x) => x.package === p));
      // New packages (a new kernel's) come in as dependencies of the upgrades that need them;
      // naming them with --only-upgrade would skip them.
      const named = selected.filter((p) => p.from !== '').map((p) => p.package);
      try {
        if (toHold.length) await run('hold', aptMarkCommand('hold', toHold), { waitForLock: true });
        logger.info(`host ${target.name}: upgrading`);
        await run('upgrade', aptApplyCommand(cfg.mode, cfg.dpkgLockTimeoutMs / 1000, named), { timeoutMs: cfg.timeoutMs });
      } finally {
        // Unheld whatever happened (only what this run held: holds of the admin's stay).
        if (toHold.length) {
          const u = await run('unhold', aptMarkCommand('unhold', toHold), { waitForLock: true, check: false }).catch((e) => ({ code: -1, stderr: errorMessage(e), stdout: '' }));
          if (u.code !== 0) {
            const w = `could not unhold ${toHold.join(', ')} (${u.stderr.trim().split('\n').pop()}); run 'apt-mark unhold ${toHold.join(' ')}' on the host`;
            r.warnings.push(w);
            logger.warning(`host ${target.name}: ${w}`);
          }
        }
      }
      const installed = parseInstalled((await run('verify', installedVersionsCommand(plan.map((p) => p.package)))).stdout);
      const wrong = selected.filter((p) => p.from !== '' && installed.get(p.package) !== p.to);
      // What changed, whatever the reason (dependencies of security updates included).
      r.packages = plan.filter((p) => installed.has(p.package) && installed.get(p.package) !== p.from).map((p) => ({ package: p.package, from: p.from, to: installed.get(p.package)! }));
      if (wrong.length) throw new StepError('verify', `apt-get succeeded, but ${wrong.map((p) => `${p.package} is at ${installed.get(p.package) ?? 'nothing'} (expected ${p.to})`).join(', ')}`);
      const moved = excluded.filter((p) => installed.get(p.package) !== p.from);
      if (moved.length) r.warnings.push(`excluded packages changed anyway: ${moved.map((p) => `${p.package} ${p.from} → ${installed.get(p.package)}`).join(', ')}`);
    }
    const rebooting = cfg.reboot === 'always';
    const after = parseAfterUpgrade((await run('services', afterUpgradeCommand(), { check: false, timeoutMs: 10 * 60_000 })).stdout);
    r.rebootReasons = after.rebootReasons;
    if (after.needrestartFailed) r.warnings.push(`needrestart failed (${after.needrestartFailed}): services using replaced libraries were not checked`);
    const willReboot = rebooting || (cfg.reboot === 'if-required' && after.rebootRequired);
    if (cfg.restartServices && !willReboot && after.services.length) {
      const out = (await run('restart services', restartServicesCommand(after.services), { check: false, timeoutMs: 10 * 60_000 })).stdout;
      for (const line of out.split('\n')) {
        const [k, v] = line.split(': ');
        if (k === 'RESTARTED' && v) r.servicesRestarted.push(v.trim());
        else if (k === 'FAILED' && v) r.servicesNeedingRestart.push(v.trim());
      }
      if (r.servicesRestarted.length) logger.info(`host ${target.name}: restarted ${r.servicesRestarted.join(', ')} (they used replaced libraries)`);
      if (r.servicesNeedingRestart.length) r.warnings.push(`could not restart ${r.servicesNeedingRestart.join(', ')}; they still use replaced libraries`);
    } else if (!willReboot) r.servicesNeedingRestart = after.services;
    const reboot = willReboot;
    if (reboot) {
      locks!.assertHeld();
      step = 'reboot';
      if (after.rebootRequired) logger.info(`host ${target.name}: a reboot is required${after.rebootReasons.length ? ` (${after.rebootReasons.join(', ')})` : ''}`);
      const rb = await rebootAndWait(s, { reboot: as(cfg.rebootCommand), timeoutMs: cfg.rebootTimeoutMs, logger });
      r.rebooted = true;
      r.downMs = rb.downMs;
      const again = parseAfterUpgrade((await run('reboot check', afterUpgradeCommand(), { check: false })).stdout);
      if (again.rebootRequired && (await s.exec(['test', '-e', '/var/run/reboot-required'])).code === 0) r.warnings.push('the host still asks for a reboot after rebooting');
    } else if (after.rebootRequired) {
      r.pendingReboot = true;
      logger.warning(`host ${target.name}: a reboot is required (${after.rebootReasons.join(', ') || '/var/run/reboot-required'}) and reboot is '${cfg.reboot}': it is pending`);
    }
    if (cfg.gate?.urls.length) {
      step = 'health gate';
      const h = await checkHealth(cfg.gate, { logger, pool, targets: [target], maxParallel: 1 });
      r.gate = h.healthy ? 'passed' : 'failed';
      if (!h.healthy) throw new StepError('health gate', `the health gate failed after patching: ${h.failures.join('; ')}`);
    } else r.gate = 'none';
    r.status = r.packages.length || r.rebooted ? 'updated' : 'up-to-date';
    await record({ type: 'maintenance-completed', release: '', packages: r.packages.length, rebooted: r.rebooted });
    logger.info(`host ${target.name}: done (${r.packages.length} upgraded${r.rebooted ? ', rebooted' : ''}) in ${formatDuration(Date.now() - t0)}`);
    return r;
  } catch (e) {
    r.status = 'failed';
    r.step = e instanceof StepError ? e.step : step;
    r.error = errorMessage(e).replace(`host ${target.name}: `, '');
    // A host that went down and did not come back (not a reboot command that just failed).
    if (r.step === 'reboot' && !(e instanceof SshError && e.kind === 'command')) keepLock = true;
    if (keepLock && lockDir) r.error += `. The host's maintenance lock stays (deploys refuse to start) until someone has checked it: then remove ${lockDir}/.lock`;
    // A failed upgrade may have changed some packages: report what dpkg now has.
    if ((r.step === 'upgrade' || r.step === 'hold') && s && !s.lost && plannedAll.length) {
      const now = await s
        .exec(installedVersionsCommand(plannedAll.map((p) => p.package)), { step: 'verify' })
        .then((x) => parseInstalled(x.stdout))
        .catch(() => undefined);
      r.packages = now ? plannedAll.filter((p) => now.has(p.package) && now.get(p.package) !== p.from).map((p) => ({ package: p.package, from: p.from, to: now.get(p.package)! })) : [];
    }
    logger.error(`host ${target.name}: ${r.step === 'connect' ? '' : `${r.step}: `}${r.error}`);
    await record({ type: 'maintenance-failed', release: '', error: r.error, step: r.step });
    return r;
  } finally {
    r.durationMs = Date.now() - t0;
    if (keepLock) logger.warning(`host ${target.name}: its maintenance lock is left in place (${lockDir}/.lock)`);
    else await locks?.release();
  }
}
