import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, secretLeaks, type StepResult } from '../harness.js';
import { AUTH_TOKEN, makeCa, startTestApp, type TestApp, type TestCa } from '../fixtures/http-app.js';
import { startSandbox, type Sandbox, type SandboxHost } from '../../sandbox/index.js';
import type { SshPool } from '../../src/host/pool.js';
import { inspector, targetOf } from './helpers.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

const fast = { interval: '200ms', 'request-timeout': '1s' };
const gate = (inputs: Record<string, string>) => runAction('healthcheck', { inputs: { ...fast, ...inputs } }).then((r) => r.main);
const num = (r: StepResult, k: string) => Number(r.outputs[k]);

describe('healthcheck against a real HTTP server', () => {
  it('waits for an app that becomes healthy after a delay, counting every request', async () => {
    const r = await gate({ url: app.url('/ready-after/1200'), timeout: '20s', 'expect-json': 'status=healthy\nchecks.database=ok' });
    expect(r.exitCode).toBe(0);
    expect(r.outputs.healthy).toBe('true');
    expect(num(r, 'attempts')).toBe(app.hits('/ready-after/1200'));
    expect(num(r, 'attempts')).toBeGreaterThan(1);
    expect(r.outputs.status).toBe('200');
    expect(r.outputs['p95-ms']).toMatch(/^\d+$/);
    expect(num(r, 'p95-ms')).toBeGreaterThanOrEqual(num(r, 'p50-ms'));
    expect(r.summary).toContain('## Health gate: ✅ healthy');
  });

  it('fails an app that never becomes healthy at the deadline, with the last response and the error history', async () => {
    const r = await gate({ url: app.url('/never'), timeout: '2s' });
    expect(r.exitCode).toBe(1);
    expect(r.outputs.healthy).toBe('false');
    expect(num(r, 'attempts')).toBe(app.hits('/never'));
    // It probed until the deadline and stopped there: not before, and no probe started after it.
    expect(num(r, 'elapsed-ms')).toBeGreaterThanOrEqual(2000);
    expect(num(r, 'elapsed-ms')).toBeLessThan(2000 + 1000 + 1500);
    const msg = r.errors[0]!;
    expect(msg).toMatch(/did not become healthy within 2\.0s \(\d+ attempts, expecting status 200-299\)/);
    expect(msg).toContain('last response: status 503, body: {"status":"down","checks":{"database":"timeout"}}');
    expect(msg).toMatch(/errors seen: status ×\d+/);
    expect(r.outputs.status).toBe('503');
  });

  it('fails after a 500 and passes on the 200 that follows', async () => {
    const r = await gate({ url: app.url('/fail-first/1'), timeout: '10s' });
    expect(r.exitCode).toBe(0);
    expect(num(r, 'attempts')).toBe(2);
    expect(r.log).toMatch(/attempt 1: 500, status: status 500 is not expected/);
  });

  it('a redirect (a 302 to a login page) is not healthy by default; 3xx passes only when expect-status says so', async () => {
    const r = await gate({ url: app.url('/redirect'), timeout: '1s' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/expecting status 200-299.*last response: status 302/);
    const ok = await gate({ url: app.url('/redirect'), timeout: '1s', 'expect-status': '200-399' });
    expect(ok.exitCode).toBe(0);
  });

  it('success-threshold needs consecutive passes', async () => {
    const r = await gate({ url: app.url('/health'), timeout: '10s', 'success-threshold': '3' });
    expect(r.exitCode).toBe(0);
    expect(num(r, 'attempts')).toBe(3);
  });

  it('names the JSON assertion that failed', async () => {
    const r = await gate({ url: app.url('/wrong-json'), timeout: '1s', 'expect-json': 'status=healthy\nchecks.database=ok' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(`last check failed: expect-json 'checks.database=ok': the body has "degraded"`);
    expect(r.outputs['last-error']).toContain("assertion: expect-json 'checks.database=ok'");
  });

  it('matches the body against a regular expression', async () => {
    expect((await gate({ url: app.url('/text/9f2c'), 'expect-body': '^OK build=[0-9a-f]{4}$', timeout: '2s' })).exitCode).toBe(0);
    const bad = await gate({ url: app.url('/text/zz'), 'expect-body': '^OK build=[0-9a-f]{4}$', timeout: '1s' });
    expect(bad.exitCode).toBe(1);
    expect(bad.errors[0]).toContain('expect-body /^OK build=[0-9a-f]{4}$/ does not match the body');
  });

  it('fails healthy but slow responses on max-latency-ms, and passes fast ones', async () => {
    const slow = await gate({ url: app.url('/slow/400'), 'max-latency-ms': '150', 'success-threshold': '2', timeout: '10s' });
    expect(slow.exitCode).toBe(1);
    expect(slow.errors[0]).toMatch(/is healthy but slow: p95 latency (\d+)ms over 2 passing probe\(s\) exceeds max-latency-ms 150/);
    expect(num(slow, 'p95-ms')).toBeGreaterThanOrEqual(400);
    const quick = await gate({ url: app.url('/health'), 'max-latency-ms': '1000' });
    expect(quick.exitCode).toBe(0);
  });

  it('times out a single probe at request-timeout and says so', async () => {
    const r = await gate({ url: app.url('/slow/3000'), 'request-timeout': '300ms', timeout: '1s' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/last error: timeout: no response within \d+ms; errors seen: timeout ×\d+/);
  });

  it('stable-for catches an app that dies after its first healthy answer', async () => {
    const dying = await startTestApp();
    try {
      const r = await gate({ url: dying.url('/die-after-first'), 'stable-for': '1s', timeout: '10s' });
      expect(r.exitCode).toBe(1);
      expect(r.errors[0]).toMatch(/passed, then failed .* into the stable-for period \(1\.0s\): refused/);
      // Without stable-for the same app would have passed.
    } finally {
      await dying.close();
    }
  });

  it('checks every URL, and fails naming the one that failed', async () => {
    const r = await gate({ url: `${app.url('/health')}\n${app.url('/never')}`, timeout: '1s' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(app.url('/never'));
    expect(r.errors[0]).not.toContain(`${app.url('/health')} did not`);
    expect(r.summary).toMatch(/✅ healthy[\s\S]*❌ unhealthy/);
  });

  it('sends headers; the Authorization value never shows in the log, summary or outputs', async () => {
    const r = await gate({ url: app.url('/auth'), headers: `Authorization: Bearer ${AUTH_TOKEN}\nX-Probe: 1` });
    expect(r.exitCode).toBe(0);
    expect(secretLeaks(r, [AUTH_TOKEN, `Bearer ${AUTH_TOKEN}`])).toEqual([]);
    const denied = await gate({ url: app.url('/auth'), headers: 'Authorization: Bearer wrong-token-value', timeout: '1s' });
    expect(denied.exitCode).toBe(1);
    expect(denied.errors[0]).toContain('status 401');
    expect(secretLeaks(denied, ['wrong-token-value'])).toEqual([]);
  });

  it('a password in the URL is masked', async () => {
    const r = await gate({ url: app.url('/health').replace('http://', 'http://probe:pa55w0rd-xyz@'), timeout: '1s' });
    expect(r.exitCode).toBe(0);
    expect(secretLeaks(r, ['pa55w0rd-xyz'])).toEqual([]);
  });

  it('reports connection refused clearly', async () => {
    const r = await gate({ url: 'http://127.0.0.1:1/health', timeout: '1s' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/last error: refused: connect ECONNREFUSED [^;]*; errors seen: refused ×\d+/);
  });
});

describe('healthcheck input validation: fails before any request, naming the input', () => {
  it.each([
    [{ url: 'not a url' }, "input 'url': 'not a url' is not a URL"],
    [{ url: '/health', interval: 'soon' }, "input 'interval': 'soon' is not a duration"],
    [{ url: '/health', 'expect-status': '99' }, "input 'expect-status': 99 is not an HTTP status code"],
    [{ url: '/health', 'expect-json': 'status healthy' }, "input 'expect-json': 'status healthy' is not path=value"],
    [{ url: '/health', 'expect-body': '([' }, "input 'expect-body': not a valid regular expression"],
    [{ url: '/health', 'via-ssh': 'true' }, "input 'ssh-key': is required to reach the hosts"],
    [{ url: '/health', 'tls-min-days': '14' }, "input 'tls-min-days': is set but no URL is https"],
  ])('%j', async (inputs, message) => {
    const before = app.totalHits();
    const url = inputs.url.startsWith('/') ? app.url(inputs.url) : inputs.url;
    const r = await gate({ ...inputs, url });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toContain(message);
    expect(app.totalHits()).toBe(before);
  });
});

describe('healthcheck over TLS', () => {
  let tlsApp: TestApp;
  beforeAll(async () => {
    tlsApp = await startTestApp({ tls: { days: 3 } });
  });
  afterAll(async () => {
    await tlsApp?.close();
  });

  it('rejects a self-signed certificate unless insecure-tls, and always reports days left', async () => {
    const strict = await gate({ url: tlsApp.url('/health'), timeout: '1s' });
    expect(strict.exitCode).toBe(1);
    expect(strict.errors[0]).toMatch(/tls: .*self[- ]signed/i);
    const lax = await gate({ url: tlsApp.url('/health'), 'insecure-tls': 'true' });
    expect(lax.exitCode).toBe(0);
    expect(lax.warnings.join('\n')).toContain('insecure-tls is true');
    expect(Number(lax.outputs['cert-days-left'])).toBeGreaterThanOrEqual(2);
    expect(Number(lax.outputs['cert-days-left'])).toBeLessThanOrEqual(3);
  });

  it('fails a certificate expiring in 3 days against tls-min-days 14, at once', async () => {
    const r = await gate({ url: tlsApp.url('/health'), 'insecure-tls': 'true', 'tls-min-days': '14', timeout: '30s' });
    expect(r.exitCode).toBe(1);
    expect(r.errors[0]).toMatch(/the TLS certificate expires in [23] day\(s\) \(.*\), fewer than tls-min-days 14; renew it/);
    expect(num(r, 'attempts')).toBe(1);
  });
});

describe('healthcheck over TLS through an SSH tunnel', () => {
  let sb: Sandbox;
  let ca: TestCa;
  let byName: TestApp;
  let byIp: TestApp;
  beforeAll(async () => {
    sb = await startSandbox({ hosts: 1 });
    ca = makeCa();
    byName = await startTestApp({ tls: { days: 30, san: 'DNS:localhost', ca } });
    byIp = await startTestApp({ tls: { days: 30, san: 'IP:127.0.0.1', ca } });
  });
  afterAll(async () => {
    await byName?.close();
    await byIp?.close();
    await sb?.stop();
  });
  const tunneled = (url: string) =>
    runAction('healthcheck', { env: { NODE_EXTRA_CA_CERTS: ca.cert }, inputs: { ...fast, ...sb.sshInputs(), 'via-ssh': 'true', url, timeout: '1s' } }).then((r) => r.main);

  it("verifies the certificate against the URL's host, not the tunnel's local end", async () => {
    // https://127.0.0.1 with a certificate for 'localhost' only: the name does not match.
    const wrong = await tunneled(byName.url('/health'));
    expect(wrong.exitCode).toBe(1);
    expect(wrong.errors[0]).toMatch(/tls: .*(IP: 127\.0\.0\.1 is not in the cert's list|does not match)/i);
    // A certificate for IP 127.0.0.1, from a trusted CA: verified and healthy.
    const right = await tunneled(byIp.url('/health'));
    expect(right.errors).toEqual([]);
    expect(right.exitCode).toBe(0);
  });
});

describe('healthcheck via SSH on isolated hosts', () => {
  let sb: Sandbox;
  let pool: SshPool;
  const serve = async (h: SandboxHost, status: string) => {
    const s = await pool.get(targetOf(h));
    // busybox httpd daemonizes; it listens on the host's own loopback only.
    await s.run([
      'sh',
      '-c',
      'pkill -f "^busybox httpd" || true; mkdir -p ~/www && printf "%s" "$1" > ~/www/health && busybox httpd -p 127.0.0.1:18080 -h ~/www',
      'sh',
      JSON.stringify({ status, host: h.name }),
    ]);
  };
  beforeAll(async () => {
    sb = await startSandbox({ hosts: 2, isolated: true });
    pool = inspector(sb);
  });
  afterAll(async () => {
    await pool?.closeAll();
    await sb?.stop();
  });

  it('gates a service bound to 127.0.0.1 on each host, naming the host that fails', async () => {
    const [a, b] = sb.hosts as [SandboxHost, SandboxHost];
    await serve(a, 'healthy');
    await serve(b, 'healthy');
    const inputs = { ...sb.sshInputs(), 'via-ssh': 'true', url: 'http://127.0.0.1:18080/health', 'expect-json': 'status=healthy', timeout: '5s' };
    const ok = await gate(inputs);
    expect(ok.errors).toEqual([]);
    expect(ok.exitCode).toBe(0);
    expect(ok.summary).toContain(`${a.spec} http://127.0.0.1:18080/health`);
    expect(ok.summary).toContain(`${b.spec} http://127.0.0.1:18080/health`);
    expect(secretLeaks(ok, [sb.keys.ed25519.privateKey])).toEqual([]);
    // The runner itself cannot reach it: it is on each host's own loopback.
    expect((await gate({ url: 'http://127.0.0.1:18080/health', timeout: '500ms' })).exitCode).toBe(1);

    await serve(b, 'degraded');
    const bad = await gate({ ...inputs, timeout: '1s' });
    expect(bad.exitCode).toBe(1);
    expect(bad.errors[0]).toContain(`host ${b.spec}: http://127.0.0.1:18080/health did not become healthy`);
    expect(bad.errors[0]).toContain(`"host":"${b.name}"`);
    expect(bad.errors[0]).not.toContain(`host ${a.spec}:`);
  });
});
