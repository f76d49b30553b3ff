/**
 * Tags from git: `sha` (short commit), `ref` (branch or tag name, made tag-safe), `semver`
 * (1.2.3, 1.2, 1 from a v1.2.3 tag), `latest` (default branch only), or literal tags that
 * may contain `{{sha}}` / `{{ref}}` placeholders.
 */
import { ParseError } from '../text.js';

export interface GitContext {
  sha: string;
  /** refs/heads/main, refs/tags/v1.2.3, refs/pull/7/merge */
  ref: string;
  defaultBranch: string;
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TEMPLATES = ['sha', 'ref', 'semver', 'latest'] as const;
export type TagTemplate = (typeof TEMPLATES)[number];
const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** A ref name as a valid tag: invalid characters become '-', at most 128. */
export function tagSafe(name: string): string {
  const t = name
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128);
  return t || 'ref';
}

function refName(ref: string): { kind: 'branch' | 'tag' | 'pull' | 'other'; name: string } {
  if (ref.startsWith('refs/heads/')) return { kind: 'branch', name: ref.slice(11) };
  if (ref.startsWith('refs/tags/')) return { kind: 'tag', name: ref.slice(10) };
  const pr = /^refs\/pull\/(\d+)\//.exec(ref);
  if (pr) return { kind: 'pull', name: `pr-${pr[1]}` };
  return { kind: 'other', name: ref };
}

/** Validate the `tags` lines (templates and literals) before anything runs. */
export function parseTagSpecs(raw: string): string[] {
  const lines = raw
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (!lines.length) throw new ParseError('names no tag');
  for (const l of lines) {
    for (const m of l.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      if (!['sha', 'ref'].includes(m[1]!)) throw new ParseError(`'${l}': unknown template '{{${m[1]}}}'; use {{sha}} or {{ref}} inside a tag, or a line sha, ref, semver or latest`);
    }
    if ((TEMPLATES as readonly string[]).includes(l)) continue;
    const probe = l.replace(/\{\{\s*(sha|ref)\s*\}\}/g, 'x');
    if (!TAG.test(probe)) throw new ParseError(`'${l}' is not a valid tag (letters, digits, _ . -; at most 128; not starting with . or -)`);
  }
  return lines;
}

/** The concrete tags for a git context (templates that do not apply are skipped). */
export function resolveTags(specs: string[], git: GitContext): { tags: string[]; version: string } {
  const short = git.sha.slice(0, 7);
  const r = refName(git.ref);
  const sem = r.kind === 'tag' ? SEMVER.exec(r.name) : null;
  const out: string[] = [];
  for (const s of specs) {
    if (s === 'sha') {
      if (short) out.push(`sha-${short}`);
    } else if (s === 'ref') {
      if (r.name) out.push(tagSafe(r.name));
    } else if (s === 'semver') {
      if (sem) {
        const [, maj, min, pat, pre] = sem;
        out.push(pre ? `${maj}.${min}.${pat}-${pre}` : `${maj}.${min}.${pat}`);
        // Floating tags only for releases, never for pre-releases.
        if (!pre) out.push(`${maj}.${min}`, maj!);
      }
    } else if (s === 'latest') {
      if (r.kind === 'branch' && r.name === git.defaultBranch) out.push('latest');
    } else {
      out.push(s.replace(/\{\{\s*sha\s*\}\}/g, short).replace(/\{\{\s*ref\s*\}\}/g, tagSafe(r.name)));
    }
  }
  const tags = [...new Set(out)];
  const version = sem ? `${sem[1]}.${sem[2]}.${sem[3]}${sem[4] ? `-${sem[4]}` : ''}` : r.kind === 'branch' || r.kind === 'pull' ? tagSafe(r.name) : short;
  return { tags, version };
}
