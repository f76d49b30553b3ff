/**
 * Host checks: disk, inodes, memory, load, systemd units, processes, the app's containers,
 * reboot-required and clock offset, judged per host from one round trip of raw facts
 * (src/commands/host-checks.ts). Each check is a snapshot: it reports a value, its limit
 * and a verdict; `fail` and `error` make the host unhealthy, `warn` does not.
 */
import { FACT_MARKER, hostClockCommand, hostFactsCommand, readStateCommand } from '../commands/index.js';
import { forEachHost } from '../fleet/run.js';
import { isOneShot, readProjectContainers, type ContainerState } from '../host/containers.js';
import type { SshPool } from '../host/pool.js';
import type { SshSession } from '../host/session.js';
import { parseState } from '../host/state.js';
import type { Target } from '../host/target.js';
import { parseDuration } from '../inputs/schema.js';
import { errorMessage, type Logger } from '../log.js';
import { formatDuration, ParseError } from '../text.js';

export type HostCheck =
  | { kind: 'disk' | 'inodes'; label: string; path: string; limitPct: number }
  | { kind: 'memory'; label: string; limitPct: number }
  | { kind: 'load'; label: string; window: '1m' | '5m' | '15m'; limitPerCore: number }
  | { kind: 'systemd'; label: string; units: string[] }
  | { kind: 'process'; label: string; names: string[] }
  | { kind: 'containers'; label: string; windowMs: number }
  | { kind: 'reboot-required'; label: string; severity: 'warn' | 'fail' }
  | { kind: 'time-sync'; label: string; maxOffsetMs: number };

export type Verdict = 'ok' | 'warn' | 'fail' | 'error';

export interface CheckOutcome {
  check: string;
  verdict: Verdict;
  /** What was measured, for people ("95.2% used (196 KiB free)"). */
  value: string;
  limit: string;
  /** For machines: the measured number and its limit, in the check's unit (%, load per core, ms). */
  measured?: number;
  threshold?: number;
  /** Why it is not ok, and what to do. */
  detail?: string;
}

export interface HostCheckReport {
  host: string;
  healthy: boolean;
  checks: CheckOutcome[];
}

export interface HostChecksResult {
  healthy: boolean;
  hosts: HostCheckReport[];
  /** One line per failed check, naming the host. */
  failures: string[];
  /** One line per warning, naming the host. */
  warnings: string[];
}

const pct = (raw: string, what: string): number => {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(raw.trim());
  if (!m) throw new ParseError(`${what}: '${raw}' is not a percentage; write e.g. 90%`);
  const n = Number(m[1]);
  if (n <= 0 || n > 100) throw new ParseError(`${what}: ${raw} is not between 0% and 100%`);
  return n;
};

const names = (raw: string, what: string, re: RegExp, hint: string): string[] => {
  const out = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!out.length) throw new ParseError(`${what}: name at least one, e.g. ${hint}`);
  for (const n of out) if (!re.test(n)) throw new ParseError(`${what}: '${n}' is not a valid name`);
  return out;
};

const KINDS = 'disk <path>=90%, inodes <path>=90%, memory=90%, load=2.0, systemd=<units>, process=<names>, containers, reboot-required=warn|fail, time-sync=1s';

