/** build-push's job summary and outputs. */
import { formatDuration } from '../text.js';
import { code, table } from './markdown.js';

interface Built {
  image: string;
  refs: string[];
  push: boolean;
}

interface BuildResult {
  imageId: string;
  digest: string;
  size: number;
  cachedSteps: number;
  cacheFrom: string[];
  buildMs: number;
  builder: string;
}

export function buildOutputs(cfg: Pick<Built, 'image' | 'refs'>, r: BuildResult): Record<string, string | number> {
  return {
    'image-id': r.imageId,
    tags: cfg.refs.join('\n'),
    digest: r.digest,
    'image-ref': r.digest ? `${cfg.image}@${r.digest}` : '',
    'size-bytes': r.size,
    'cached-steps': r.cachedSteps,
    builder: r.builder,
  };
}

export function buildSummary(cfg: Built, r: BuildResult): string {
  return [
    `## Image ${code(cfg.image)}: ${cfg.push ? 'built and pushed' : 'built (not pushed)'}`,
    '',
    table(
      ['', ''],
      [
        ['digest', r.digest ? code(r.digest) : '(not pushed)'],
        ['tags', cfg.refs.map(code).join('<br>')],
        ['size', `${(r.size / 1024 / 1024).toFixed(1)} MiB`],
        ['built with', code(r.builder)],
        ['build time', formatDuration(r.buildMs)],
        ['cache', r.cacheFrom.length ? `${r.cachedSteps} step(s) reused from ${r.cacheFrom.map(code).join(', ')}` : `${r.cachedSteps} step(s) reused`],
      ],
    ),
  ].join('\n');
}
