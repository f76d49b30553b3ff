/**
 * SSH executor benchmark, side by side with raw OpenSSH in the same run:
 *   A. N commands on one host: ops-actions (one connection, reused) vs `ssh host cmd` per
 *      command (what shell-script deploys do) vs OpenSSH with a ControlMaster connection.
 *   B. The same work on 1 host vs 10 hosts (max-parallel 10).
 * Prints times and ratios; asserts nothing. Run: npm run bench (as root).
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

const run = promisify(execFile);
const N = Number(process.env.BENCH_COMMANDS ?? 30);
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

  const ours = await time(async () => {
    const pool = new SshPool(opts);
    const s = await pool.get(t);
    for (let i = 0; i < N; i++) await s.run(['true']);
    await pool.closeAll();
  });
  const raw = await time(async () => {
    for (let i = 0; i < N; i++) await run('ssh', [...sshArgs(h), 'true']);
  });
  const ctl = path.join(sb.root, 'ctl-%C');
  const mux = await time(async () => {
    const m = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${ctl}`, '-o', 'ControlPersist=30'];
    for (let i = 0; i < N; i++) await run('ssh', [...sshArgs(h, m), 'true']);
    await run('ssh', [...sshArgs(h, [...m, '-O', 'exit'])]).catch(() => {});
  });
  console.log(`A. ${N} commands on one host`);
  console.log(`   ops-actions (one reused connection):   ${ours.toFixed(0)} ms`);
  console.log(`   ssh per command (baseline):            ${raw.toFixed(0)} ms   ratio ${(raw / ours).toFixed(2)}x`);
  console.log(`   ssh with ControlMaster (baseline):     ${mux.toFixed(0)} ms   ratio ${(mux / ours).toFixed(2)}x`);

  const work = async (hosts: SandboxHost[]) =>
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
  const one = await work(sb.hosts.slice(0, 1));
  const ten = await work(sb.hosts);
  console.log('B. 5 commands (100 ms each) per host, max-parallel 10');
  console.log(`   1 host:   ${one.toFixed(0)} ms`);
  console.log(`   10 hosts: ${ten.toFixed(0)} ms   ratio ${(ten / one).toFixed(2)}x (10x would be sequential)`);
} finally {
  await sb.stop();
}