/** The `host-checks` input: one check per line (`#` comments and blank lines ignored). */
export function parseHostChecks(raw: string): HostCheck[] {
  const out: HostCheck[] = [];
  const lines = raw.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    const where = `line ${i + 1} ('${line}')`;
    const eq = line.indexOf('=');
    const head = (eq < 0 ? line : line.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : line.slice(eq + 1).trim();
    const [kind = '', ...rest] = head.split(/\s+/);
    const target = rest.join(' ');
    const need = (what: string) => {
      if (value === undefined || value === '') throw new ParseError(`${where}: ${kind} needs ${what}`);
      return value;
    };
    const noTarget = () => {
      if (target) throw new ParseError(`${where}: ${kind} takes no argument before '='`);
    };
    let check: HostCheck;
    switch (kind) {
      case 'disk':
      case 'inodes': {
        if (!target.startsWith('/')) throw new ParseError(`${where}: ${kind} needs an absolute path, e.g. ${kind} /=90%`);
        check = { kind, label: `${kind} ${target}`, path: target, limitPct: pct(need('a limit, e.g. =90%'), where) };
        break;
      }
      case 'memory':
        noTarget();
        check = { kind, label: 'memory', limitPct: pct(need('a limit, e.g. =90%'), where) };
        break;
      case 'load': {
        const window = (target || '5m') as '1m' | '5m' | '15m';
        if (!['1m', '5m', '15m'].includes(window)) throw new ParseError(`${where}: the load average window is 1m, 5m or 15m (load 15m=1.5); plain load is the 5-minute one`);
        const n = Number(need('a limit per core, e.g. =2.0'));
        if (!Number.isFinite(n) || n <= 0) throw new ParseError(`${where}: the load limit is a positive number per core, e.g. load=2.0`);
        check = { kind, label: target ? `load ${window}` : 'load', window, limitPerCore: n };
        break;
      }
      case 'systemd':
        noTarget();
        check = { kind, label: 'systemd', units: names(need('unit names, e.g. =nginx,postgresql'), where, /^[A-Za-z0-9@._:\\-]{1,255}$/, 'systemd=nginx,postgresql') };
        break;
      case 'process':
        noTarget();
        // pgrep -x matches the kernel's process name, which is at most 15 characters.
        check = {
          kind,
          label: 'process',
          names: names(
            need('process names, e.g. =nginx,postgres'),
            where,
            /^[A-Za-z0-9_.:+@-]{1,15}$/,
            'process=nginx,postgres (names of at most 15 characters of letters, digits and _ . : + @ -, as ps -o comm shows them)',
          ),
        };
        break;
      case 'containers': {
        noTarget();
        const windowMs = value === undefined ? 10_000 : parseDuration(value);
        if (windowMs > 600_000) throw new ParseError(`${where}: the restart window is at most 10m`);
        check = { kind, label: 'containers', windowMs };
        break;
      }
      case 'reboot-required': {
        noTarget();
        const severity = value ?? 'warn';
        if (severity !== 'warn' && severity !== 'fail') throw new ParseError(`${where}: reboot-required is =warn or =fail`);
        check = { kind, label: 'reboot-required', severity };
        break;
      }
      case 'time-sync': {
        noTarget();
        const maxOffsetMs = value === undefined ? 1000 : parseDuration(value);
        if (maxOffsetMs < 1) throw new ParseError(`${where}: the offset bound must be positive`);
        check = { kind, label: 'time-sync', maxOffsetMs };
        break;
      }
      default:
        throw new ParseError(`${where}: unknown check '${kind}'; the checks are ${KINDS}`);
    }
    if (out.some((c) => c.label === check.label)) throw new ParseError(`${where}: ${check.label} is checked twice`);
    out.push(check);
  }
  return out;
}

/** The fact names a host must answer for these checks (see hostFactsCommand). */
export function factsFor(checks: HostCheck[]): string[] {
  const facts = checks.flatMap((c): string[] => {
    switch (c.kind) {
      case 'disk':
        return [`disk:${c.path}`];
      case 'inodes':
        return [`inodes:${c.path}`];
      case 'memory':
        return ['memory'];
      case 'load':
        return ['load'];
      case 'systemd':
        return c.units.map((u) => `systemd:${u}`);
      case 'process':
        return c.names.map((n) => `process:${n}`);
      case 'reboot-required':
        return ['reboot'];
      case 'time-sync':
        return ['ntp'];
      default:
        return [];
    }
  });
  return [...new Set(facts)];
}

