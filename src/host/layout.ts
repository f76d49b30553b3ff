/**
 * The on-host layout of one app and environment:
 *
 *   <app-dir>/releases/<release-id>/   the release (compose files + .env + release.json, or files)
 *   <app-dir>/shared/                  paths linked into each release (release strategy)
 *   <app-dir>/current -> releases/<id> switched by rename
 *   <app-dir>/history.jsonl            append-only events
 *   <app-dir>/.lock/owner.json         the deploy/maintenance lock
 *
 * Release ids sort by time, so listing is ordering.
 */
import path from 'node:path';

export interface Layout {
  appDir: string;
  releases: string;
  shared: string;
  current: string;
  history: string;
  lock: string;
  release(id: string): string;
}

/** The layout under an absolute app directory. */
export function layout(appDir: string): Layout {
  const p = (...s: string[]) => path.posix.join(appDir, ...s);
  return {
    appDir,
    releases: p('releases'),
    shared: p('shared'),
    current: p('current'),
    history: p('history.jsonl'),
    lock: p('.lock'),
    release: (id: string) => p('releases', id),
  };
}

/** `~/apps/shop-production` with the host's home resolved. */
export function resolveAppDir(appDir: string, home: string): string {
  if (appDir === '~') return home;
  if (appDir.startsWith('~/')) return path.posix.join(home, appDir.slice(2));
  return appDir;
}

const RELEASE_ID = /^\d{8}T\d{6}Z-[A-Za-z0-9._-]{1,64}$/;

export function isReleaseId(s: string): boolean {
  return RELEASE_ID.test(s);
}

/** `20261122T103000Z-<version>`: sorts by time; the version made path-safe. */
export function newReleaseId(version: string, now = new Date()): string {
  const ts = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const v =
    version
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 64) || 'release';
  return `${ts}-${v}`;
}
