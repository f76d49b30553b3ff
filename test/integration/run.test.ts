/** The run action through its bundle, on sandbox SSH hosts. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { grantSudo } from '../../sandbox/hosts.js';
import { runAction, secretLeaks } from '../harness.js';
import { inspector, onHost } from './helpers.js';
import type { SshPool } from '../../src/host/pool.js';

let sb: Sandbox;
let pool: SshPool;

beforeAll(async () => {
  sb = await startSandbox({ hosts: 10 });
  pool = inspector(sb);
  grantSudo(sb.hosts[0]!, { nopasswd: true });
  grantSudo(sb.hosts[1]!, { nopasswd: false });
});
afterAll(async () => {
  await pool?.closeAll();
  await sb?.stop();
});

const run = (inputs: Record<string, string>, hosts = sb.hosts.slice(0, 1), workspace?: string) =>
  runAction('run', { post: true, workspace, inputs: { ...sb.sshInputs(hosts), ...inputs } }).then((r) => r.main);
type Results = Record<string, { result: string; exit_code: number | null; stdout: string; stderr: string; timed_out?: boolean }>;
const results = (r: { outputs: Record<string, string> }) => JSON.parse(r.outputs.results!) as Results;

describe('run', () => {
  it('fails at a failing middle line and at a failing pipe, with the exit code', async () => {
    const mid = await run({ script: 'echo start\nfalse\necho after' });
    expect(mid.exitCode).toBe(1);
    const h = sb.hosts[0]!.spec;
    expect(results(mid)[h]).toMatchObject({ result: 'failed', exit_code: 1, stdout: 'start' });
    expect(mid.errors[0]).toContain(`host ${h}: the script exited with code 1`);
    expect(mid.log).not.toContain('after');
    const piped = await run({ script: 'false | cat\necho after' });
    expect(piped.exitCode).toBe(1);
    expect(results(piped)[h]!.stdout).toBe('');
    const code = await run({ script: 'echo out; echo err >&2; exit 7' });
    expect(results(code)[h]).toMatchObject({ exit_code: 7, stdout: 'out', stderr: 'err' });
    const ok = await run({ script: 'echo "hello from $(hostname)"\nuname -s' });
    expect(ok.errors).toEqual([]);
    expect(ok.outputs.stdout).toMatch(/^hello from .*\nLinux\n$/);
    expect(ok.outputs['hosts-succeeded']).toBe(h);
    expect(ok.summary).toContain('| host | result | exit code | duration | last output |');
  });

  it('10 hosts, one failing: halt stops the rest, continue runs every host', async () => {
    const bad = sb.hosts[3]!;
    const script = `if [ "$(cat "$HOME/.whoami" 2>/dev/null)" = bad ]; then echo broken >&2; exit 3; fi; echo fine`;
    await onHost(pool, bad, 'echo bad > "$HOME/.whoami"');
    try {
      const halt = await run({ script, 'max-parallel': '2' }, sb.hosts);
      expect(halt.exitCode).toBe(1);
      const rh = results(halt);
      expect(rh[bad.spec]).toMatchObject({ result: 'failed', exit_code: 3, stderr: 'broken' });
      expect(Object.values(rh).filter((x) => x.result === 'skipped').length).toBeGreaterThan(0);
      expect(halt.errors[0]).toContain('Not run (on-host-failure: halt)');
      const cont = await run({ script, 'max-parallel': '4', 'on-host-failure': 'continue' }, sb.hosts);
      expect(cont.exitCode).toBe(1);
      const rc = results(cont);
      expect(Object.values(rc).filter((x) => x.result === 'succeeded').length).toBe(9);
      expect(cont.outputs['hosts-failed']).toBe(bad.spec);
      expect(cont.outputs['hosts-succeeded']!.split(',').length).toBe(9);
    } finally {
      await onHost(pool, bad, 'rm -f "$HOME/.whoami"');
    }
  });

  it('env and secret-env values arrive literally (quotes, newlines, $()), never on a command line; secrets are masked', async () => {
    const secret = `s3cr'et "$(touch /tmp/pwned-ops)" \`id\`\nline2`;
    const r = await run({
      env: `PLAIN=a 'b' "c" $(echo no) \\n\nMULTI<<EOF\nx\n  y\nEOF`,
      'secret-env': `TOKEN<<EOF\n${secret}\nEOF`,
      script: 'printf "%s|" "$PLAIN" "$MULTI"; echo; printf "%s" "$TOKEN" | sha256sum | cut -c1-16; ps -eo args | grep -c "s3cr" || true; printf "%s\\n" "$TOKEN"',
    });
    expect(r.errors).toEqual([]);
    const lines = r.outputs.stdout!.split('\n');
    expect(lines[0]).toBe(`a 'b' "c" $(echo no) \\n|x\n  y|`.split('\n')[0]);
    expect(r.outputs.stdout).toContain(`a 'b' "c" $(echo no) \\n|x\n  y|`);
    const { createHash } = await import('node:crypto');
    expect(r.outputs.stdout).toContain(createHash('sha256').update(secret).digest('hex').slice(0, 16));
    // Only the grep itself matches: the secret is on no process's command line.
    expect(r.outputs.stdout).toMatch(/\n1\n/);
    expect(await onHost(pool, sb.hosts[0]!, 'test -e /tmp/pwned-ops && echo yes || echo no')).toBe('no\n');
    expect(secretLeaks(r, [`s3cr'et "$(touch /tmp/pwned-ops)" \`id\``, 'line2'])).toEqual([]);
    expect(r.outputs.stdout).toContain('***');
    // Nothing of the run is left on the host.
    expect((await onHost(pool, sb.hosts[0]!, 'ls -d "${TMPDIR:-/tmp}"/ops-run.* 2>/dev/null | wc -l')).trim()).toBe('0');
  });

  it('sudo: root with NOPASSWD; a clear error when sudo asks for a password', async () => {
    const ok = await run({ script: 'id -u', sudo: 'true' });
    expect(ok.errors).toEqual([]);
    expect(ok.outputs.stdout).toBe('0\n');
    const pw = await run({ script: 'id -u', sudo: 'true' }, [sb.hosts[1]!]);
    expect(pw.exitCode).toBe(1);
    expect(pw.errors[0]).toContain('sudo asks for a password');
    expect(pw.errors[0]).toContain('NOPASSWD');
  });

  it('timeout stops the remote process group', async () => {
    const r = await run({ script: 'sleep 300 &\necho started\nsleep 301', timeout: '2s' });
    expect(r.exitCode).toBe(1);
    expect(results(r)[sb.hosts[0]!.spec]).toMatchObject({ result: 'failed', timed_out: true, exit_code: null });
    expect(r.errors[0]).toMatch(/the script timed out after 2(\.0)?s and was stopped/);
    await new Promise((res) => setTimeout(res, 7000));
    expect((await onHost(pool, sb.hosts[0]!, 'pgrep -u "$(id -u)" -f "sleep 30[01]" | wc -l')).trim()).toBe('0');
  });

  it('script-file with a shebang runs directly; working-directory; app lock held while it runs', async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'ws-'));
    writeFileSync(path.join(ws, 'check.sh'), '#!/bin/sh\necho "shell=$0 dir=$(pwd)"\ntest -d "$HOME/apps/shop-production/.lock" && echo locked\n');
    chmodSync(path.join(ws, 'check.sh'), 0o644);
    await onHost(pool, sb.hosts[0]!, 'mkdir -p "$HOME/work"');
    const r = await run({ 'script-file': 'check.sh', 'working-directory': '~/work', app: 'shop' }, sb.hosts.slice(0, 1), ws);
    expect(r.errors).toEqual([]);
    expect(r.outputs.stdout).toMatch(/^shell=\/.*\/script dir=\/.*\/work\nlocked\n$/);
    expect((await onHost(pool, sb.hosts[0]!, 'test -e "$HOME/apps/shop-production/.lock" && echo held || echo free')).trim()).toBe('free');
    const missing = await run({ script: 'true', 'working-directory': '/nonexistent/dir' });
    expect(missing.errors[0]).toContain('working-directory /nonexistent/dir does not exist on this host');
  });

  it('bad inputs name the input', async () => {
    const r = await run({ script: 'true', env: 'not a line' });
    expect(r.errors[0]).toContain("input 'env'");
    const none = await run({});
    expect(none.errors[0]).toContain("input 'script'");
  });
});