/** The facts command's output, by fact name. */
export function parseFacts(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${FACT_MARKER} `)) {
      current = [];
      out.set(line.slice(FACT_MARKER.length + 1), current);
    } else if (current && line !== '') current.push(line);
  }
  return out;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
/** An offset or uncertainty: milliseconds below a second, else seconds with one decimal (2 minutes is 120.0s, not 2m). */
const fmtMs = (ms: number) => (Math.abs(ms) < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`);
const kib = (k: number) => (k >= 1024 * 1024 ? `${(k / 1024 / 1024).toFixed(1)} GiB` : k >= 1024 ? `${(k / 1024).toFixed(1)} MiB` : `${k} KiB`);

/** A `df -P` data line: the numbers and the mount point (the last field(s), which may hold spaces). */
function dfLine(lines: string[]): { total: number; used: number; free: number; mount: string } | { problem: string } {
  const data = lines.slice(1).find((l) => /\s\d+\s+\d+\s+\d+\s+(\d+%|-)\s+\//.test(l) || /\s-\s+-\s+-\s+-\s+\//.test(l));
  if (!data) return { problem: lines.join(' ').trim() || 'df printed nothing' };
  const m = /^(.*?)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+%|-)\s+(\/.*)$/.exec(data);
  if (!m) return { problem: `cannot read df's line: ${data}` };
  const n = (s: string) => (s === '-' ? 0 : Number(s));
  return { total: n(m[2]!), used: n(m[3]!), free: n(m[4]!), mount: m[6]! };
}

function judgeDisk(c: Extract<HostCheck, { kind: 'disk' | 'inodes' }>, lines: string[] | undefined): CheckOutcome {
  const limit = `${c.limitPct}%`;
  const df = dfLine(lines ?? []);
  if ('problem' in df) return { check: c.label, verdict: 'error', value: '', limit, detail: `cannot read ${c.path}: ${df.problem}` };
  const on = df.mount === c.path ? '' : ` (on ${df.mount})`;
  if (c.kind === 'inodes' && df.total === 0) return { check: c.label, verdict: 'ok', value: `no inode limit${on}`, limit };
  const usedPct = df.used + df.free > 0 ? round1((df.used * 100) / (df.used + df.free)) : 0;
  const free = c.kind === 'disk' ? `${kib(df.free)} free` : `${df.free} inodes free`;
  const value = `${usedPct}% used (${free})${on}`;
  const base = { check: c.label, value, limit, measured: usedPct, threshold: c.limitPct };
  if (usedPct <= c.limitPct) return { ...base, verdict: 'ok' };
  const what = c.kind === 'disk' ? 'free space (old releases, logs, images: docker system df) or grow the filesystem' : 'remove small files (caches, sessions, mail queues) or grow the filesystem';
  return { ...base, verdict: 'fail', detail: `${c.kind === 'disk' ? 'disk' : 'inodes'} of ${df.mount} ${usedPct}% used, above ${limit}: ${what}` };
}

function judgeMemory(c: Extract<HostCheck, { kind: 'memory' }>, lines: string[] | undefined): CheckOutcome {
  const limit = `${c.limitPct}%`;
  const kv = new Map(
    (lines ?? [])
      .map((l) => /^(\w+):\s+(\d+)/.exec(l))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => [m[1]!, Number(m[2])]),
  );
  const total = kv.get('MemTotal');
  const available = kv.get('MemAvailable');
  if (!total || available === undefined) return { check: c.label, verdict: 'error', value: '', limit, detail: 'the host has no MemTotal/MemAvailable in /proc/meminfo (Linux 3.14 or later has them)' };
  const usedPct = round1(((total - available) * 100) / total);
  const base = { check: c.label, value: `${usedPct}% used (${kib(available)} available of ${kib(total)})`, limit, measured: usedPct, threshold: c.limitPct };
  if (usedPct <= c.limitPct) return { ...base, verdict: 'ok' };
  return { ...base, verdict: 'fail', detail: `memory ${usedPct}% used, above ${limit}: find what grew (ps aux --sort=-rss | head) before the OOM killer picks` };
}

