import { f } from './schema.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME_HINT = 'use letters, digits, dot, dash or underscore (at most 63), starting with a letter or digit';

/** `app` and `environment`: they name the app directory on the hosts, so they are strict. */
export const appSchema = {
  app: f.string({ required: true, pattern: NAME, hint: NAME_HINT }),
  environment: f.string({ default: 'production', pattern: NAME, hint: NAME_HINT }),
};

/** An image reference: lowercase repository path, optional registry host:port, tag or digest. */
export const IMAGE_REF =
  /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/**
 * An image reference with its repository (registry host and path) in lowercase, as
 * registries require; the tag and digest are kept as given (tags are case-sensitive).
 * `ghcr.io/${{ github.repository }}` has the owner's capitals.
 */
export function lowercaseRepository(ref: string): string {
  const at = ref.indexOf('@');
  const name = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? '' : ref.slice(at);
  const colon = name.lastIndexOf(':');
  const tagAt = colon > name.lastIndexOf('/') ? colon : -1;
  return tagAt < 0 ? name.toLowerCase() + digest : name.slice(0, tagAt).toLowerCase() + name.slice(tagAt) + digest;
}

/**
 * The values in an env file that are masked: every value of 3 characters or more, except
 * the ones that cannot be secrets and would blank out every log line that has them
 * (true/false/yes/no/on/off/null and whole numbers of up to 5 digits: ports, counts).
 */
export function envFileSecrets(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const raw = m[1]!;
    // Quoted: the value inside the quotes; unquoted: also without an inline ` # comment`
    // (compose strips it), so both forms are masked.
    const quoted = /^(['"])(.*)\1$/.exec(raw);
    const values = quoted ? [quoted[2]!] : [raw, raw.replace(/\s+#.*$/, '')];
    for (const value of new Set(values)) {
      if (value.length < 3) continue;
      if (/^(true|false|yes|no|on|off|null|none)$/i.test(value) || /^\d{1,5}$/.test(value)) continue;
      out.push(value);
    }
  }
  return out;
}
