/** Reading what apt, dpkg and needrestart answer (pure: unit-tested on their real output). */
import type { UpdateMode } from '../commands/apt.js';

export interface PlannedUpgrade {
  package: string;
  /** Installed version ('' when the upgrade installs it new). */
  from: string;
  to: string;
  /** The suites offering `to` (e.g. `bookworm-security`, `oldstable-security`). */
  suites: string[];
  security: boolean;
}

/**
 * The `Inst` lines of `apt-get -s`: `Inst name [old] (new Origin:version/suite[, ...] [arch])`.
 * A package is a security update when one of the suites offering its new version is a
 * `-security` suite (Debian's and Ubuntu's security archives both are).
 */
export function parseSimulation(stdout: string): PlannedUpgrade[] {
  const out: PlannedUpgrade[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) ([^[)]*?)(?: \[[^\]]*\])?\)/.exec(line);
    if (!m) continue;
    // `Origin:version/suite`, or `Label:suite` for a source without a version.
    const suites = m[4]!
      .split(',')
      .map((s) => {
        const t = s.trim();
        return t.includes('/') ? t.slice(t.lastIndexOf('/') + 1) : t.slice(t.indexOf(':') + 1);
      })
      .filter(Boolean);
    out.push({ package: m[1]!.replace(/:\S+$/, ''), from: m[2] ?? '', to: m[3]!, suites, security: suites.some((s) => /-security$/.test(s)) });
  }
  return out;
}

/** What this run changes: by mode, without the excluded packages. */
export function selectUpgrades(plan: PlannedUpgrade[], mode: UpdateMode, exclude: string[]): { selected: PlannedUpgrade[]; excluded: PlannedUpgrade[] } {
  const inMode = mode === 'security' ? plan.filter((p) => p.security) : plan;
  const ex = new Set(exclude);
  return { selected: inMode.filter((p) => !ex.has(p.package)), excluded: inMode.filter((p) => ex.has(p.package)) };
}

export function parseInstalled(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [name, version, status] = line.split('\t');
    if (name && version && status?.startsWith('ii')) m.set(name, version);
  }
  return m;
}

export interface AfterUpgrade {
  rebootRequired: boolean;
  /** Why: the packages /var/run/reboot-required.pkgs names, or the kernel needrestart saw. */
  rebootReasons: string[];
  needrestart: boolean;
  /** Services needrestart restarted (or, when not restarting, that need it). */
  services: string[];
  /** needrestart's kernel status: 0 unknown, 1 current, 2 ABI-compatible upgrade, 3 new version. */
  kernelStatus?: number;
  /** needrestart ran and failed (its exit code): services were not checked. */
  needrestartFailed?: string;
}

export function parseAfterUpgrade(stdout: string): AfterUpgrade {
  const r: AfterUpgrade = { rebootRequired: false, rebootReasons: [], needrestart: false, services: [] };
  for (const line of stdout.split('\n')) {
    const [k, ...rest] = line.split(': ');
    const v = rest.join(': ').trim();
    if (k === 'REBOOT-REQUIRED') r.rebootRequired = true;
    else if (k === 'REBOOT-PKG' && v) r.rebootReasons.push(v);
    else if (k === 'NEEDRESTART') r.needrestart = v === 'yes';
    else if (k === 'NEEDRESTART-SVC' && v) r.services.push(v);
    else if (k === 'NEEDRESTART-KSTA') r.kernelStatus = Number(v);
    else if (k === 'NEEDRESTART-FAILED') r.needrestartFailed = v || 'failed';
  }
  if (r.kernelStatus !== undefined && r.kernelStatus >= 2) {
    r.rebootRequired = true;
    r.rebootReasons.push('a newer kernel is installed than the one running');
  }
  return r;
}

/** apt's own words about the lock holder ("It is held by process 123 (apt-get)"). */
export function dpkgLockHolder(text: string): string | undefined {
  const m = /Could not get lock (\S+?)\.? It is held by process (\d+) \(([^)]*)\)/.exec(text);
  if (m) return `process ${m[2]} (${m[3]}) holds ${m[1]}`;
  const pid = /frontend lock was locked by another process with pid (\d+)/.exec(text);
  if (pid) return `process ${pid[1]} holds the dpkg frontend lock`;
  return /Could not get lock|Unable to acquire the dpkg frontend lock/.test(text) ? 'another package manager holds the dpkg lock' : undefined;
}

/** The holders `lockHoldersCommand` found, as `process 123 (apt-get) holds /var/lib/dpkg/lock-frontend`. */
export function parseLockHolders(stdout: string): string | undefined {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^HOLDER: (\S+) (-?\d+) ?(.*)$/.exec(line.trim());
    if (!m) continue;
    const who = m[2] === '-1' ? 'an open file description lock' : `process ${m[2]}${m[3] ? ` (${m[3]})` : ''}`;
    if (seen.has(who)) continue;
    seen.add(who);
    out.push(`${who} holds ${m[1]}`);
  }
  return out.length ? out.join('; ') : undefined;
}

/** What a run did on one host, and on all. */
export type HostStatus = 'updated' | 'up-to-date' | 'planned' | 'failed' | 'not-started';

export interface Upgraded {
  package: string;
  from: string;
  to: string;
}

export interface HostReport {
  host: string;
  status: HostStatus;
  /** What was (or, in a dry run, would be) upgraded. */
  packages: Upgraded[];
  /** Pending upgrades left alone: excluded, or outside the mode. */
  excluded: Upgraded[];
  rebooted: boolean;
  /** A reboot is needed and was not done (reboot: never, or a dry run). */
  pendingReboot: boolean;
  rebootReasons: string[];
  servicesRestarted: string[];
  servicesNeedingRestart: string[];
  downMs?: number;
  gate?: 'passed' | 'failed' | 'none';
  durationMs: number;
  step?: string;
  error?: string;
  warnings: string[];
}

export interface PatchResult {
  ok: boolean;
  hosts: HostReport[];
  error?: string;
  durationMs: number;
}