function judgeLoad(c: Extract<HostCheck, { kind: 'load' }>, lines: string[] | undefined): CheckOutcome {
  const limit = `${c.limitPerCore} per core`;
  const [avg = '', cores = ''] = lines ?? [];
  const fields = avg.split(/\s+/).map(Number);
  const n = Number(cores) || 1;
  const v = fields[{ '1m': 0, '5m': 1, '15m': 2 }[c.window]];
  if (v === undefined || !Number.isFinite(v)) return { check: c.label, verdict: 'error', value: '', limit, detail: `cannot read /proc/loadavg: '${avg}'` };
  const perCore = Math.round((v / n) * 100) / 100;
  const base = { check: c.label, value: `${perCore} per core (${v} over ${n} core${n === 1 ? '' : 's'}, ${c.window})`, limit, measured: perCore, threshold: c.limitPerCore };
  if (perCore <= c.limitPerCore) return { ...base, verdict: 'ok' };
  return { ...base, verdict: 'fail', detail: `${c.window} load ${perCore} per core, above ${c.limitPerCore}: see what runs (top -b -n1 | head -20)` };
}

function judgeSystemd(c: Extract<HostCheck, { kind: 'systemd' }>, facts: Map<string, string[]>): CheckOutcome {
  const limit = 'active';
  const states = c.units.map((u) => {
    const lines = facts.get(`systemd:${u}`) ?? [];
    if (lines[0] === 'no-systemd') return { unit: u, state: 'no-systemd' };
    const kv = new Map(lines.map((l) => l.split('=', 2) as [string, string]));
    if (kv.get('LoadState') === 'not-found') return { unit: u, state: 'not-found' };
    const active = kv.get('ActiveState');
    if (!active) return { unit: u, state: `unreadable: ${lines.join(' ').slice(0, 200)}` };
    return { unit: u, state: active, sub: kv.get('SubState') };
  });
  if (states.some((s) => s.state === 'no-systemd')) {
    return {
      check: c.label,
      verdict: 'error',
      value: 'no systemd',
      limit,
      detail: 'the host does not run systemd (no systemctl, or no /run/systemd/system): check its daemons with process=<name> instead',
    };
  }
  const value = states.map((s) => `${s.unit} ${s.state}${'sub' in s && s.sub && s.sub !== s.state ? ` (${s.sub})` : ''}`).join(', ');
  const bad = states.filter((s) => s.state !== 'active');
  if (!bad.length) return { check: c.label, verdict: 'ok', value, limit };
  return {
    check: c.label,
    verdict: 'fail',
    value,
    limit,
    detail: bad
      .map((s) => (s.state === 'not-found' ? `unit ${s.unit} does not exist on the host` : `${s.unit} is ${s.state}: see systemctl status ${s.unit} and journalctl -u ${s.unit} -n 50`))
      .join('; '),
  };
}

function judgeProcess(c: Extract<HostCheck, { kind: 'process' }>, facts: Map<string, string[]>): CheckOutcome {
  const limit = 'running';
  const counts = c.names.map((n) => ({ name: n, raw: (facts.get(`process:${n}`) ?? [])[0]?.trim() ?? '' }));
  if (counts.some((x) => x.raw === 'no-pgrep')) return { check: c.label, verdict: 'error', value: 'no pgrep', limit, detail: 'the host has no pgrep (Debian package procps)' };
  const value = counts.map((x) => `${x.name} ×${Number(x.raw) || 0}`).join(', ');
  const missing = counts.filter((x) => !(Number(x.raw) > 0));
  if (!missing.length) return { check: c.label, verdict: 'ok', value, limit };
  return { check: c.label, verdict: 'fail', value, limit, detail: `no process named ${missing.map((x) => x.name).join(', ')} is running (names as ps -o comm shows them)` };
}

