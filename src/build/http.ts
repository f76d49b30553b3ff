/**
 * A small HTTP(S) GET for registry calls that honours the proxy variables the way curl and
 * Docker do (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, upper or lower case; HTTPS through a
 * CONNECT tunnel) and can skip certificate checks for registries the engine itself treats
 * as insecure.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface HttpOptions {
  headers?: Record<string, string>;
  /** Accept any certificate (only for registries the engine trusts as insecure). */
  insecureTls?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const envVar = (env: NodeJS.ProcessEnv, name: string) => env[name] ?? env[name.toLowerCase()] ?? '';

/** Whether NO_PROXY exempts `host:port` (entries: `*`, `host`, `.domain`, `domain`, `host:port`, IPs, CIDR-free). */
export function bypassesProxy(host: string, port: number, noProxy: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of noProxy
    .split(/[,\s]+/)
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    if (raw === '*') return true;
    const m = /^(.*?)(?::(\d+))?$/.exec(raw.replace(/^\[|\]$/g, ''))!;
    const name = m[1]!.replace(/^\*?\./, '.');
    if (m[2] && Number(m[2]) !== port) continue;
    if (name.startsWith('.') ? h.endsWith(name) || h === name.slice(1) : h === name || h.endsWith(`.${name}`)) return true;
  }
  return false;
}

/** The proxy URL for a request URL, or undefined. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (bypassesProxy(url.hostname, port, envVar(env, 'NO_PROXY'))) return undefined;
  const p = url.protocol === 'https:' ? envVar(env, 'HTTPS_PROXY') || envVar(env, 'ALL_PROXY') : envVar(env, 'HTTP_PROXY') || envVar(env, 'ALL_PROXY');
  if (!p) return undefined;
  try {
    return new URL(p.includes('://') ? p : `http://${p}`);
  } catch {
    return undefined;
  }
}

function proxyAuth(p: URL): Record<string, string> {
  return p.username ? { 'proxy-authorization': `Basic ${Buffer.from(`${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`).toString('base64')}` } : {};
}

/** A CONNECT tunnel through an HTTP proxy to host:port. */
function tunnel(p: URL, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const req = (p.protocol === 'https:' ? https : http).request({
      host: p.hostname,
      port: Number(p.port || (p.protocol === 'https:' ? 443 : 80)),
      method: 'CONNECT',
      path: `${host}:${port}`,
      headers: { host: `${host}:${port}`, ...proxyAuth(p) },
      timeout: timeoutMs,
    });
    req.on('connect', (res, socket) => {
      if (res.statusCode === 200) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`the proxy ${p.host} refused the tunnel to ${host}:${port}: HTTP ${res.statusCode}`));
      }
    });
    req.on('timeout', () => req.destroy(new Error(`the proxy ${p.host} did not answer within ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function httpGet(raw: string | URL, o: HttpOptions = {}): Promise<HttpResponse> {
  const url = new URL(String(raw));
  const isHttps = url.protocol === 'https:';
  const port = Number(url.port || (isHttps ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const timeoutMs = o.timeoutMs ?? 30_000;
  const proxy = proxyFor(url, o.env ?? process.env);
  const headers = { ...(o.headers ?? {}), host: url.host };
  let opts: https.RequestOptions;
  if (proxy && isHttps) {
    const sock = await tunnel(proxy, host, port, timeoutMs);
    opts = {
      host,
      port,
      path: `${url.pathname}${url.search}`,
      headers,
      createConnection: () => tls.connect({ socket: sock, servername: net.isIP(host) ? undefined : host, host, rejectUnauthorized: !o.insecureTls }) as never,
      agent: undefined,
    };
  } else if (proxy) {
    // A plain request through the proxy (TLS to the proxy itself for an https:// proxy).
    const viaTls = proxy.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (viaTls ? https : http).request(
        { host: proxy.hostname, port: Number(proxy.port || (viaTls ? 443 : 80)), path: url.href, headers: { ...headers, ...proxyAuth(proxy) }, agent: false, method: 'GET', timeout: timeoutMs },
        (res) => collect(res, resolve, reject),
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from the proxy ${proxy.host} within ${timeoutMs}ms`)));
      req.on('error', reject);
      req.end();
    });
  } else {
    opts = { host, port, path: `${url.pathname}${url.search}`, headers, agent: false, rejectUnauthorized: !o.insecureTls, servername: net.isIP(host) ? undefined : host };
  }
  return new Promise((resolve, reject) => {
    const req = (isHttps ? https : http).request({ ...opts, method: 'GET', timeout: timeoutMs }, (res) => collect(res, resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

function collect(res: http.IncomingMessage, resolve: (r: HttpResponse) => void, reject: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (d: Buffer) => chunks.push(d));
  res.on('error', reject);
  res.on('end', () => {
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
    resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
  });
}
