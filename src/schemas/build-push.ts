import { f } from '../inputs/schema.js';
import { ParseError } from '../text.js';
import { parseTagSpecs } from '../build/tags.js';

/** A repository name without tag or digest: lowercase path, optional registry host:port. */
// Capitals are accepted (ghcr.io/${{ github.repository }} has the owner's) and lowercased by the action.
const IMAGE_NAME = /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/i;

function keyValues(what: string) {
  return (raw: string) => {
    const out: Record<string, string> = {};
    for (const line of raw.split('\n').filter((l) => l.trim())) {
      const eq = line.indexOf('=');
      const k = eq > 0 ? line.slice(0, eq).trim() : '';
      if (!k || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k)) throw new ParseError(`a line is not ${what}=value`);
      out[k] = line.slice(eq + 1);
    }
    return out;
  };
}

/** The inputs of the build-push action (see action.yml). */
export const schema = {
  image: f.string({ required: true, pattern: IMAGE_NAME, hint: 'use a repository name without tag, e.g. ghcr.io/acme/shop' }),
  context: f.string({ default: '.' }),
  file: f.optionalString(),
  tags: f.custom(parseTagSpecs, { default: ['sha', 'ref', 'semver', 'latest'] }),
  'build-args': f.custom(keyValues('KEY'), { default: {} as Record<string, string>, secret: true }),
  labels: f.custom(keyValues('label'), { default: {} as Record<string, string> }),
  target: f.optionalString(),
  push: f.bool({ default: true }),
  registry: f.optionalString(),
  username: f.optionalString(),
  password: f.optionalString({ secret: true }),
  'github-token': f.optionalString({ secret: true }),
  platforms: f.list(),
  cache: f.bool({ default: true }),
  secrets: f.custom(keyValues('id'), { default: {} as Record<string, string>, secret: true }),
  'secret-files': f.custom(keyValues('id'), { default: {} as Record<string, string> }),
  builder: f.enumOf(['auto', 'buildx', 'docker'] as const, { default: 'auto' }),
  network: f.enumOf(['default', 'none', 'host'] as const, { default: 'default' }),
};
