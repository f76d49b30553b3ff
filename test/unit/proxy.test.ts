import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { drainAndStopCommand, nginxSite, otherColor, proxyApplyCommand, recordColorCommand, waitProxyCommand, waitReadyCommand } from '../../src/commands/proxy.js';
import type { Command } from '../../src/shell/index.js';

// The commands run by this machine's sh, as a host would run them.
function run(c: Command, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(String(c[0]), c.slice(1).map(String), { encoding: 'utf8', env }, (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'proxy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nginx site', () => {
  it('sends everything to one upstream on the loopback, retrying a refused connection only', () => {
    const site = nginxSite({ name: 'ops_shop_production', listen: '80', upstreamPort: 8082 });
    expect(site).toContain('upstream ops_shop_production {\n  server 127.0.0.1:8082 max_fails=0;\n}');
    expect(site).toContain('  listen 80;');
    expect(site).toContain('proxy_pass http://ops_shop_production;');
    expect(site).toContain('proxy_next_upstream error;');
    expect(otherColor('blue')).toBe('green');
    expect(otherColor('green')).toBe('blue');
  });

  it('refuses what would be nginx syntax', () => {
    expect(() => nginxSite({ name: 'a; b', listen: '80', upstreamPort: 1 })).toThrow(/upstream name/);
    expect(() => nginxSite({ name: 'a', listen: '80; include /etc/passwd', upstreamPort: 1 })).toThrow(/listen/);
    expect(() => nginxSite({ name: 'a', listen: '127.0.0.1:8080', upstreamPort: 70000 })).toThrow(/port/);
    expect(nginxSite({ name: 'a', listen: '127.0.0.1:8080', upstreamPort: 1 })).toContain('listen 127.0.0.1:8080;');
  });
});

describe('applying a proxy configuration', () => {
  const file = path.join(dir, 'site.conf');
  const reloaded = path.join(dir, 'reloaded');

  it('puts the new file in place by rename, then reloads', async () => {
    writeFileSync(file, 'old');
    const r = await run(proxyApplyCommand(file, 'new config', `grep -q config "${file}"`, `echo reloaded >> "${reloaded}"`));
    expect(r.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('new config');
    expect(readFileSync(reloaded, 'utf8')).toBe('reloaded\n');
    expect(readdirSync(dir).filter((f) => f.includes('.ops-'))).toEqual([]);
  });

  it('a configuration that does not validate: the old file is back, nothing reloaded, the validator says why', async () => {
    writeFileSync(file, 'good config');
    rmSync(reloaded, { force: true });
    const r = await run(proxyApplyCommand(file, 'broken', `echo "nginx: [emerg] unexpected end of file" >&2; grep -q config "${file}"`, `touch "${reloaded}"`));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('nginx: [emerg] unexpected end of file');
    expect(r.stderr).toContain('the previous one is back in place');
    expect(readFileSync(file, 'utf8')).toBe('good config');
    expect(existsSync(reloaded)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.ops-'))).toEqual([]);
  });

  it('a first configuration that does not validate is removed', async () => {
    const fresh = path.join(dir, 'fresh.conf');
    const r = await run(proxyApplyCommand(fresh, 'x', 'false', 'true'));
    expect(r.code).toBe(3);
    expect(existsSync(fresh)).toBe(false);
  });

  it('the content and paths are data: quotes and $() are written, never run', async () => {
    const odd = path.join(dir, "it's $(touch pwned).conf");
    const r = await run(proxyApplyCommand(odd, '$(touch pwned2) "quoted"', 'true', 'true'));
    expect(r.code).toBe(0);
    expect(readFileSync(odd, 'utf8')).toBe('$(touch pwned2) "quoted"');
    expect(existsSync('pwned')).toBe(false);
    expect(existsSync('pwned2')).toBe(false);
  });
});

describe('waiting for a color', () => {
  it('passes once the port answers 2xx; fails after its timeout with what it saw', async () => {
    let ready = false;
    const server = http.createServer((req, res) => {
      res.writeHead(ready && req.url === '/health' ? 200 : 503);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      setTimeout(() => {
        ready = true;
      }, 800);
      const ok = await run(waitReadyCommand(port, '/health', 20));
      expect(ok.code, ok.stderr).toBe(0);
      ready = false;
      const no = await run(waitReadyCommand(port, '/health', 1));
      expect(no.code).toBe(4);
      expect(no.stderr).toContain(`http://127.0.0.1:${port}/health did not answer 2xx within 1s`);
    } finally {
      server.close();
    }
  });
});

describe('draining', () => {
  it('waits while a connection to the port is open, then reports it drained', async () => {
    let served = false;
    const server = http.createServer((_req, res) => {
      setTimeout(() => {
        res.end('slow');
        served = true;
      }, 1500);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const inFlight = fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } }).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 200));
      // A docker that lists one container of the project and records what it is asked to stop.
      const bin = mkdtempSync(path.join(dir, 'bin-'));
      const calls = path.join(bin, 'calls');
      writeFileSync(path.join(bin, 'docker'), `#!/bin/sh\necho "$*" >> "${calls}"\n[ "$1" = ps ] && echo c0ffee\nexit 0\n`, { mode: 0o755 });
      const r = await run(drainAndStopCommand(port, 'shop-production-blue', 10, 7), { ...process.env, PATH: `${bin}:${process.env.PATH}` });
      const servedBeforeStop = served;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`drained port ${port} in \\d+s \\(connections left: 0\\)`));
      expect(await inFlight).toBe('slow');
      // The containers were stopped only after the request in flight was answered.
      expect(servedBeforeStop).toBe(true);
      expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['ps -q --filter label=com.docker.compose.project=shop-production-blue', 'stop -t 7 c0ffee']);
    } finally {
      server.close();
    }
  });
});

describe('nginx site: upgrades', () => {
  it('passes WebSocket upgrades through with HTTP/1.1, a map named after the upstream', () => {
    const site = nginxSite({ name: 'ops_shop_production', listen: '80', upstreamPort: 8082 });
    expect(site).toContain('map $http_upgrade $ops_shop_production_connection {');
    expect(site).toContain('proxy_http_version 1.1;');
    expect(site).toContain('proxy_set_header Connection $ops_shop_production_connection;');
  });
});

describe('the proxy serves the new site', () => {
  it("waits for this site's marker through the proxy's port, and says which way it failed", async () => {
    let marker = 'old0';
    const server = http.createServer((_req, res) => {
      if (marker) res.setHeader('X-Ops-Upstream', marker);
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      setTimeout(() => (marker = 'abc123'), 500);
      const ok = await run(waitProxyCommand(String(port), '/health', 'abc123', 5));
      expect(ok).toMatchObject({ code: 0 });
      const stale = await run(waitProxyCommand(`127.0.0.1:${port}`, '/health', 'fff', 1));
      expect(stale.code).toBe(5);
      expect(stale.stderr).toContain('still answers from the previous site (abc123)');
      marker = '';
      const other = await run(waitProxyCommand(String(port), '/', 'fff', 1));
      expect(other.code).toBe(5);
      expect(other.stderr).toMatch(/does not answer from this app's site: another server block serves that port/);
    } finally {
      server.close();
    }
  });

  it('records the color by rename', async () => {
    const app = mkdtempSync(path.join(dir, 'app-'));
    expect((await run(recordColorCommand(app, 'green'))).code).toBe(0);
    expect(readFileSync(path.join(app, 'color'), 'utf8')).toBe('green\n');
    expect(readdirSync(app)).toEqual(['color']);
  });
});
