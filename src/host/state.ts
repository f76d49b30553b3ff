/** Releases on a host: reading the whole state in one round trip, switching, pruning. */
import { readStateCommand, removeReleasesCommand, switchCommand } from '../commands/releases.js';

export { readStateCommand, removeReleasesCommand, switchCommand };
import { parseHistory, type HistoryEvent } from './history.js';
import { isReleaseId } from './layout.js';

/** What is written to releases/<id>/release.json: everything a rollback needs. */
export interface ReleaseManifest {
  id: string;
  app: string;
  environment: string;
  version: string;
  sha: string;
  strategy: 'compose' | 'release';
  created: string;
  actor: string;
  run_url: string;
  image?: string;
  image_digest?: string;
  /** compose: project name, files (in order), services to start. */
  project?: string;
  compose_files?: string[];
  services?: string[];
  /** release: run after switching to this release. */
  restart_command?: string;
}

export interface HostState {
  home: string;
  appDir: string;
  /** The release `current` points at, if any. */
  current?: string;
  /** Release ids present on the host, oldest first. */
  releases: string[];
  manifests: Map<string, ReleaseManifest>;
  history: HistoryEvent[];
  compose: 'v2' | 'v1' | 'none';
}


export function parseState(stdout: string): HostState {
  const [head, rest = ''] = stdout.split('\n--- releases\n');
  const [home = '', appDir = '', currentLink = '', compose = 'none'] = head!.split('\n');
  const [relText = '', histText = ''] = rest.split(/^--- history$/m);
  const releases: string[] = [];
  const manifests = new Map<string, ReleaseManifest>();
  for (const line of relText.split('\n')) {
    const [id, json] = line.split('\t');
    if (!id || !isReleaseId(id)) continue;
    releases.push(id);
    try {
      if (json) manifests.set(id, JSON.parse(json) as ReleaseManifest);
    } catch {
      /* a release whose manifest was never completed */
    }
  }
  releases.sort();
  const cur = currentLink.trim().replace(/\/+$/, '').split('/').pop();
  return {
    home,
    appDir,
    current: cur && isReleaseId(cur) ? cur : undefined,
    releases,
    manifests,
    history: parseHistory(histText),
    compose: compose === 'v2' || compose === 'v1' ? compose : 'none',
  };
}



/**
 * Which releases to prune: keep the newest `keep`, and always the current release and the
 * last good one before it (what a rollback needs), whatever their age.
 */
export function releasesToPrune(releases: string[], keep: number, protect: (string | undefined)[]): string[] {
  const sorted = [...releases].sort();
  const kept = new Set([...sorted.slice(-keep), ...protect.filter((p): p is string => !!p)]);
  return sorted.filter((r) => !kept.has(r));
}
