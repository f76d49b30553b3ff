/**
 * The demo (`npm run demo [-- --hosts=N] [--report=PATH]`): a sandbox fleet on this machine
 * (each host its own network namespace, sshd, deploy user and Docker engine; a registry,
 * PostgreSQL, an S3-compatible store), driven through the committed bundles in dist/
 * exactly as a workflow runs them (test/harness.ts runAction):
 *
 *   1. build-push v1 (demo/app) to the registry
 *   2. deploy v1 with a migration against PostgreSQL, gated on /health
 *   3. deploy v2 (one canary host first)
 *   4. deploy a broken v3: its health gate fails, it rolls back, diagnostics shown
 *   5. backup the database to S3, age-encrypted, with retention
 *   6. DR drill: restore that backup into a staging database, RTO/RPO report
 *   7. security-update, dry run
 *   8. healthcheck: /health through SSH plus host checks
 *
 * Each step says whether it is expected to pass or fail; the demo exits non-zero when one
 * did not behave as expected. Every summary is rendered for the terminal and written, as
 * markdown, to one report file.
 */
import { cpSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { ROOT, runAction, secretLeaks, type StepResult } from '../test/harness.js';
import { startS3, type S3Fixture } from '../test/fixtures/s3.js';
import { renderMarkdown } from './terminal.js';

const started = Date.now();
const color = !!process.stdout.isTTY && !process.env.NO_COLOR;
/** Tables are fitted to the terminal (160 columns when the output is not one). */
const width = (process.stdout.isTTY ? process.stdout.columns : 0) || 160;
const sgr = (on: string, off: string) => (s: string) => (color ? `\x1b[${on}m${s}\x1b[${off}m` : s);
const bold = sgr('1', '22');
const dim = sgr('2', '22');
const green = sgr('32', '39');
const red = sgr('31', '39');
const elapsed = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`);

const USAGE = `usage: npm run demo [-- --hosts=N] [--report=PATH]
  --hosts=N       sandbox hosts (1-10, default 3; fewer is faster)
  --report=PATH   where to write the markdown report (default: ${path.join(os.tmpdir(), 'ops-actions-demo-report.md')})`;

function parseArgs(argv: string[]): { hosts: number; report: string } {
  let hosts = 3;
  let report = path.join(os.tmpdir(), 'ops-actions-demo-report.md');
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, ''];
    if (k === '--help' || k === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (k === '--hosts' && /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 10) hosts = Number(v);
    // npm run changes the directory to the package: a relative path is the caller's.
    else if (k === '--report' && v) report = path.resolve(process.env.INIT_CWD ?? process.cwd(), v);
    else {
      console.error(`demo: unknown or bad argument ${JSON.stringify(a)}\n${USAGE}`);
      process.exit(2);
    }
  }
  return { hosts, report };
}

const opts = parseArgs(process.argv.slice(2));
const STEPS = 8;

interface Outcome {
  n: number;
  title: string;
  expectOk: boolean;
  passed: boolean;
  asExpected: boolean;
  ms: number;
  problems: string[];
  summary: string;
}
const outcomes: Outcome[] = [];
/** Values no step may show (checked in every step's log, summary and outputs). */
const secrets: string[] = [];

/**
 * Run one step: a heading, the bundle, its summary rendered, and whether it behaved as
 * expected (its exit code, plus what `verify` finds).
 */
async function step(title: string, expectOk: boolean, run: () => Promise<StepResult>, verify: (r: StepResult) => string[] | Promise<string[]> = () => []): Promise<StepResult> {
  const n = outcomes.length + 1;
  console.log(`\n${bold(`━━ Step ${n}/${STEPS}: ${title}`)} ${dim(`(expected to ${expectOk ? 'pass' : 'fail'})`)}`);
  const t = Date.now();
  const r = await run();
  const ms = Date.now() - t;
  const passed = r.exitCode === 0;
  const summary = r.summary.trim();
  console.log(summary ? renderMarkdown(summary, { color, indent: '  ', width: width - 2 }) : dim('  (no summary)'));
  if (!passed && r.errors.length) console.log(`\n  ${expectOk ? red('error') : 'error (the expected failure)'}: ${r.errors[0]!.split('\n').slice(0, 6).join('\n    ')}`);
  const problems: string[] = [];
  if (passed !== expectOk) problems.push(`expected to ${expectOk ? 'pass' : 'fail'}, but it ${passed ? 'passed' : `failed (exit ${r.exitCode ?? r.signal})`}`);
  problems.push(...(await verify(r)));
  // Only where a secret shows, never the secret.
  for (const leak of secretLeaks(r, secrets)) problems.push(`a secret is not masked: the ${leak.split(' shows ')[0]} shows it`);
  const asExpected = problems.length === 0;
  if (asExpected) console.log(`\n  ${green('✓')} ${passed ? 'passed' : 'failed'}, as expected ${dim(`(${elapsed(ms)})`)}`);
  else {
    for (const p of problems) console.log(`\n  ${red('✗')} ${p}`);
    // The runner's view of the log (masks applied), for what went wrong.
    const tail = r.log.split('\n').filter((l) => !l.startsWith('::add-mask::'));
    console.log(
      dim(
        `  last lines of the step's log:\n${tail
          .slice(-25)
          .map((l) => `    ${l}`)
          .join('\n')}`,
      ),
    );
    process.exitCode = 1;
  }
  outcomes.push({ n, title, expectOk, passed, asExpected, ms, problems, summary });
  return r;
}

function writeReport(hosts: number): void {
  const rows = outcomes.map((o) => `| ${o.n} | ${o.title} | ${o.expectOk ? 'pass' : 'fail'} | ${o.passed ? 'passed' : 'failed'} | ${o.asExpected ? '✅' : '❌'} | ${elapsed(o.ms)} |`);
  const md = [
    '# ops-actions demo report',
    '',
    `${new Date().toISOString()} · ${hosts} sandbox host(s) · total ${elapsed(Date.now() - started)} · ${outcomes.every((o) => o.asExpected) && outcomes.length === STEPS ? '✅ every step behaved as expected' : '❌ not every step behaved as expected'}`,
    '',
    '| step | what | expected | result | as expected | time |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...outcomes.flatMap((o) => [
      '---',
      '',
      `# Step ${o.n}: ${o.title}`,
      '',
      `Expected to ${o.expectOk ? 'pass' : 'fail'}; it ${o.passed ? 'passed' : 'failed'} in ${elapsed(o.ms)}: ${o.asExpected ? '✅ as expected' : `❌ ${o.problems.join('; ')}`}`,
      '',
      o.summary,
      '',
    ]),
  ].join('\n');
  mkdirSync(path.dirname(opts.report), { recursive: true });
  writeFileSync(opts.report, md);
}

