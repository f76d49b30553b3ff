import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeKeyText, parsePrivateKey } from '../../src/host/keys.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'keys-'));
function gen(name: string, args: string[]): { priv: string; pub: string; fp: string } {
  const f = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-f', f]);
  return {
    priv: readFileSync(f, 'utf8'),
    pub: readFileSync(`${f}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' '),
    fp: execFileSync('ssh-keygen', ['-lf', `${f}.pub`], { encoding: 'utf8' }).split(' ')[1]!,
  };
}

describe('parsePrivateKey', () => {
  it.each([
    ['ed25519', ['-t', 'ed25519', '-N', ''], 'ssh-ed25519'],
    ['ecdsa', ['-t', 'ecdsa', '-N', ''], 'ecdsa-sha2-nistp256'],
    ['rsa', ['-t', 'rsa', '-b', '2048', '-N', ''], 'ssh-rsa'],
    ['rsa-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', ''], 'ssh-rsa'],
  ])('reads %s keys with their public half and fingerprint', (name, args, type) => {
    const k = gen(name, args);
    const p = parsePrivateKey(k.priv);
    expect(p.type).toBe(type);
    expect(p.publicLine).toBe(k.pub);
    expect(p.fingerprint).toBe(k.fp);
  });

  it('handles passphrases and says which input is wrong', () => {
    const k = gen('enc', ['-t', 'ed25519', '-N', 'correct horse']);
    expect(parsePrivateKey(k.priv, 'correct horse').publicLine).toBe(k.pub);
    expect(() => parsePrivateKey(k.priv)).toThrow(/encrypted with a passphrase; set the 'ssh-key-passphrase' input/);
    expect(() => parsePrivateKey(k.priv, 'wrong')).toThrow(/'ssh-key-passphrase' is wrong/);
  });

  it('explains public keys and garbage', () => {
    const k = gen('pub', ['-t', 'ed25519', '-N', '']);
    expect(() => parsePrivateKey(k.pub)).toThrow(/holds a public key/);
    expect(() => parsePrivateKey('hello')).toThrow(/not a private key/);
  });

  it('accepts keys pasted with CRLF, blank lines or literal \\n', () => {
    const k = gen('paste', ['-t', 'ed25519', '-N', '']);
    expect(parsePrivateKey(`\n\n${k.priv.replace(/\n/g, '\r\n')}  \n`).publicLine).toBe(k.pub);
    expect(parsePrivateKey(k.priv.trim().replace(/\n/g, '\\n')).publicLine).toBe(k.pub);
    expect(normalizeKeyText('a\r\nb')).toBe('a\nb\n');
  });
});
