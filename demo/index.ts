/**
 * The demo: a sandbox fleet on this machine (each host its own network namespace, sshd,
 * deploy user and Docker engine; a registry with the app's images), driven through the
 * bundled actions exactly as a workflow runs them:
 *
 *   deploy 1.0.0 → deploy 2.0.0 (canary first) → deploy a broken 3.0.0 (its health gate
 *   fails, every host is back on 2.0.0, 3.0.0 marked bad) → healthcheck through SSH →
 *   rollback to 1.0.0 by version.
 */
import path from 'node:path';
import { startSandbox } from '../sandbox/index.js';
import { ROOT, runAction, type StepResult } from '../test/harness.js';

const bold = (s: string) => `\x1b[1m${s}\x1b[0m`;
const say = (s: string) => console.log(`\n${bold(`== ${s}`)}`);
const hostsArg = process.argv.find((a) => a.startsWith('--hosts='));
const n = hostsArg ? Number(hostsArg.split('=')[1]) : 3;

function show(r: StepResult, expectOk: boolean) {
  console.log(
    r.summary
      .split('\n')
      .filter((l) => !l.startsWith('```') && !/^\s*(gantt|title |dateFormat|axisFormat|section |\S.* :(done|crit),)/.test(l))
      .join('\n')
      .trim(),
  );
  if (r.errors.length) console.log(`\n${expectOk ? '✗ unexpected failure' : '✓ failed as expected'}: ${r.errors[0]}`);
  if ((r.exitCode === 0) !== expectOk) {
    console.error(`demo: the step ${expectOk ? 'failed' : 'passed'} unexpectedly`);
    process.exitCode = 1;
  }
}

console.log(bold('ops-actions demo: starting a sandbox fleet (sshd + Docker engine per host, a registry, test images)…'));
const sb = await startSandbox({ hosts: n, isolated: true, images: ['1.0.0', '2.0.0'] });
try {
  say(`${sb.hosts.length} hosts`);
  for (const h of sb.hosts) console.log(`  ${h.spec}  ${h.hostKeys[0]!.type} ${h.hostKeys[0]!.fingerprint}`);

  const base = {
    app: 'shop',
    ...sb.sshInputs(),
    'compose-file': path.join('test', 'fixtures', 'compose', 'docker-compose.yml'),
    'env-file': 'DATABASE_URL=postgresql://shop:not-a-real-password@db/shop\n',
    'health-url': 'http://127.0.0.1:8080/health',
    'health-expect-json': 'status=healthy',
    'health-interval': '250ms',
    'github-deployment': 'false',
  };
  const deploy = (image: string, version: string, extra: Record<string, string> = {}) =>
    runAction('deploy', { workspace: ROOT, post: true, inputs: { ...base, image: `${sb.images!.repo}:${image}`, version, ...extra } }).then((r) => r.main);

  say('deploy 1.0.0');
  show(await deploy('1.0.0', '1.0.0'), true);

  say('deploy 2.0.0, one canary host first, then two at a time');
  show(await deploy('2.0.0', '2.0.0', { canary: '1', 'max-parallel': '2' }), true);

  say('deploy 3.0.0, whose health check fails: the host goes back to 2.0.0, the rest are never touched');
  show(await deploy('unhealthy', '3.0.0', { 'health-timeout': '5s' }), false);

  say('healthcheck through SSH: every host serves 2.0.0 on its own 127.0.0.1:8080');
  const hc = await runAction('healthcheck', {
    inputs: { ...sb.sshInputs(), 'via-ssh': 'true', url: 'http://127.0.0.1:8080/health', 'expect-json': 'version=2.0.0', 'success-threshold': '3', interval: '200ms' },
  });
  show(hc.main, true);

  say('rollback to 1.0.0 by version');
  const rb = await runAction('rollback', { inputs: { app: 'shop', ...sb.sshInputs(), to: '1.0.0', 'health-url': 'http://127.0.0.1:8080/health', 'health-interval': '250ms' } });
  show(rb.main, true);
} finally {
  await sb.stop();
}
console.log(process.exitCode ? '\ndemo: FAILED' : `\n${bold('demo: done')} — every step above ran the committed bundles in dist/ against real sshd, Docker and registry servers.`);
