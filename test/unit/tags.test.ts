import { describe, expect, it } from 'vitest';
import { parseTagSpecs, resolveTags, tagSafe } from '../../src/build/tags.js';

const sha = '0123456789abcdef0123456789abcdef01234567';
const all = parseTagSpecs('sha\nref\nsemver\nlatest');

describe('tags', () => {
  it('from a v1.2.3 tag: semver tags, the ref, the sha; no latest', () => {
    expect(resolveTags(all, { sha, ref: 'refs/tags/v1.2.3', defaultBranch: 'main' })).toEqual({ tags: ['sha-0123456', 'v1.2.3', '1.2.3', '1.2', '1'], version: '1.2.3' });
  });
  it('a pre-release gets no floating tags', () => {
    expect(resolveTags(['semver'], { sha, ref: 'refs/tags/v2.0.0-rc.1', defaultBranch: 'main' }).tags).toEqual(['2.0.0-rc.1']);
  });
  it('from the default branch: latest; from another branch: not', () => {
    expect(resolveTags(all, { sha, ref: 'refs/heads/main', defaultBranch: 'main' }).tags).toEqual(['sha-0123456', 'main', 'latest']);
    expect(resolveTags(all, { sha, ref: 'refs/heads/feature/Login_Form', defaultBranch: 'main' })).toEqual({ tags: ['sha-0123456', 'feature-Login_Form'], version: 'feature-Login_Form' });
    expect(resolveTags(all, { sha, ref: 'refs/pull/42/merge', defaultBranch: 'main' }).tags).toEqual(['sha-0123456', 'pr-42']);
  });
  it('literal tags and placeholders', () => {
    expect(resolveTags(parseTagSpecs('stable\nbuild-{{sha}}\n{{ref}}-x'), { sha, ref: 'refs/heads/dev', defaultBranch: 'main' }).tags).toEqual(['stable', 'build-0123456', 'dev-x']);
  });
  it('rejects unknown templates and invalid tags, naming them', () => {
    expect(() => parseTagSpecs('{{branch}}')).toThrow("'{{branch}}': unknown template '{{branch}}'");
    expect(() => parseTagSpecs('bad tag')).toThrow("'bad tag' is not a valid tag");
    expect(() => parseTagSpecs('-x')).toThrow('not a valid tag');
    expect(() => parseTagSpecs('$(id)')).toThrow('not a valid tag');
  });
  it('makes ref names tag-safe', () => {
    expect(tagSafe('feature/a b#c')).toBe('feature-a-b-c');
    expect(tagSafe('.hidden')).toBe('hidden');
  });
});
