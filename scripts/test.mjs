// `npm test`: install what is missing, then the unit tests and the integration tests
// (which start real servers on loopback and need root to do so).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!existsSync(path.join(root, 'node_modules', '.bin', 'vitest'))) run('npm', ['ci', '--no-audit', '--no-fund']);
if (!existsSync(path.join(root, 'dist'))) run('npm', ['run', 'build']);
const extra = process.argv.slice(2);
if (process.getuid?.() !== 0) {
  console.error('npm test: the integration tests start sshd, users and Docker engines and must run as root.');
  process.exit(1);
}
const report = path.join(root, 'node_modules', '.cache', 'vitest-report.json');
const r = spawnSync(path.join(root, 'node_modules', '.bin', 'vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra], { cwd: root, stdio: 'inherit' });
// A plain closing line that any CI can read.
try {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
  console.log(`${j.numPassedTests} passed, ${j.numFailedTests} failed, ${skipped} skipped`);
} catch {
  console.log('0 passed, 1 failed');
}
process.exit(r.status ?? 1);