function judgeReboot(c: Extract<HostCheck, { kind: 'reboot-required' }>, lines: string[] | undefined): CheckOutcome {
  const limit = `not required (${c.severity})`;
  const [state, ...pkgs] = lines ?? [];
  if (state !== 'required') return { check: c.label, verdict: 'ok', value: 'not required', limit };
  const list = [...new Set(pkgs.map((p) => p.trim()).filter(Boolean))];
  const value = `required${list.length ? ` (${list.slice(0, 5).join(', ')}${list.length > 5 ? `, +${list.length - 5}` : ''})` : ''}`;
  return {
    check: c.label,
    verdict: c.severity,
    value,
    limit,
    detail: `a reboot is required${list.length ? ` by ${list.join(', ')}` : ''}: schedule it (the security-update action reboots host by host behind the health gate)`,
  };
}

/** A clock reading: the host's time against the runner's, taken in the middle of the round trip. */
export interface ClockSample {
  sentMs: number;
  receivedMs: number;
  hostMs: number;
}

/** The offset of the sample with the shortest round trip, and its uncertainty (half that round trip). */
export function clockOffset(samples: ClockSample[]): { offsetMs: number; uncertaintyMs: number } | undefined {
  const best = [...samples].filter((s) => Number.isFinite(s.hostMs)).sort((a, b) => a.receivedMs - a.sentMs - (b.receivedMs - b.sentMs))[0];
  if (!best) return undefined;
  const rtt = best.receivedMs - best.sentMs;
  return { offsetMs: Math.round(best.hostMs - (best.sentMs + rtt / 2)), uncertaintyMs: Math.ceil(rtt / 2) };
}

function judgeTime(c: Extract<HostCheck, { kind: 'time-sync' }>, samples: ClockSample[], ntp: string | undefined, secondsOnly: boolean): CheckOutcome {
  const limit = `±${formatDuration(c.maxOffsetMs)}`;
  const o = clockOffset(samples);
  if (!o) return { check: c.label, verdict: 'error', value: '', limit, detail: "cannot read the host's clock (date +%s)" };
  // A clock read in whole seconds is 0 to 1 s behind: +500 ms centres it, ±500 ms remain.
  const uncertainty = o.uncertaintyMs + (secondsOnly ? 500 : 0);
  const offset = secondsOnly ? o.offsetMs + 500 : o.offsetMs;
  const sign = offset >= 0 ? '+' : '-';
  const synced = ntp === 'yes' ? ', NTP synchronized' : ntp === 'no' ? ', NTP not synchronized' : '';
  const value = `${sign}${fmtMs(Math.abs(offset))} (±${fmtMs(uncertainty)}${synced})`;
  const base = { check: c.label, value, limit, measured: offset, threshold: c.maxOffsetMs };
  // Only an offset beyond the bound whatever the round trip's share of it fails.
  if (Math.abs(offset) - uncertainty > c.maxOffsetMs) {
    return {
      ...base,
      verdict: 'fail',
      detail: `the host's clock is ${sign}${fmtMs(Math.abs(offset))} off the runner's, beyond ${limit}: check its NTP client (timedatectl timesync-status, chronyc tracking)`,
    };
  }
  if (uncertainty >= c.maxOffsetMs) {
    return {
      ...base,
      verdict: 'warn',
      detail: `cannot tell whether the clock is within ${limit}: the reading is only good to ±${fmtMs(uncertainty)} (${secondsOnly ? "the host's date prints whole seconds" : 'a slow round trip'}); raise the bound or check the host's NTP client directly`,
    };
  }
  if (ntp === 'no') return { ...base, verdict: 'warn', detail: 'the clock is within the bound, but the host reports NTP not synchronized (timedatectl NTPSynchronized=no): it will drift' };
  return { ...base, verdict: 'ok' };
}

