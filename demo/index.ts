/**
 * The demo: a sandbox fleet on this machine, driven through the bundled actions exactly as
 * a workflow would run them. It grows with the product; today it shows the SSH core.
 */
import { startSandbox } from '../sandbox/index.js';
import { runAction } from '../test/harness.js';

const say = (s: string) => console.log(`\n\x1b[1m== ${s}\x1b[0m`);

const sb = await startSandbox({ hosts: 5 });
try {
  say(`sandbox: ${sb.hosts.length} SSH hosts, each its own sshd, host keys and deploy user`);
  for (const h of sb.hosts) console.log(`  ${h.name}  ${h.spec}  ${h.hostKeys[0]!.fingerprint}`);

  say('an action without pinned host keys refuses to connect and prints what to pin');
  const unpinned = await runAction('deploy', { inputs: { app: 'shop', hosts: sb.hosts[0]!.spec, 'ssh-key': sb.keys.ed25519.privateKey } });
  console.log(unpinned.main.errors.join('\n'));

  say('with known-hosts pinned, every host is reached in parallel (max-parallel 3) and reported per host');
  const run = await runAction('backup', { inputs: { app: 'shop', ...sb.sshInputs(), 'max-parallel': '3' } });
  console.log(run.main.summary);
  console.log(run.main.errors.join('\n'));
} finally {
  await sb.stop();
}
