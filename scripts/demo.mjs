// `npm run demo [-- --hosts=N] [--report=PATH]`: install what is missing, then run the demo
// (demo/index.ts) against a local sandbox fleet.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!existsSync(path.join(root, 'node_modules', '.bin', 'tsx'))) run('npm', ['ci', '--no-audit', '--no-fund']);
if (!existsSync(path.join(root, 'dist'))) run('npm', ['run', 'build']);
const help = process.argv.slice(2).some((a) => a === '--help' || a === '-h');
if (!help && process.getuid?.() !== 0) {
  console.error('npm run demo starts a sandbox fleet (sshd, users, Docker engines) and must run as root.');
  process.exit(1);
}
run(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'demo', 'index.ts'), ...process.argv.slice(2)]);