/** What is wrong with the current release's containers across two samples (`before` may be the same as `after`). */
export function judgeContainers(
  c: Extract<HostCheck, { kind: 'containers' }>,
  release: { id: string; project: string; services: string[] },
  before: ContainerState[],
  after: ContainerState[],
): CheckOutcome {
  const limit = `running${c.windowMs ? `, no restart in ${formatDuration(c.windowMs)}` : ''}`;
  const problems: string[] = [];
  // Passing states a deploy goes through (a healthcheck still starting, a container replaced): warnings.
  const passing: string[] = [];
  for (const s of release.services) if (!after.some((x) => x.service === s)) problems.push(`service ${s} has no container`);
  if (!after.length) problems.push(`no container of project ${release.project} exists`);
  for (const x of after) {
    const was = before.find((b) => b.name === x.name);
    if (x.status === 'restarting') problems.push(`${x.name} is restarting (last exit code ${x.exitCode}, ${x.restarts} restarts)`);
    else if (x.status !== 'running' && !isOneShot(x)) problems.push(`${x.name} is ${x.status}${x.status === 'exited' ? ` with code ${x.exitCode}` : ''}`);
    else if (x.health === 'starting' && !isOneShot(x)) passing.push(`${x.name}'s Docker healthcheck is still starting`);
    else if (x.health && x.health !== 'healthy' && !isOneShot(x)) problems.push(`${x.name} reports its Docker healthcheck ${x.health}`);
    if (was && x.restarts > was.restarts) problems.push(`${x.name} restarted ${x.restarts - was.restarts} time(s) in ${formatDuration(c.windowMs)}`);
    else if (!was && before.length) passing.push(`${x.name} appeared during the check (replaced by a deploy?)`);
  }
  const running = after.filter((x) => x.status === 'running').length;
  const value = `${running}/${after.length} running (release ${release.id})`;
  if (!problems.length && passing.length) return { check: c.label, verdict: 'warn', value, limit, detail: `${passing.join('; ')}: check again shortly` };
  if (!problems.length) return { check: c.label, verdict: 'ok', value, limit };
  return { check: c.label, verdict: 'fail', value, limit, detail: `${problems.join('; ')}: see docker ps -a and docker logs on the host` };
}

/** The verdict of one check (any but containers) on the host's facts and clock readings. */
export function judgeFact(
  c: Exclude<HostCheck, { kind: 'containers' }>,
  facts: Map<string, string[]>,
  clock: { samples: ClockSample[]; secondsOnly: boolean } = { samples: [], secondsOnly: false },
): CheckOutcome {
  switch (c.kind) {
    case 'disk':
    case 'inodes':
      return judgeDisk(c, facts.get(`${c.kind}:${c.path}`));
    case 'memory':
      return judgeMemory(c, facts.get('memory'));
    case 'load':
      return judgeLoad(c, facts.get('load'));
    case 'systemd':
      return judgeSystemd(c, facts);
    case 'process':
      return judgeProcess(c, facts);
    case 'reboot-required':
      return judgeReboot(c, facts.get('reboot'));
    case 'time-sync':
      return judgeTime(c, clock.samples, facts.get('ntp')?.[0]?.trim(), clock.secondsOnly);
  }
}