/** The build-push workspace: demo/app with this machine's static busybox. */
function appWorkspace(): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'ops-demo-ws-'));
  cpSync(path.join(ROOT, 'demo', 'app'), path.join(ws, 'app'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(ws, 'app', 'busybox'));
  mkdirSync(path.join(ws, 'docker-config'));
  return ws;
}

const psql = (sql: string) => `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "${sql}"`;

let sb: Sandbox | undefined;
let s3: S3Fixture | undefined;
let ws: string | undefined;
let stopping: Promise<void> | undefined;
const stopAll = () =>
  (stopping ??= (async () => {
    await s3?.close().catch((e) => console.error('demo: stopping s3rver:', e));
    await sb?.stop().catch((e) => console.error('demo: stopping the sandbox:', e));
    if (ws) rmSync(ws, { recursive: true, force: true });
  })());
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    console.error(`\ndemo: ${sig}: stopping what it started…`);
    void stopAll().finally(() => process.exit(130));
  });

try {
  console.log(bold('ops-actions demo: starting a sandbox fleet (sshd + Docker engine per host, a registry, PostgreSQL, test images) and an S3 store…'));
  // Settled, not all: when one fails, the other is still kept, so it is stopped too.
  const [fleet, store] = await Promise.allSettled([startSandbox({ hosts: opts.hosts, isolated: true, images: ['2.0.0'], migrator: true, postgres: true }), startS3('backups')]);
  if (fleet.status === 'fulfilled') sb = fleet.value;
  if (store.status === 'fulfilled') s3 = store.value;
  if (fleet.status === 'rejected') throw fleet.reason;
  if (store.status === 'rejected') throw store.reason;
  if (!sb || !s3) throw new Error('the sandbox or the S3 store did not start');
  const pg = sb.postgres!;
  const registry = sb.registry!;
  const first = sb.hosts[0]!;
  console.log(`  ready in ${elapsed(Date.now() - started)}: ${sb.hosts.length} host(s), registry ${registry.address}, PostgreSQL on ${pg.hostsAddress}:${pg.port}, S3 on ${s3.endpoint}`);
  for (const h of sb.hosts) console.log(`    ${h.spec}  ${h.hostKeys[0]!.type} ${h.hostKeys[0]!.fingerprint}`);
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  secrets.push(pg.password, identity, sb.keys.ed25519.privateKey);
  await pg.psql(['-c', 'create database shop']);
  await pg.psql(['-c', 'create database shop_staging']);
  const rows = async (db: string) => Number((await pg.psql(['-d', db, '-tAc', 'select count(*) from items'])).trim());
  const envFile = `DATABASE_URL=postgresql://postgres:${pg.password}@${pg.hostsAddress}:${pg.port}/shop\nMIGRATOR_IMAGE=${sb.migrator}\n`;
  const ssh = sb.sshInputs();

  // 1. build-push
  ws = appWorkspace();
  const workspace = ws;
  const built = await step(
    'build-push v1: build demo/app and push it to the sandbox registry',
    true,
    () =>
      runAction('build-push', {
        workspace,
        env: { DOCKER_HOST: sb!.engines.get(first.name)!.host, DOCKER_CONFIG: path.join(workspace, 'docker-config'), GITHUB_REF: 'refs/tags/v1.0.0', GITHUB_REF_NAME: 'v1.0.0' },
        // The sandbox registry has no auth: no username/password, so no docker login.
        inputs: { image: `${registry.address}/acme/shop`, context: 'app' },
      }).then((r) => r.main),
    (r) => (/@sha256:[0-9a-f]{64}$/.test(r.outputs['image-ref'] ?? '') ? [] : ['no image-ref output (image@sha256:digest)']),
  );
  const imageRef = built.outputs['image-ref'];
  if (!imageRef) throw new Error('build-push gave no image to deploy: the remaining steps cannot run');

  const deploy = (image: string, version: string, extra: Record<string, string> = {}) =>
    runAction('deploy', {
      workspace: ROOT,
      post: true,
      inputs: {
        app: 'shop',
        ...ssh,
        'compose-file': path.join('test', 'fixtures', 'compose-migrate', 'docker-compose.yml'),
        services: 'web',
        image,
        version,
        'env-file': envFile,
        'health-url': 'http://127.0.0.1:8080/health',
        'health-expect-json': `status=healthy\nversion=${version}`,
        'health-interval': '250ms',
        'github-deployment': 'false',
        ...extra,
      },
    }).then((r) => r.main);

  // 2-4. deploys
  await step(
    'deploy v1: the image build-push pushed (by digest), with a migration against PostgreSQL, then its health gate',
    true,
    () =>
      deploy(imageRef, '1.0.0', {
        'migrate-command': psql("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10, 2)); INSERT INTO items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 5000) g"),
        'migrate-service': 'migrator',
      }),
    async (r) => {
      if (r.exitCode !== 0) return [];
      const n = await rows('shop').catch(() => -1);
      console.log(`  the migration ran once, before the switch: database shop, table items has ${n} rows`);
      return n === 5000 ? [] : [`expected 5000 rows in items after the migration, found ${n}`];
    },
  );
  await step('deploy v2: one canary host first, then two at a time; an additive migration', true, () =>
    deploy(`${sb!.images!.repo}:2.0.0`, '2.0.0', {
      canary: '1',
      'max-parallel': '2',
      'migrate-command': psql('ALTER TABLE items ADD COLUMN stock int NOT NULL DEFAULT 0'),
      'migrate-service': 'migrator',
    }),
  );
  await step(
    'deploy v3 (broken): its health gate fails, it rolls back to v2, diagnostics collected',
    false,
    () => deploy(`${sb!.images!.repo}:unhealthy`, '3.0.0', { 'health-timeout': '5s' }),
    (r) => [...(r.outputs['rolled-back'] === 'true' ? [] : ["the rolled-back output is not 'true'"]), ...(/diagnostics/.test(r.summary) ? [] : ['the summary has no diagnostics'])],
  );

  // 5-6. backup and DR drill
  const storage = { storage: `s3://${s3.bucket}/ops`, 's3-endpoint': s3.endpoint, 's3-force-path-style': 'true', 's3-access-key-id': s3.accessKeyId, 's3-secret-access-key': s3.secretAccessKey };
  const db = (database: string) => ({ source: 'postgres', database, 'db-user': 'postgres', 'db-password': pg.password, 'db-host': pg.hostsAddress, 'db-port': String(pg.port) });
  const backup = await step(
    'backup: the shop database to S3 (s3rver), age-encrypted, with retention',
    true,
    () => runAction('backup', { inputs: { app: 'shop', ...sb!.sshInputs([first]), ...db('shop'), ...storage, 'encrypt-to': recipient, retention: 'keep-last=3,keep-daily=7' } }).then((r) => r.main),
    (r) => (r.outputs['backup-id'] ? [] : ['no backup-id output']),
  );
  const reportPath = path.join(sb.root, 'dr-report.md');
  await step(
    'DR drill: restore that backup into the staging database, with the RTO/RPO report',
    true,
    () =>
      runAction('restore', {
        inputs: {
          app: 'shop',
          environment: 'staging',
          'from-environment': 'production',
          ...sb!.sshInputs([first]),
          ...db('shop_staging'),
          ...storage,
          name: 'postgres-shop',
          backup: backup.outputs['backup-id'] || 'latest',
          identity,
          mode: 'database-only',
          'drop-existing': 'true',
          'rto-target': '2m',
          'rpo-target': '1h',
          'report-path': reportPath,
        },
      }).then((r) => r.main),
    async (r) => {
      const problems = [...(r.outputs['rto-met'] === 'true' ? [] : ['RTO not met']), ...(r.outputs['rpo-met'] === 'true' ? [] : ['RPO not met'])];
      if (r.exitCode !== 0) return problems;
      const [prod, staging] = await Promise.all([rows('shop'), rows('shop_staging').catch(() => -1)]);
      console.log(`  staging has ${staging} rows in items, production ${prod}`);
      return staging === prod ? problems : [...problems, `the staging database has ${staging} rows, production ${prod}`];
    },
  );

  // 7. security-update
  await step(
    'security-update: dry run, a plan per host; nothing changes',
    true,
    // The sandbox hosts' users have no sudo: the plan is apt-get -s against this machine's package lists.
    () => runAction('security-update', { inputs: { app: 'shop', ...ssh, 'dry-run': 'true', 'use-sudo': 'false', 'max-parallel': String(sb!.hosts.length) } }).then((r) => r.main),
    (r) => [...(r.outputs.upgraded === '{}' ? [] : ['the dry run upgraded something']), ...(r.summary.includes('dry run') ? [] : ['the summary does not say dry run'])],
  );

  // 8. healthcheck with host checks
  await step(
    'healthcheck: /health through SSH on every host (v2 after the rollback), and host checks',
    true,
    () =>
      runAction('healthcheck', {
        inputs: {
          ...ssh,
          app: 'shop',
          url: 'http://127.0.0.1:8080/health',
          'via-ssh': 'true',
          'expect-json': 'status=healthy\nversion=2.0.0\nchecks.database=ok',
          interval: '250ms',
          timeout: '20s',
          'host-checks': ['disk /=95%', 'inodes /=95%', 'memory=95%', 'load=4.0', 'process=sshd', 'containers=3s', 'reboot-required=warn', 'time-sync=2s'].join('\n'),
        },
      }).then((r) => r.main),
    (r) => (r.outputs.healthy === 'true' ? [] : ['the healthy output is not true']),
  );
} catch (e) {
  console.error(`\n${red('demo: stopped')}: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  console.log(dim('\nstopping the sandbox and the S3 store…'));
  await stopAll();
}

writeReport(opts.hosts);
const bad = outcomes.filter((o) => !o.asExpected);
const table = [
  '| step | what | expected | result | |',
  '| --- | --- | --- | --- | --- |',
  ...outcomes.map((o) => `| ${o.n} | ${o.title.split(': ')[0]} | ${o.expectOk ? 'pass' : 'fail'} | ${o.passed ? 'passed' : 'failed'} | ${o.asExpected ? '✅' : '❌'} ${elapsed(o.ms)} |`),
].join('\n');
console.log(`\n${bold('━━ Summary')}\n${renderMarkdown(table, { color, indent: '  ', width: width - 2 })}`);
console.log(`\nreport: ${opts.report}`);
console.log(`total: ${elapsed(Date.now() - started)}`);
if (bad.length || outcomes.length < STEPS || process.exitCode) {
  console.log(red(`demo: FAILED (${bad.length ? `step ${bad.map((o) => o.n).join(', ')} did not behave as expected` : `${outcomes.length} of ${STEPS} steps ran`})`));
  process.exitCode = 1;
} else console.log(`${bold('demo: done')}: every step ran the committed bundles in dist/ against real sshd, Docker, registry, PostgreSQL and S3 servers, and behaved as expected.`);
