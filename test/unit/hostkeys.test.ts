import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fingerprints, KnownHosts, fingerprint, hostKeyAlgorithms, keyType, knownHostsLine, verify } from '../../src/host/hostkeys.js';

// Real keys from ssh-keygen; fingerprints checked against ssh-keygen's own output.
let dir: string;
const keys: Record<string, { blob: Buffer; line: string; fp: string }> = {};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hk-'));
  for (const t of ['ed25519', 'ecdsa', 'rsa', 'other']) {
    const f = path.join(dir, t);
    execFileSync('ssh-keygen', ['-q', '-t', t === 'other' ? 'ed25519' : t, '-N', '', '-f', f]);
    const line = readFileSync(`${f}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const fp = execFileSync('ssh-keygen', ['-lf', `${f}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    keys[t] = { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line, fp };
  }
});

describe('fingerprints and types', () => {
  it('match ssh-keygen', () => {
    for (const k of Object.values(keys)) expect(fingerprint(k.blob)).toBe(k.fp);
    expect(keyType(keys.rsa!.blob)).toBe('ssh-rsa');
    expect(keyType(keys.ecdsa!.blob)).toBe('ecdsa-sha2-nistp256');
  });
});

describe('KnownHosts', () => {
  it('matches plain names, [host]:port, wildcards and negation', () => {
    const kh = KnownHosts.parse([`web1,10.0.0.1 ${keys.ed25519!.line}`, `[web2]:2222 ${keys.rsa!.line}`, `*.example.com,!bad.example.com ${keys.ecdsa!.line}`].join('\n'));
    expect(kh.check('web1', 22, keys.ed25519!.blob)).toBe('ok');
    expect(kh.check('10.0.0.1', 22, keys.ed25519!.blob)).toBe('ok');
    expect(kh.check('web1', 22, keys.other!.blob)).toBe('mismatch');
    expect(kh.check('web1', 2222, keys.ed25519!.blob)).toBe('unknown');
    expect(kh.check('web2', 2222, keys.rsa!.blob)).toBe('ok');
    expect(kh.check('web2', 22, keys.rsa!.blob)).toBe('unknown');
    expect(kh.check('a.example.com', 22, keys.ecdsa!.blob)).toBe('ok');
    expect(kh.check('bad.example.com', 22, keys.ecdsa!.blob)).toBe('unknown');
    expect(kh.typesFor('web2', 2222)).toEqual(['ssh-rsa']);
    expect(hostKeyAlgorithms(kh.typesFor('web2', 2222))).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('matches entries hashed by ssh-keygen -H', () => {
    const f = path.join(dir, 'known_hosts');
    writeFileSync(f, `web1 ${keys.ed25519!.line}\n[10.1.2.3]:2200 ${keys.rsa!.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
    const hashed = readFileSync(f, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    expect(hashed).not.toContain('web1');
    const kh = KnownHosts.parse(hashed);
    expect(kh.check('web1', 22, keys.ed25519!.blob)).toBe('ok');
    expect(kh.check('10.1.2.3', 2200, keys.rsa!.blob)).toBe('ok');
    expect(kh.check('web2', 22, keys.ed25519!.blob)).toBe('unknown');
  });

  it('refuses @revoked keys and ignores @cert-authority lines for plain keys', () => {
    const kh = KnownHosts.parse(`@revoked * ${keys.other!.line}\n@cert-authority *.x ${keys.rsa!.line}\nweb1 ${keys.ed25519!.line}`);
    expect(kh.check('web1', 22, keys.other!.blob)).toBe('revoked');
    expect(kh.check('a.x', 22, keys.rsa!.blob)).toBe('unknown');
  });

  it('writes lines it can read back', () => {
    const line = knownHostsLine('127.0.0.5', 2222, keys.ed25519!.blob);
    expect(line.startsWith('[127.0.0.5]:2222 ssh-ed25519 ')).toBe(true);
    expect(KnownHosts.parse(line).check('127.0.0.5', 2222, keys.ed25519!.blob)).toBe('ok');
  });

  it('rejects text that is not known_hosts', () => {
    expect(() => KnownHosts.parse('')).toThrow(/no known_hosts line/);
    expect(() => KnownHosts.parse('SHA256:abc')).toThrow(/line 1 is not a known_hosts line/);
    expect(() => KnownHosts.parse(`web1 ssh-rsa ${keys.ed25519!.line.split(' ')[1]}`)).toThrow(/does not match its type/);
  });
});

describe('Fingerprints', () => {
  it('pins one fingerprint for all hosts or per host', () => {
    const all = Fingerprints.parse(keys.ed25519!.fp);
    expect(verify({ mode: 'fingerprints', fingerprints: all }, 'h', 'h', 22, keys.ed25519!.blob)).toBe('ok');
    expect(verify({ mode: 'fingerprints', fingerprints: all }, 'h', 'h', 22, keys.other!.blob)).toBe('mismatch');
    const per = Fingerprints.parse(`web1=${keys.ed25519!.fp}\n[web2]:2222=${keys.rsa!.fp}`);
    expect(per.check(['web1'], keys.ed25519!.blob)).toBe('ok');
    expect(per.check(['x', '[web2]:2222'], keys.rsa!.blob)).toBe('ok');
    expect(per.check(['web3'], keys.rsa!.blob)).toBe('unknown');
  });

  it('explains the expected format', () => {
    expect(() => Fingerprints.parse('MD5:aa:bb')).toThrow(/not a SHA256 fingerprint; use SHA256:/);
  });

  it('policies without pins say so', () => {
    expect(verify({ mode: 'none' }, 'h', 'h', 22, keys.ed25519!.blob)).toBe('unconfigured');
    expect(verify({ mode: 'insecure' }, 'h', 'h', 22, keys.ed25519!.blob)).toBe('ok');
  });
});
