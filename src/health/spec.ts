/**
 * What "healthy" means, parsed from inputs: expected status codes, JSON field assertions,
 * a body pattern, headers, timing and thresholds. The same fields serve the healthcheck
 * action (`url`, `expect-json`, ...) and the actions that gate on health (`health-url`,
 * `health-expect-json`, ...).
 */
import { f, type Parsed, type Problem } from '../inputs/schema.js';
import { ParseError } from '../text.js';

/** Status ranges, inclusive. */
export type StatusSet = [number, number][];

export function parseStatusSet(raw: string): StatusSet {
  const out: StatusSet = [];
  for (const part of raw.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new ParseError(`'${part}' is not a status code or range; use e.g. 200, 200-299 or 200,204`);
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    for (const c of [lo, hi]) if (c < 100 || c > 599) throw new ParseError(`${c} is not an HTTP status code (100-599)`);
    if (hi < lo) throw new ParseError(`'${part}': the range is backwards`);
    out.push([lo, hi]);
  }
  if (out.length === 0) throw new ParseError('names no status code');
  return out;
}

export function statusMatches(set: StatusSet, code: number): boolean {
  return set.some(([lo, hi]) => code >= lo && code <= hi);
}

export function formatStatusSet(set: StatusSet): string {
  return set.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',');
}

export interface JsonExpectation {
  path: (string | number)[];
  /** The text as written, for messages. */
  raw: string;
  expected: string;
}

/** `checks.database=ok`, `items[0].name=web`, `version=1.4.2`, `"odd.key".x=1`. */
export function parseJsonPath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^.[\]"]+)|\[(\d+)\])\s*(\.|(?=\[)|$)/y;
  let i = 0;
  while (i < p.length) {
    re.lastIndex = i;
    const m = re.exec(p);
    if (!m || m[0] === '') throw new ParseError(`'${p}' is not a JSON path; use dotted keys and [index], e.g. checks.database or items[0].status`);
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, '$1'));
    else if (m[2] !== undefined) out.push(m[2].trim());
    else out.push(Number(m[3]));
    i = re.lastIndex;
  }
  if (out.length === 0) throw new ParseError('an empty JSON path');
  return out;
}

export function parseJsonExpectations(raw: string): JsonExpectation[] {
  const out: JsonExpectation[] = [];
  for (const line of raw
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ParseError(`'${line}' is not path=value (e.g. status=healthy or checks.database=ok)`);
    out.push({ path: parseJsonPath(line.slice(0, eq).trim()), raw: line, expected: line.slice(eq + 1).trim() });
  }
  return out;
}

