/** A host's state as one round trip reads it: releases with their manifests, current, history; and what to prune. */
import { parseHistory, releaseStates, type HistoryEvent } from './history.js';
import { isReleaseId } from './layout.js';

/** What is written to releases/<id>/release.json: everything a rollback needs. */
export interface ReleaseManifest {
  id: string;
  app: string;
  environment: string;
  version: string;
  sha: string;
  strategy: 'compose' | 'release' | 'swarm';
  created: string;
  actor: string;
  run_url: string;
  image?: string;
  image_digest?: string;
  /** compose: project name, files (in order), services to start; swarm: the stack's name and files. */
  project?: string;
  compose_files?: string[];
  services?: string[];
  /** release: run after switching to this release. */
  restart_command?: string;
  /** compose with zero-downtime: two colors behind a proxy on the host (the color is the host's, not the release's). */
  blue_green?: BlueGreen;
  /** swarm: how long the run waits for the stack to converge. */
  swarm?: { converge_timeout_s: number };
}

export interface BlueGreen {
  /** blue's port on the host loopback; green's is base_port + 1. */
  base_port: number;
  proxy: 'nginx';
  /** Where the proxy listens ([address:]port). */
  listen: string;
  /** The site file the action owns. */
  config: string;
  test_command: string;
  reload_command: string;
  /** nginx upstream name. */
  upstream: string;
  /** The path (and query) a color must answer 2xx on before traffic moves to it. */
  ready_path: string;
  ready_timeout_s: number;
  drain_s: number;
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
  /** /etc/machine-id (or the host name): the same machine however it is addressed. */
  machineId: string;
  /** blue-green: the color serving now (<app dir>/color). */
  color?: 'blue' | 'green';
}

/** The history section of the state read: pieces that may overlap, merged and ordered by time. */
export function mergeHistory(text: string): HistoryEvent[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const l of text.split('\n')) {
    if (!l.trim() || seen.has(l)) continue;
    seen.add(l);
    lines.push(l);
  }
  return parseHistory(lines.join('\n'))
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.time < b.e.time ? -1 : a.e.time > b.e.time ? 1 : a.i - b.i))
    .map((x) => x.e);
}

export function parseState(stdout: string): HostState {
  const [head, rest = ''] = stdout.split('\n--- releases\n');
  const [home = '', appDir = '', currentLink = '', compose = 'none', machineId = '', color = ''] = head!.split('\n');
  if (!home.startsWith('/') || !appDir.startsWith('/')) throw new Error(`the host's state could not be read (unexpected output: ${JSON.stringify(head!.slice(0, 200))})`);
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
    history: mergeHistory(histText),
    compose: compose === 'v2' || compose === 'v1' ? compose : 'none',
    machineId: machineId.trim(),
    ...(color.trim() === 'blue' || color.trim() === 'green' ? { color: color.trim() as 'blue' | 'green' } : {}),
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

/**
 * What a successful deploy of `live` prunes on a host: releases beyond the newest `keep`
 * (never the live one, nor the last good one before it), and the images only those
 * releases used (never one a kept release needs).
 */
export function planPrune(state: Pick<HostState, 'releases' | 'manifests' | 'history'>, live: Pick<ReleaseManifest, 'id' | 'image'>, keep: number): { remove: string[]; images: string[] } {
  const current = live.id;
  const states = releaseStates(state.history);
  const ids = [...new Set([...state.releases, current])].sort();
  const lastGood = ids.filter((r) => r < current && states.get(r)?.good && !states.get(r)?.bad).pop();
  const remove = releasesToPrune(ids, keep, [current, lastGood]);
  const keptImages = new Set(
    ids
      .filter((r) => !remove.includes(r))
      .map((r) => state.manifests.get(r)?.image)
      .filter(Boolean),
  );
  keptImages.add(live.image);
  const images = [...new Set(remove.map((r) => state.manifests.get(r)?.image).filter((i): i is string => !!i && !keptImages.has(i)))];
  return { remove, images };
}
