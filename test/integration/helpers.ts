import type { Sandbox, SandboxHost } from '../../sandbox/index.js';
import { SshPool } from '../../src/host/pool.js';
import { KnownHosts } from '../../src/host/hostkeys.js';
import { parsePrivateKey } from '../../src/host/keys.js';
import { silentLogger } from '../../src/log.js';
import { parseHistory, type HistoryEvent } from '../../src/host/history.js';
import type { Target } from '../../src/host/target.js';
import { sleep } from '../../sandbox/procs.js';

export const targetOf = (h: SandboxHost): Target => ({ name: h.spec, host: h.address, port: h.port, user: h.user });

/** A pool for the test's own looks at the hosts (not the code under test). */
export function inspector(sb: Sandbox): SshPool {
  return new SshPool({
    key: parsePrivateKey(sb.keys.ed25519.privateKey),
    hostKeys: { mode: 'known-hosts', knownHosts: KnownHosts.parse(sb.knownHosts()) },
    connectTimeoutMs: 10_000,
    connectRetries: 2,
    commandTimeoutMs: 60_000,
    logger: silentLogger(),
  });
}

export async function onHost(pool: SshPool, h: SandboxHost, script: string, ...args: string[]): Promise<string> {
  const s = await pool.get(targetOf(h));
  const r = await s.exec(['sh', '-c', script, 'sh', ...args]);
  return r.stdout;
}

/** The version the host's app reports on 127.0.0.1:8080/health, or '' if nothing answers. */
export async function servedVersion(pool: SshPool, h: SandboxHost, port = 8080): Promise<string> {
  const out = await onHost(pool, h, `wget -qO- -T 2 http://127.0.0.1:${port}/health 2>/dev/null || true`);
  try {
    return JSON.parse(out).version ?? '';
  } catch {
    return '';
  }
}

export async function historyOf(pool: SshPool, h: SandboxHost, appDir: string): Promise<HistoryEvent[]> {
  return parseHistory(await onHost(pool, h, 'cat "$HOME/$1/history.jsonl" 2>/dev/null || true', appDir));
}

export async function currentOf(pool: SshPool, h: SandboxHost, appDir: string): Promise<string> {
  return (await onHost(pool, h, 'readlink "$HOME/$1/current" || true', appDir)).trim().split('/').pop() ?? '';
}

/** Poll `cond` every 250 ms until it holds, or fail after `ms` naming what was awaited. */
export async function waitFor(what: string, cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