/** The value at a path, or undefined. */
export function jsonAt(doc: unknown, path: (string | number)[]): unknown {
  let cur: unknown = doc;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** Compare as text: `true`, `42`, `ok` and `null` match JSON true, 42, "ok" and null. */
export function jsonValueMatches(actual: unknown, expected: string): boolean {
  if (actual === undefined) return false;
  if (typeof actual === 'string') return actual === expected;
  return JSON.stringify(actual) === expected;
}

export interface Header {
  name: string;
  value: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function parseHeaders(raw: string): Header[] {
  const out: Header[] = [];
  for (const line of raw
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim())) {
    const c = line.indexOf(':');
    const name = c > 0 ? line.slice(0, c).trim() : '';
    if (!name || !TOKEN.test(name)) throw new ParseError(`a line is not 'Name: value' (the header name must be a token, e.g. Authorization: Bearer ...)`);
    out.push({ name, value: line.slice(c + 1).trim() });
  }
  return out;
}

/**
 * `{host}` in a health URL's host stands for each host's address (a gate per host, from the
 * runner): parsed with this stand-in, replaced by `urlFor` before each host's gate.
 */
export const HOST_PLACEHOLDER = 'ops-actions-host.invalid';

export function hasHostPlaceholder(u: URL): boolean {
  return u.hostname === HOST_PLACEHOLDER;
}

/** The URL for one host: `{host}` replaced by its address (IPv6 in brackets). */
export function urlFor(u: URL, address: string): URL {
  if (!hasHostPlaceholder(u)) return u;
  const v = new URL(u.href);
  v.hostname = address.includes(':') ? `[${address}]` : address;
  if (hasHostPlaceholder(v)) throw new Error(`cannot put host address '${address}' into health URL ${redactUrl(u).replace(HOST_PLACEHOLDER, '{host}')}`);
  return v;
}

export function parseUrls(raw: string): URL[] {
  const lines = raw
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) throw new ParseError('names no URL');
  return lines.map((l) => {
    let u: URL;
    try {
      // {host} stands only for the URL's host, never in its path or query.
      u = new URL(l.replace(/^([a-z]+:\/\/(?:[^@/]*@)?)\{host\}/i, `$1${HOST_PLACEHOLDER}`));
    } catch {
      throw new ParseError(`'${redactUrl(l)}' is not a URL; write it in full, e.g. http://127.0.0.1:8080/health`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ParseError(`'${redactUrl(l)}': only http and https URLs can be checked`);
    return u;
  });
}

/** A URL for display: the password part of user info replaced. */
export function redactUrl(u: string | URL): string {
  const s = String(u);
  return s.replace(/\/\/([^/@:\s]*):[^/@\s]*@/, '//$1:***@');
}

export interface HealthSpec {
  urls: URL[];
  viaSsh: boolean;
  expectStatus: StatusSet;
  expectJson: JsonExpectation[];
  expectBody?: RegExp;
  headers: Header[];
  intervalMs: number;
  requestTimeoutMs: number;
  timeoutMs: number;
  successThreshold: number;
  stableForMs: number;
  maxLatencyMs?: number;
  tlsMinDays?: number;
  insecureTls: boolean;
}

/**
 * The health inputs under a prefix ('' for healthcheck, 'health-' for deploy and others).
 * `url` is required for healthcheck and optional (no gate) elsewhere.
 */
export function healthSchema<P extends string>(prefix: P, o: { urlRequired: boolean; viaSshDefault: boolean }) {
  const fields = {
    url: o.urlRequired ? f.custom(parseUrls, { required: true }) : f.custom<URL[]>(parseUrls, { default: [] }),
    'via-ssh': f.bool({ default: o.viaSshDefault }),
    'expect-status': f.custom(parseStatusSet, { default: [[200, 299]] as StatusSet }),
    'expect-json': f.custom(parseJsonExpectations, { default: [] }),
    'expect-body': f.custom<RegExp | undefined>((raw) => {
      try {
        return new RegExp(raw.trim());
      } catch (e) {
        throw new ParseError(`not a valid regular expression: ${(e as Error).message}`);
      }
    }, {}),
    headers: f.custom(parseHeaders, { default: [], secret: true }),
    interval: f.duration({ default: 2000, min: 100 }),
    'request-timeout': f.duration({ default: 5000, min: 100 }),
    timeout: f.duration({ default: 120_000, min: 100 }),
    'success-threshold': f.int(1, 100, { default: 1 }),
    'stable-for': f.duration({ default: 0 }),
    'max-latency-ms': f.optionalInt(1, 3_600_000),
    'tls-min-days': f.optionalInt(0, 3650),
    'insecure-tls': f.bool({ default: false }),
  };
  const out: Record<string, (typeof fields)[keyof typeof fields]> = {};
  for (const [k, v] of Object.entries(fields)) out[`${prefix}${k}`] = v;
  return out as { [K in keyof typeof fields as `${P}${K}`]: (typeof fields)[K] };
}

type Fields = ReturnType<typeof healthSchema<''>>;

/** Turn parsed health inputs (under `prefix`) into a spec; cross-checks go to `problems`. */
export function healthSpec(values: Record<string, unknown>, prefix: string, problems: Problem[] = []): HealthSpec {
  const v = <K extends keyof Parsed<Fields>>(k: K) => values[`${prefix}${k}`] as Parsed<Fields>[K];
  const spec: HealthSpec = {
    urls: v('url'),
    viaSsh: v('via-ssh'),
    expectStatus: v('expect-status'),
    expectJson: v('expect-json'),
    expectBody: v('expect-body'),
    headers: v('headers'),
    intervalMs: v('interval'),
    requestTimeoutMs: v('request-timeout'),
    timeoutMs: v('timeout'),
    successThreshold: v('success-threshold'),
    stableForMs: v('stable-for'),
    maxLatencyMs: v('max-latency-ms'),
    tlsMinDays: v('tls-min-days'),
    insecureTls: v('insecure-tls'),
  };
  if (spec.tlsMinDays !== undefined && spec.urls?.length && !spec.urls.some((u) => u.protocol === 'https:')) {
    problems.push({ input: `${prefix}tls-min-days`, message: 'is set but no URL is https' });
  }
  return spec;
}

/** The warning to print when certificates are not verified. */
export function insecureTlsWarning(spec: Pick<HealthSpec, 'insecureTls' | 'urls'>, prefix: string): string | undefined {
  if (!spec.insecureTls || !spec.urls?.some((u) => u.protocol === 'https:')) return undefined;
  return `${prefix}insecure-tls is true: TLS certificates of ${spec.urls
    .filter((u) => u.protocol === 'https:')
    .map((u) => redactUrl(u))
    .join(', ')} are NOT verified, so anyone in between can answer for the service; pin a CA instead (NODE_EXTRA_CA_CERTS)`;
}

/** Register the secret parts of a spec: header values and passwords in URLs. */
export function maskHealthSecrets(spec: Partial<HealthSpec>, mask: (v: string) => void): void {
  for (const h of spec.headers ?? []) if (h.value) mask(h.value);
  for (const u of spec.urls ?? []) if (u.password) mask(decodeURIComponent(u.password));
}
