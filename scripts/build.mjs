// Bundle every action with ncc into dist/<name>/, deterministically (no source maps, no
// cache, sorted work). `dist/` is committed: it is what users run.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ncc = path.join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');
const only = process.argv.slice(2);
const actions = readdirSync(path.join(root, 'actions'))
  .filter((n) => existsSync(path.join(root, 'actions', n, 'index.ts')))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();

for (const name of actions) {
  const out = path.join(root, 'dist', name);
  // Build next to the bundle and swap it in only when the build succeeded, so a failed
  // build never leaves an action without its bundle.
  const tmp = path.join(root, 'dist', `.${name}.building`);
  rmSync(tmp, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [ncc, 'build', path.join('actions', name, 'index.ts'), '-o', tmp, '--no-cache', '--no-source-map-register', '--license', 'licenses.txt', '--quiet', '--target', 'es2022'],
    { cwd: root, stdio: 'inherit' },
  );
  // ssh2's Windows Pageant helper: never used (no agent auth), so not shipped.
  rmSync(path.join(tmp, 'pagent.exe'), { force: true });
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  console.log(`built dist/${name}`);
}
