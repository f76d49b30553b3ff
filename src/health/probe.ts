/**
 * One health probe: a single HTTP(S) request with its own timeout, directly or over a
 * stream (an SSH tunnel), classified into the error kinds the gate reports.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { jsonAt, jsonValueMatches, statusMatches, type HealthSpec } from './spec.js';

export type ProbeErrorKind = 'refused' | 'timeout' | 'tls' | 'dns' | 'reset' | 'status' | 'assertion' | 'latency' | 'error';

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  status?: number;
  /** The first bytes of the body. */
  body?: string;
  kind?: ProbeErrorKind;
  error?: string;
  /** Days until the server certificate expires (https). */
  certDaysLeft?: number;
  certValidTo?: string;
}

const BODY_LIMIT = 64 * 1024;
const DAY = 86_400_000;

function classify(e: NodeJS.ErrnoException & { reason?: string }): ProbeErrorKind {
  const code = e.code ?? '';
  if (code === 'ECONNREFUSED' || /Connection refused|Channel open failure/i.test(e.message)) return 'refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/.test(e.message)) return 'reset';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (/CERT|SSL|TLS|self[- ]signed|certificate/i.test(code + ' ' + e.message)) return 'tls';
  return 'error';
}

export interface ProbeTarget {
  url: URL;
  /** Open the TCP stream through a tunnel instead of connecting directly. */
  connect?: (host: string, port: number) => Promise<Duplex>;
}

/** Check a response against the spec; returns an error message or undefined. */
export function assertResponse(spec: Pick<HealthSpec, 'expectStatus' | 'expectJson' | 'expectBody'>, status: number, body: string): { kind: ProbeErrorKind; message: string } | undefined {
  if (!statusMatches(spec.expectStatus, status)) return { kind: 'status', message: `status ${status} is not expected` };
  if (spec.expectJson.length) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      return { kind: 'assertion', message: 'the body is not JSON' };
    }
    for (const x of spec.expectJson) {
      const actual = jsonAt(doc, x.path);
      if (!jsonValueMatches(actual, x.expected)) {
        return { kind: 'assertion', message: `expect-json '${x.raw}': the body has ${actual === undefined ? 'no such field' : JSON.stringify(actual)}` };
      }
    }
  }
  // A trailing newline does not defeat a pattern anchored with `$`.
  if (spec.expectBody && !spec.expectBody.test(body) && !spec.expectBody.test(body.replace(/\r?\n$/, '')))
    return { kind: 'assertion', message: `expect-body /${spec.expectBody.source}/ does not match the body` };
  return undefined;
}

export async function probe(t: ProbeTarget, spec: HealthSpec, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  const u = t.url;
  const isHttps = u.protocol === 'https:';
  const port = Number(u.port || (isHttps ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const headers: Record<string, string> = { 'user-agent': 'ops-actions-healthcheck', accept: '*/*', connection: 'close' };
  for (const h of spec.headers) headers[h.name] = h.value;
  if (u.username || u.password) headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  const sni = (headers.Host ?? headers.host ?? host).replace(/:\d+$/, '');
  const servername = net.isIP(sni) ? undefined : sni;

  let tunnel: Duplex | undefined;
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const done = (r: Omit<ProbeResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      tunnel?.destroy();
      resolve({ ...r, latencyMs: elapsed() });
    };
    const timer = setTimeout(() => done({ ok: false, kind: 'timeout', error: `no response within ${timeoutMs}ms` }), timeoutMs);
    let req: http.ClientRequest | undefined;
    const start = (sock?: Duplex) => {
      const mod = isHttps ? https : http;
      const opts: https.RequestOptions = {
        method: 'GET',
        host,
        port,
        path: `${u.pathname}${u.search}`,
        headers,
        // A fresh connection per probe. With a tunnel there must be no agent at all: an
        // agent would ignore createConnection and connect locally.
        agent: sock ? undefined : false,
        rejectUnauthorized: !spec.insecureTls,
        servername,
      };
      if (sock) {
        opts.createConnection = () =>
          (isHttps
            ? // The certificate is checked against the URL's host (not the tunnel's local end).
              tls.connect({ socket: sock as never, host: sni, servername: opts.servername, rejectUnauthorized: !spec.insecureTls })
            : sock) as never;
      }
      req = mod.request(opts, (res) => {
        let cert: { daysLeft?: number; validTo?: string } = {};
        const sockAny = res.socket as tls.TLSSocket;
        if (isHttps && typeof sockAny.getPeerCertificate === 'function') {
          const c = sockAny.getPeerCertificate();
          if (c?.valid_to) cert = { validTo: new Date(c.valid_to).toISOString(), daysLeft: Math.floor((Date.parse(c.valid_to) - Date.now()) / DAY) };
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          if (size < BODY_LIMIT) chunks.push(d);
          size += d.length;
        });
        res.on('error', (e) => done({ ok: false, kind: classify(e), error: e.message, status: res.statusCode }));
        res.on('end', () => {
          const body = Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8');
          const status = res.statusCode ?? 0;
          const failed = assertResponse(spec, status, body);
          done({ ok: !failed, status, body, kind: failed?.kind, error: failed?.message, certDaysLeft: cert.daysLeft, certValidTo: cert.validTo });
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, kind: classify(e), error: e.message }));
      req.end();
    };
    if (t.connect) {
      t.connect(host, port).then(
        (s) => {
          tunnel = s;
          if (settled) return s.destroy();
          start(s);
        },
        (e: NodeJS.ErrnoException) => done({ ok: false, kind: classify(e), error: `through the SSH tunnel: ${e.message}` }),
      );
    } else start();
  });
}
