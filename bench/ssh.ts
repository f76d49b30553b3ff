/**
 * SSH executor benchmark, side by side with raw OpenSSH in the same run (BENCH_RUNS
 * interleaved runs, default 5):
 *   A. one command on a fresh connection vs `ssh host true`;
 *   B. BENCH_COMMANDS (default 100) commands on one host: ops-actions (one connection,
 *      reused) vs `ssh host cmd` per command (what shell-script deploys do) vs OpenSSH with
 *      a ControlMaster connection;
 *   C. the same work on 1 host vs 10 hosts (max-parallel 10).
 * Reports medians and ratios; asserts nothing. Run: npm run bench -- ssh (as root).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSandbox, type SandboxHost } from '../sandbox/index.js';
import { SshPool } from '../src/host/pool.js';
import { KnownHosts } from '../src/host/hostkeys.js';
import { parsePrivateKey } from '../src/host/keys.js';
import { silentLogger } from '../src/log.js';
import { forEachHost } from '../src/fleet/run.js';
import { median, writeResults } from './results.js';

const run = promisify(execFile);
const N = Number(process.env.BENCH_COMMANDS ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ms = (t: bigint) => Number(t) / 1e6;
const time = async (fn: () => Promise<unknown>) => {
  const t = process.hrtime.bigint();
  await fn();
  return ms(process.hrtime.bigint() - t);
};

const sb = await startSandbox({ hosts: 10 });
try {
  const key = path.join(sb.root, 'client', 'id_ed25519');
  const kh = path.join(sb.root, 'known_hosts');
  (await import('node:fs')).writeFileSync(kh, sb.knownHosts());
  const sshArgs = (h: SandboxHost, extra: string[] = []) => ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${kh}`, '-i', key, '-p', String(h.port), ...extra, `${h.user}@${h.address}`];
  const opts = {
    key: parsePrivateKey(sb.keys.ed25519.privateKey),
    hostKeys: { mode: 'known-hosts' as const, knownHosts: KnownHosts.parse(sb.knownHosts()) },
    connectTimeoutMs: 10_000,
    connectRetries: 0,
    commandTimeoutMs: 60_000,
    logger: silentLogger(),
  };
  const h = sb.hosts[0]!;
  const t = { name: h.name, host: h.address, port: h.port, user: h.user };

  const ctl = path.join(sb.root, 'ctl-%C');
  const m = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${ctl}`, '-o', 'ControlPersist=30'];
  const oursMany = () =>
    time(async () => {
      const pool = new SshPool(opts);
      const s = await pool.get(t);
      for (let i = 0; i < N; i++) await s.run(['true']);
      await pool.closeAll();
    });
  const oursOne = () =>
    time(async () => {
      const pool = new SshPool(opts);
      await (await pool.get(t)).run(['true']);
      await pool.closeAll();
    });
  const rawOne = () => time(() => run('ssh', [...sshArgs(h), 'true']));
  const rawMany = () =>
    time(async () => {
      for (let i = 0; i < N; i++) await run('ssh', [...sshArgs(h), 'true']);
    });
  const muxMany = () =>
    time(async () => {
      for (let i = 0; i < N; i++) await run('ssh', [...sshArgs(h, m), 'true']);
      await run('ssh', [...sshArgs(h, [...m, '-O', 'exit'])]).catch(() => {});
    });
  const work = (hosts: SandboxHost[]) =>
    time(async () => {
      const pool = new SshPool(opts);
      await forEachHost(
        hosts.map((x) => ({ name: x.name, host: x.address, port: x.port, user: x.user })),
        async (target) => {
          const s = await pool.get(target);
          for (let i = 0; i < 5; i++) await s.run(['sh', '-c', 'sleep 0.1']);
        },
        { maxParallel: 10, onFailure: 'continue' },
      );
      await pool.closeAll();
    });
  // Interleaved runs, so a slow moment of the machine hits both sides of a ratio.
  const r: Record<string, number[]> = { oursOne: [], rawOne: [], oursMany: [], rawMany: [], muxMany: [], one: [], ten: [] };
  for (let i = 0; i < RUNS; i++) {
    r.oursOne!.push(await oursOne());
    r.rawOne!.push(await rawOne());
    r.oursMany!.push(await oursMany());
    r.rawMany!.push(await rawMany());
    r.muxMany!.push(await muxMany());
    r.one!.push(await work(sb.hosts.slice(0, 1)));
    r.ten!.push(await work(sb.hosts));
  }
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const ratio = (a: number[], b: number[]) => `${(median(a) / median(b)).toFixed(2)}×`;
  const table = [
    '| measure | ops-actions, median (min–max) | baseline | baseline, median (min–max) | ops-actions ÷ baseline | target |',
    '|---|---|---|---|---|---|',
    `| one command, fresh connection | ${f(r.oursOne!)} | \`ssh host true\` | ${f(r.rawOne!)} | ${ratio(r.oursOne!, r.rawOne!)} | ≤ 1.2× |`,
    `| ${N} commands, one host | ${f(r.oursMany!)} | \`ssh host true\` per command | ${f(r.rawMany!)} | ${ratio(r.oursMany!, r.rawMany!)} (${(median(r.rawMany!) / median(r.oursMany!)).toFixed(1)}× faster) | ≥ 5× faster |`,
    `| ${N} commands, one host | ${f(r.oursMany!)} | OpenSSH with ControlMaster | ${f(r.muxMany!)} | ${ratio(r.oursMany!, r.muxMany!)} | report |`,
    `| 5 × 100 ms commands per host, max-parallel 10 | 10 hosts: ${f(r.ten!)} | 1 host | ${f(r.one!)} | ${ratio(r.ten!, r.one!)} | ≤ 2× |`,
  ].join('\n');
  console.log(table);
  writeResults('ssh', { runs: RUNS, commands: N, ms: r }, `## ssh\n\nThe SSH executor against OpenSSH on sandbox hosts, ${RUNS} interleaved runs of each.\n\n${table}`);
} finally {
  await sb.stop();
}
