/** Releases on a host: reading the whole state in one round trip, switching, pruning. */
import { shScript, type Command } from '../shell/index.js';
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

/**
 * One round trip: home, app dir (with `~` resolved), current, releases with their
 * manifests, history, and which compose the host has.
 */
export function readStateCommand(appDir: string): Command {
  return shScript(
    `d=$1
case "$d" in "~") d=$HOME ;; "~/"*) d="$HOME/\${d#"~/"}" ;; esac
printf '%s\\n%s\\n' "$HOME" "$d"
readlink "$d/current" 2>/dev/null || echo
if docker compose version >/dev/null 2>&1; then echo v2; elif command -v docker-compose >/dev/null 2>&1; then echo v1; else echo none; fi
echo '--- releases'
if [ -d "$d/releases" ]; then
  for r in "$d"/releases/*/; do
    [ -d "$r" ] || continue
    printf '%s\\t' "$(basename "$r")"
    if [ -f "$r/release.json" ]; then tr -d '\\n' < "$r/release.json"; fi
    echo
  done
fi
echo '--- history'
cat "$d/history.jsonl" 2>/dev/null || true`,
    appDir,
  );
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

/** Point `current` at a release: a new link under a temporary name, renamed over `current`. */
export function switchCommand(appDir: string, id: string): Command {
  return shScript(`ln -sfn "releases/$2" "$1/.current.$$" && mv -Tf "$1/.current.$$" "$1/current"`, appDir, id);
}

/** Remove releases (never the ones given as `protect`). */
export function removeReleasesCommand(appDir: string, ids: string[]): Command {
  return shScript(`d=$1; shift; for id in "$@"; do rm -rf -- "$d/releases/$id"; done`, appDir, ...ids);
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
