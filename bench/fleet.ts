/**
 * A compose deploy (pull, up, health gate through the SSH tunnel, history) through the
 * committed deploy bundle to 1, 5, 10 and 20 sandbox hosts at once (max-parallel = hosts),
 * each host a network namespace with its own sshd and Docker engine. The baseline is the
 * same deploy to 1 host in the same run. BENCH_RUNS interleaved runs (default 5): medians,
 * min and max, ratios. Asserts nothing. Run: npm run bench -- fleet (as root).
 *
 * The hosts share this machine's cores: 20 engines starting 20 containers at once compete
 * with each other and with the runner, so the ratio is an upper bound of what separate
 * machines would show.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandbox } from '../sandbox/index.js';
import { ROOT, runAction } from '../test/harness.js';
import { median, writeResults } from './results.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZES = [1, 5, 10, 20];
const ms = (t: bigint) => Number(t) / 1e6;

// Compose v2 on the hosts: docker-compose 1.29 is a Python program that takes about half a second of
// CPU per call, which 20 hosts sharing two cores would turn into the measure.
const sb = await startSandbox({ hosts: Math.max(...SIZES), isolated: true, images: ['1.0.0', '2.0.0'], compose: 'v2' });
try {
  const ticks = 100; // USER_HZ
  const machine = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
    return { idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
  };
  /** The action's own CPU time (user + system, ms), read from /proc while it runs. */
  const watchCpu = () => {
    let last = 0;
    let timer: NodeJS.Timeout | undefined;
    return {
      onSpawn: (pid: number) => {
        timer = setInterval(() => {
          try {
            const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
            last = ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
          } catch {
            /* exited */
          }
        }, 20);
      },
      done: () => {
        clearInterval(timer);
        return last;
      },
    };
  };
  // A file release whose restart-command (re)starts busybox httpd on the host's 127.0.0.1:8081:
  // the same deploy with little work on the hosts, so the action's own scaling shows.
  const site = mkdtempSync(path.join(os.tmpdir(), 'bench-fleet-'));
  mkdirSync(path.join(site, 'site'));
  const fileInputs = (version: string) => {
    writeFileSync(path.join(site, 'site', 'health'), JSON.stringify({ status: 'healthy', version }));
    return {
      app: 'fleetfiles',
      strategy: 'release',
      source: 'site',
      version,
      'restart-command':
        'pkill -u "$(id -u)" -f "^busybox httpd -p 127.0.0.1:8081" || true; while pgrep -u "$(id -u)" -f "^busybox httpd -p 127.0.0.1:8081" >/dev/null; do sleep 0.05; done; busybox httpd -p 127.0.0.1:8081 -h "$PWD"',
      'health-url': 'http://127.0.0.1:8081/health',
      'health-expect-json': `version=${version}`,
    };
  };
  // A counter per strategy: each compose deploy switches versions (1.0.0 and 2.0.0 in turn).
  const count = { compose: 0, release: 0 };
  let n = 0;
  const deploy = async (hostCount: number, strategy: 'compose' | 'release' = 'compose') => {
    n++;
    const image = count[strategy]++ % 2 ? '2.0.0' : '1.0.0';
    const hosts = sb.hosts.slice(0, hostCount);
    const cpu = watchCpu();
    const m0 = machine();
    const t = process.hrtime.bigint();
    const r = await runAction('deploy', {
      onSpawn: cpu.onSpawn,
      workspace: strategy === 'release' ? site : ROOT,
      inputs: {
        app: 'fleet',
        ...sb.sshInputs(hosts),
        'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml'),
        image: `${sb.images!.repo}:${image}`,
        version: `${image}-${n}`,
        'env-file': 'LOG_JSON=1\n',
        'health-url': 'http://127.0.0.1:8080/health',
        'health-expect-json': 'status=healthy',
        ...(strategy === 'release' ? fileInputs(`${n}.0.0`) : {}),
        'health-interval': '250ms',
        'health-timeout': '30s',
        'max-parallel': String(hostCount),
        'github-deployment': 'false',
      },
    });
    const took = ms(process.hrtime.bigint() - t);
    const m1 = machine();
    if (r.main.exitCode !== 0) throw new Error(`deploy to ${hostCount} host(s) failed: ${r.main.errors.join('\n')}`);
    return { ms: took, busy: 1 - (m1.idle - m0.idle) / (m1.total - m0.total), cpuMs: cpu.done() };
  };
  // Untimed: every host pulls both images once, so each timed deploy is a switch of versions.
  await deploy(SIZES.at(-1)!);
  await deploy(SIZES.at(-1)!);
  await deploy(SIZES.at(-1)!, 'release');
  type Run = { ms: number; busy: number; cpuMs: number };
  const runs = { compose: new Map<number, Run[]>(SIZES.map((s) => [s, []])), release: new Map<number, Run[]>(SIZES.map((s) => [s, []])) };
  for (let i = 0; i < RUNS; i++)
    for (const s of SIZES) {
      runs.compose.get(s)!.push(await deploy(s));
      runs.release.get(s)!.push(await deploy(s, 'release'));
    }
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const rowsOf = (what: string, m: Map<number, Run[]>) => {
    const col = (s: number, k: keyof Run) => m.get(s)!.map((r) => r[k]);
    const one = median(col(1, 'ms'));
    return SIZES.map(
      (s) =>
        `| ${what} | ${s} | ${f(col(s, 'ms'))} | ${(median(col(s, 'ms')) / one).toFixed(2)}× | ${s === 20 ? '≤ 2×' : 'report'} | ${(100 * median(col(s, 'busy'))).toFixed(0)}% | ${median(col(s, 'cpuMs')).toFixed(0)} ms | ${(median(col(s, 'cpuMs')) / s).toFixed(0)} ms |`,
    );
  };
  const table = [
    "| deploy (health gate through each host's tunnel) | hosts (max-parallel = hosts) | median (min–max) | ÷ 1 host | target | machine busy | the action's own CPU | its CPU per host |",
    '|---|---|---|---|---|---|---|---|',
    ...rowsOf('compose (pull, up -d)', runs.compose),
    ...rowsOf('file release (little host work)', runs.release),
  ].join('\n');
  console.log(table);
  writeResults(
    'fleet',
    { runs: RUNS, compose: Object.fromEntries(runs.compose), release: Object.fromEntries(runs.release) },
    `## fleet\n\nA compose deploy (pull, \`up -d\`, health gate through each host's SSH tunnel, history) and a file release (a few files and a restart of busybox httpd: little work on the hosts) through the committed deploy bundle to 1, 5, 10 and 20 sandbox hosts at once, each a network namespace with its own sshd and Docker engine; ${RUNS} interleaved runs of each size, after an untimed deploy that pulled both images everywhere. The hosts share the runner's two cores: with 20 hosts the machine is busy all the time with the hosts' own work (sshd, Docker engines, Compose, container starts), so the wall-clock ratio measures this machine more than the action. The action's own CPU time (user + system of its process) shows what the action costs per host; every host's stage, switch and gate start together (its timeline).\n\n${table}`,
  );
} finally {
  await sb.stop();
}
