import { createHash, createHmac } from 'node:crypto';
import { ParseError } from '../text.js';

/** The type name inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** OpenSSH's `SHA256:...` fingerprint of a public key blob. */
export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The `host:port` name known_hosts uses: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** A known_hosts line that would pin this key. */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyType(blob)} ${blob.toString('base64')}`;
}

interface KnownHostsEntry {
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string[];
  type: string;
  key: Buffer;
}

function globToRegExp(p: string): RegExp {
  // Only `*` and `?` are special in known_hosts patterns; everything else is literal.
  const esc = p
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${esc}$`, 'i');
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return h === hash;
}

function patternListMatches(patterns: string[], name: string): boolean {
  let matched = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const p = neg ? raw.slice(1) : raw;
    const hit = p.startsWith('|') ? hashedMatches(p, name) : globToRegExp(p).test(name);
    if (hit && neg) return false;
    if (hit) matched = true;
  }
  return matched;
}

export class KnownHosts {
  private constructor(private readonly entries: KnownHostsEntry[]) {}

  static parse(text: string): KnownHosts {
    const entries: KnownHostsEntry[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const l = line.trim();
      if (!l || l.startsWith('#')) return;
      const parts = l.split(/\s+/);
      let marker: KnownHostsEntry['marker'] = '';
      if (parts[0] === '@revoked' || parts[0] === '@cert-authority') marker = parts.shift() as KnownHostsEntry['marker'];
      const [hosts, type, b64] = parts;
      if (!hosts || !type || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) {
        throw new ParseError(`line ${i + 1} is not a known_hosts line ('[host]:port key-type base64-key'); ssh-keyscan -p PORT HOST prints such lines`);
      }
      const key = Buffer.from(b64, 'base64');
      if (keyType(key) !== type) throw new ParseError(`line ${i + 1}: the key does not match its type '${type}'`);
      entries.push({ marker, patterns: hosts.split(','), type, key });
    });
    if (entries.length === 0) throw new ParseError('contains no known_hosts line');
    return new KnownHosts(entries);
  }

  private matching(host: string, port: number): KnownHostsEntry[] {
    const names = [knownHostsName(host, port)];
    return this.entries.filter((e) => names.some((n) => patternListMatches(e.patterns, n)));
  }

  /** The key types known for a host, to offer those host-key algorithms first. */
  typesFor(host: string, port: number): string[] {
    return [
      ...new Set(
        this.matching(host, port)
          .filter((e) => e.marker === '')
          .map((e) => e.type),
      ),
    ];
  }

  check(host: string, port: number, blob: Buffer): 'ok' | 'revoked' | 'mismatch' | 'unknown' {
    const all = this.matching(host, port);
    if (all.some((e) => e.marker === '@revoked' && e.key.equals(blob))) return 'revoked';
    const plain = all.filter((e) => e.marker === '');
    if (plain.length === 0) return 'unknown';
    return plain.some((e) => e.key.equals(blob)) ? 'ok' : 'mismatch';
  }

  expectedFor(host: string, port: number): string[] {
    return this.matching(host, port)
      .filter((e) => e.marker === '')
      .map((e) => `${e.type} ${fingerprint(e.key)}`);
  }
}

const FP = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** `host-fingerprints`: one `SHA256:...` for every host, or `host=SHA256:...` lines. */
export class Fingerprints {
  private constructor(
    private readonly all: string[],
    private readonly byHost: Map<string, string[]>,
  ) {}

  static parse(text: string): Fingerprints {
    const all: string[] = [];
    const byHost = new Map<string, string[]>();
    for (const raw of text
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter((s) => s && !s.startsWith('#'))) {
      const hasHost = !raw.startsWith('SHA256:') && raw.includes('=');
      const host = hasHost ? raw.slice(0, raw.indexOf('=')).trim() : '';
      const fp = (hasHost ? raw.slice(raw.indexOf('=') + 1) : raw).trim();
      if (!FP.test(fp)) {
        throw new ParseError(`'${raw}' is not a SHA256 fingerprint; use SHA256:... as printed by ssh-keygen -lf or ssh-keyscan HOST | ssh-keygen -lf -`);
      }
      const norm = fp.replace(/=$/, '');
      if (hasHost) byHost.set(host, [...(byHost.get(host) ?? []), norm]);
      else all.push(norm);
    }
    return new Fingerprints(all, byHost);
  }

  private expected(names: string[]): string[] {
    for (const n of names) {
      const v = this.byHost.get(n);
      if (v) return v;
    }
    return this.all;
  }

  check(names: string[], blob: Buffer): 'ok' | 'mismatch' | 'unknown' {
    const exp = this.expected(names);
    if (exp.length === 0) return 'unknown';
    return exp.includes(fingerprint(blob)) ? 'ok' : 'mismatch';
  }

  expectedFor(names: string[]): string[] {
    return this.expected(names);
  }
}

export type HostKeyPolicy = { mode: 'known-hosts'; knownHosts: KnownHosts } | { mode: 'fingerprints'; fingerprints: Fingerprints } | { mode: 'insecure' } | { mode: 'none' };

export type Verdict = 'ok' | 'revoked' | 'mismatch' | 'unknown' | 'unconfigured';

/** Names a host may be pinned under in `host-fingerprints`. */
export function pinNames(name: string, host: string, port: number): string[] {
  return [name, knownHostsName(host, port), `${host}:${port}`, host];
}

export function verify(policy: HostKeyPolicy, name: string, host: string, port: number, blob: Buffer): Verdict {
  switch (policy.mode) {
    case 'insecure':
      return 'ok';
    case 'none':
      return 'unconfigured';
    case 'known-hosts':
      return policy.knownHosts.check(host, port, blob);
    case 'fingerprints':
      return policy.fingerprints.check(pinNames(name, host, port), blob);
  }
}

export function expectedKeys(policy: HostKeyPolicy, name: string, host: string, port: number): string[] {
  if (policy.mode === 'known-hosts') return policy.knownHosts.expectedFor(host, port);
  if (policy.mode === 'fingerprints') return policy.fingerprints.expectedFor(pinNames(name, host, port));
  return [];
}

const ALGOS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** Host-key algorithms to offer, the ones of keys we know first; undefined: ssh2's default. */
export function hostKeyAlgorithms(types: string[]): string[] | undefined {
  const algos = types.flatMap((t) => ALGOS[t] ?? []);
  return algos.length ? algos : undefined;
}

/** The host-key algorithm families, to try each when a fingerprint pin names another type. */
export const HOST_KEY_FAMILIES: string[][] = [ALGOS['ssh-ed25519']!, ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'], ALGOS['ssh-rsa']!];
