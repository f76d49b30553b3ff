/**
 * File releases against rsync over OpenSSH, in the same run: the committed deploy bundle
 * (Node 24, `strategy: release`: lock, upload, switch, history) for a first deploy and for a
 * deploy after one file changed, with 300 files (6.5 MB) and 10 000 small files; rsync
 * `-a --delete` over ssh into a directory for the same trees. When BENCH_SSH_DEPLOY names
 * easingthemes/ssh-deploy's dist/index.js, its bundle is measured too (its own rsync flags).
 * BENCH_RUNS interleaved runs (default 5); medians, min and max, ratios. Asserts nothing.
 * Run: npm run bench -- file-release (as root).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSandbox } from '../sandbox/index.js';
import { NODE, runAction } from '../test/harness.js';
import { median, writeResults } from './results.js';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SSH_DEPLOY = process.env.BENCH_SSH_DEPLOY;
const ms = (t: bigint) => Number(t) / 1e6;
const time = async (fn: () => Promise<unknown>) => {
  const t = process.hrtime.bigint();
  await fn();
  return ms(process.hrtime.bigint() - t);
};

/** A tree of `files` files, `bytes` in all, in 20 directories (base64 text: compressible like source code is). */
function makeTree(dir: string, files: number, bytes: number): void {
  const each = Math.max(1, Math.floor(bytes / files));
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, `dir${i % 20}`, `sub${i % 7}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, `file${i}.php`), randomBytes(each).toString('base64').slice(0, each));
  }
}

const sb = await startSandbox({ hosts: 1 });
try {
  const h = sb.hosts[0]!;
  const key = path.join(sb.root, 'client', 'id_ed25519');
  const kh = path.join(sb.root, 'known_hosts');
  writeFileSync(kh, sb.knownHosts());
  const ssh = `ssh -o BatchMode=yes -o UserKnownHostsFile=${kh} -i ${key} -p ${h.port}`;
  const sets = [
    { name: '300 files, 6.5 MB', files: 300, bytes: 6.5e6 },
    { name: '10 000 files, 20 MB', files: 10_000, bytes: 20e6 },
  ];
  type Row = { set: string; phase: string; ours: number[]; rsync: number[]; sshDeploy: number[] };
  const rows: Row[] = [];
  for (const set of sets) {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'bench-release-'));
    const src = path.join(ws, 'site');
    makeTree(src, set.files, set.bytes);
    const first: Row = { set: set.name, phase: 'first deploy', ours: [], rsync: [], sshDeploy: [] };
    const change: Row = { set: set.name, phase: 'one file changed', ours: [], rsync: [], sshDeploy: [] };
    const deploy = (app: string, version: string) =>
      runAction('deploy', {
        workspace: ws,
        inputs: { app, strategy: 'release', source: 'site', version, 'github-deployment': 'false', 'keep-releases': '2', ...sb.sshInputs([h]) },
      }).then((r) => {
        if (r.main.exitCode !== 0) throw new Error(`deploy failed: ${r.main.errors.join('\n')}`);
      });
    const rsync = (target: string) => run('rsync', ['-a', '--delete', '-e', ssh, `${src}/`, `${h.user}@${h.address}:${target}/`]);
    const sshDeploy = (target: string) =>
      run(NODE, [SSH_DEPLOY!], {
        env: {
          ...process.env,
          SSH_PRIVATE_KEY: sb.keys.ed25519.privateKey,
          REMOTE_HOST: h.address,
          REMOTE_PORT: String(h.port),
          REMOTE_USER: h.user,
          SOURCE: 'site/',
          TARGET: `${h.home}/${target}`,
          GITHUB_WORKSPACE: ws,
          HOME: mkdtempSync(path.join(os.tmpdir(), 'ssh-deploy-home-')),
        },
      });
    for (let i = 0; i < RUNS; i++) {
      const app = `bench${i}`;
      // Interleaved, so a slow moment of the machine hits both sides of a ratio.
      first.ours.push(await time(() => deploy(app, `1.${i}.0`)));
      first.rsync.push(await time(() => rsync(`rsync-${i}`)));
      if (SSH_DEPLOY) first.sshDeploy.push(await time(() => sshDeploy(`ssh-deploy-${i}`)));
      writeFileSync(path.join(src, 'dir0', 'sub0', 'file0.php'), `changed ${i} ${Date.now()}`);
      change.ours.push(await time(() => deploy(app, `1.${i}.1`)));
      change.rsync.push(await time(() => rsync(`rsync-${i}`)));
      if (SSH_DEPLOY) change.sshDeploy.push(await time(() => sshDeploy(`ssh-deploy-${i}`)));
      await run(...(['sh', ['-c', `rm -rf "$1"/apps/${app}-production "$1"/rsync-${i} "$1"/ssh-deploy-${i}`, 'sh', h.home]] as const));
    }
    rows.push(first, change);
    rmSync(ws, { recursive: true, force: true });
  }
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const target = (r: Row) => (r.set.startsWith('10 000') ? '≤ 1.5×' : r.phase === 'first deploy' ? '≤ 1.2×' : '≤ 1.0×');
  const table = [
    `| files | deploy | ops-actions \`deploy\`, median (min–max) | rsync -a over ssh | ratio | ${SSH_DEPLOY ? 'ssh-deploy bundle | ratio | ' : ''}target |`,
    `|---|---|---|---|---|${SSH_DEPLOY ? '---|---|' : ''}---|`,
    ...rows.map(
      (r) =>
        `| ${r.set} | ${r.phase} | ${f(r.ours)} | ${f(r.rsync)} | ${(median(r.ours) / median(r.rsync)).toFixed(2)}× | ${
          SSH_DEPLOY ? `${f(r.sshDeploy)} | ${(median(r.ours) / median(r.sshDeploy)).toFixed(2)}× | ` : ''
        }${target(r)} |`,
    ),
  ].join('\n');
  console.log(table);
  writeResults(
    'file-release',
    { runs: RUNS, sshDeploy: !!SSH_DEPLOY && existsSync(SSH_DEPLOY), rows },
    `## file-release\n\nA file release (\`strategy: release\`) through the committed deploy bundle under Node 24, against rsync \`-a --delete\` over OpenSSH into a directory, on one sandbox host, ${RUNS} interleaved runs of each. The deploy does everything a deploy does (lock, state, upload, switch, history, watchdog, unlock); rsync only copies. After the first deploy, unchanged files are hard-linked from the previous release on the host and only the changed file is sent.\n\n${table}`,
  );
} finally {
  await sb.stop();
}
