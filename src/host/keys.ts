import ssh2 from 'ssh2';

const { utils } = ssh2;
import { ParseError } from '../text.js';
import { fingerprint } from './hostkeys.js';

export interface PrivateKey {
  /** The key text as ssh2 reads it. */
  text: string;
  passphrase?: string;
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ... */
  type: string;
  /** SHA256 fingerprint of the public half. */
  fingerprint: string;
  /** The public key as an authorized_keys line. */
  publicLine: string;
}

/**
 * Normalize what people paste into a secret: CRLF line ends, surrounding blank lines, a
 * missing final newline, or `\n` typed literally in a one-line secret.
 */
export function normalizeKeyText(raw: string): string {
  let t = raw.replace(/\r\n?/g, '\n').trim();
  if (!t.includes('\n') && t.includes('\\n')) t = t.replace(/\\n/g, '\n');
  return t + '\n';
}

/** Read a private key (OpenSSH or PEM; ed25519, ecdsa, rsa), failing with a clear message. */
export function parsePrivateKey(raw: string, passphrase?: string): PrivateKey {
  const text = normalizeKeyText(raw);
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    if (/^(ssh-|ecdsa-)/.test(text)) throw new ParseError('holds a public key; give the private key (the file without .pub)');
    throw new ParseError('is not a private key; expected a block starting with -----BEGIN ... PRIVATE KEY-----');
  }
  const parsed = utils.parseKey(text, passphrase || undefined);
  if (parsed instanceof Error) {
    const m = parsed.message;
    if (/encrypted/i.test(m) && !passphrase) {
      throw new ParseError("is encrypted with a passphrase; set the 'ssh-key-passphrase' input");
    }
    if (/bad passphrase|decrypt|integrity/i.test(m)) {
      throw new ParseError("could not be decrypted: 'ssh-key-passphrase' is wrong for this key");
    }
    throw new ParseError(`could not be read (${m})`);
  }
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  if (!key.isPrivateKey()) throw new ParseError('is not a private key');
  const pub = key.getPublicSSH();
  return {
    text,
    passphrase: passphrase || undefined,
    type: key.type,
    fingerprint: fingerprint(pub),
    publicLine: `${key.type} ${pub.toString('base64')}`,
  };
}