export interface HostChecksContext {
  pool: SshPool;
  targets: Target[];
  maxParallel: number;
  logger: Logger;
  /** The app directory whose current release `containers` checks (`~/` is the connecting user's home). */
  appDir?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function containersOutcome(c: Extract<HostCheck, { kind: 'containers' }>, session: SshSession, appDir: string | undefined): Promise<CheckOutcome> {
  const limit = 'running';
  if (!appDir) return { check: c.label, verdict: 'error', value: '', limit, detail: "containers needs 'app' (and 'environment', or 'app-dir') to find the current release" };
  const state = parseState((await session.run(readStateCommand(appDir), { step: 'read state' })).stdout);
  const m = state.current ? state.manifests.get(state.current) : undefined;
  if (!state.current || !m) return { check: c.label, verdict: 'error', value: 'no release', limit, detail: `no current release under ${state.appDir}: deploy one first, or check 'app'/'environment'` };
  if (m.strategy !== 'compose' || !m.project)
    return {
      check: c.label,
      verdict: 'error',
      value: `file release ${m.id}`,
      limit,
      detail: `the current release ${m.id} is a file release: containers applies to compose releases; use process= or systemd= for it`,
    };
  // Blue-green: the color serving (the host's) is the release's project.
  const project = m.blue_green && state.color ? `${m.project}-${state.color}` : m.project;
  const before = await readProjectContainers(session, project, m.services);
  let after = before;
  if (c.windowMs > 0) {
    await sleep(c.windowMs);
    after = await readProjectContainers(session, project, m.services);
  }
  return judgeContainers(c, { id: m.id, project, services: m.services ?? [] }, before, after);
}

async function checkHost(checks: HostCheck[], session: SshSession, appDir: string | undefined): Promise<CheckOutcome[]> {
  const containers = checks.find((c) => c.kind === 'containers');
  const timeSync = checks.find((c) => c.kind === 'time-sync');
  // The containers' window runs while the other facts are read.
  const pendingContainers =
    containers?.kind === 'containers'
      ? containersOutcome(containers, session, appDir).catch((e) => ({ check: containers.label, verdict: 'error' as const, value: '', limit: 'running', detail: errorMessage(e) }))
      : undefined;
  const wanted = factsFor(checks);
  const facts = wanted.length ? parseFacts((await session.run(hostFactsCommand(wanted), { step: 'host checks' })).stdout) : new Map<string, string[]>();
  const samples: ClockSample[] = [];
  let secondsOnly = false;
  if (timeSync) {
    await session.exec(hostClockCommand()); // the first exec of a session carries its set-up
    for (let i = 0; i < 3; i++) {
      const sentMs = Date.now();
      const r = await session.exec(hostClockCommand());
      const receivedMs = Date.now();
      const t = r.stdout.trim();
      if (r.code !== 0 || !/^\d+(\.\d+)?$/.test(t)) continue;
      secondsOnly ||= !t.includes('.');
      samples.push({ sentMs, receivedMs, hostMs: Number(t) * 1000 });
    }
  }
  const out: CheckOutcome[] = [];
  for (const c of checks) out.push(c.kind === 'containers' ? await pendingContainers! : judgeFact(c, facts, { samples, secondsOnly }));
  return out;
}

/** Run every check on every host (max-parallel at a time); an unreachable host has every check in error. */
export async function runHostChecks(checks: HostCheck[], ctx: HostChecksContext): Promise<HostChecksResult> {
  const results = await forEachHost(
    ctx.targets,
    async (t) => {
      try {
        return await checkHost(checks, await ctx.pool.get(t), ctx.appDir);
      } catch (e) {
        const why = errorMessage(e);
        return checks.map<CheckOutcome>((c) => ({ check: c.label, verdict: 'error', value: '', limit: '', detail: why }));
      }
    },
    { maxParallel: ctx.maxParallel, onFailure: 'continue' },
  );
  const hosts = results.map((r, i) => {
    const list = r.value ?? checks.map<CheckOutcome>((c) => ({ check: c.label, verdict: 'error', value: '', limit: '', detail: r.error ?? 'not checked' }));
    return { host: ctx.targets[i]!.name, healthy: list.every((o) => o.verdict === 'ok' || o.verdict === 'warn'), checks: list };
  });
  const lines = (v: Verdict[]) => hosts.flatMap((h) => h.checks.filter((o) => v.includes(o.verdict)).map((o) => `host ${h.host}: ${o.check}: ${o.detail ?? o.value}`));
  for (const w of lines(['warn'])) ctx.logger.warning(w);
  return { healthy: hosts.every((h) => h.healthy), hosts, failures: lines(['fail', 'error']), warnings: lines(['warn']) };
}
