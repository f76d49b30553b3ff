/**
 * Docker CLI plugins the sandbox needs and Debian 12 does not ship: Compose v2 and buildx,
 * taken from Debian 13 (trixie), whose `docker-compose` (2.26) and `docker-buildx` (0.13)
 * packages are static binaries that run on bookworm. They are fetched with an apt
 * configuration of their own (own sources list, lists and cache directories: the
 * system's apt sources are never touched), unpacked with dpkg-deb, and cached in
 * /var/cache/ops-sandbox between runs. Several test files may ask at once: a flock
 * serializes the fetch.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ensurePackages, must } from './procs.js';

const CACHE = '/var/cache/ops-sandbox/trixie';

export interface Plugins {
  /** The `docker compose` v2 plugin binary. */
  compose: string;
  /** The `docker buildx` plugin binary. */
  buildx: string;
}

/** The Debian mirror this machine's own apt sources use (for the same network path). */
function debianMirror(): string {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => path.join('/etc/apt/sources.list.d', f)) : [])];
  for (const f of files) {
    if (!/\.(list|sources)$/.test(f) || !existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    const m = /^URIs:\s*(\S+\/debian)\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+/m.exec(text);
    if (m) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

const FETCH = `set -eu
c=$1; mirror=$2
root="$c/root"
if [ -x "$root/usr/libexec/docker/cli-plugins/docker-compose" ] && [ -x "$root/usr/libexec/docker/cli-plugins/docker-buildx" ]; then exit 0; fi
mkdir -p "$c/lists/partial" "$c/cache/archives/partial" "$c/debs" "$root"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\\n' "$mirror" > "$c/sources.list"
apt="-o Dir::Etc::sourcelist=$c/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$c/lists -o Dir::Cache=$c/cache -o APT::Get::List-Cleanup=0"
# shellcheck disable=SC2086
apt-get -qq $apt update
cd "$c/debs"
# shellcheck disable=SC2086
apt-get -qq $apt download docker-compose docker-buildx
for d in "$c"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done
test -x "$root/usr/libexec/docker/cli-plugins/docker-compose"
test -x "$root/usr/libexec/docker/cli-plugins/docker-buildx"`;

let fetched: Promise<Plugins> | undefined;

/** Compose v2 and buildx plugin binaries (fetched once, then cached). */
export function dockerPlugins(): Promise<Plugins> {
  fetched ??= (async () => {
    ensurePackages(['util-linux']);
    mkdirSync(CACHE, { recursive: true });
    await must('flock', [path.join(CACHE, '..', 'trixie.lock'), 'sh', '-c', FETCH, 'fetch', CACHE, debianMirror()], { timeoutMs: 600_000 });
    const dir = path.join(CACHE, 'root', 'usr', 'libexec', 'docker', 'cli-plugins');
    return { compose: path.join(dir, 'docker-compose'), buildx: path.join(dir, 'docker-buildx') };
  })();
  fetched.catch(() => (fetched = undefined));
  return fetched;
}
