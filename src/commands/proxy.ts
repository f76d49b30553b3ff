/**
 * Blue-green on one host, as data: the reverse proxy's site configuration (nginx), written
 * by rename and validated before a graceful reload (the old file is put back when the new
 * one does not validate); waiting for a color to answer on its port; draining the color
 * traffic left and stopping its containers.
 */
import { sh, shScript, type Command } from '../shell/index.js';

export type Color = 'blue' | 'green';
export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');

export interface ProxySite {
  /** nginx upstream name: letters, digits and _ only. */
  name: string;
  /** Where the proxy listens ([address:]port). */
  listen: string;
  /** The color's port on the host's loopback. */
  upstreamPort: number;
  /** Sent back as `X-Ops-Upstream` on every answer: tells which site file a proxy serves (hex). */
  marker?: string;
}

/** The `X-Ops-Upstream` value of a release's color: opaque outside (no name, version or color). */
export function upstreamMarker(release: string, color: Color): string {
  // FNV-1a, 2 × 32 bits: stable and dependency-free; only needs to differ between switches.
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (const ch of `${release}/${color}`) {
    a = Math.imul(a ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    b = Math.imul(b ^ ch.charCodeAt(0), 0x811c9dc5) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

/** An nginx site that sends everything to one upstream; a failed connection is retried once, never a request in flight. */
export function nginxSite(s: ProxySite): string {
  if (!/^[A-Za-z0-9_]+$/.test(s.name)) throw new Error(`invalid upstream name ${s.name}`);
  if (!/^(?:[0-9.]+:|\[[0-9a-fA-F:]+\]:)?\d{1,5}$/.test(s.listen)) throw new Error(`invalid listen address ${s.listen}`);
  if (!Number.isInteger(s.upstreamPort) || s.upstreamPort < 1 || s.upstreamPort > 65535) throw new Error(`invalid port ${s.upstreamPort}`);
  if (s.marker !== undefined && !/^[0-9a-f]{1,32}$/.test(s.marker)) throw new Error(`invalid marker ${s.marker}`);
  return [
    '# Written by ops-actions (zero-downtime deploys): every deploy rewrites it. Do not edit.',
    `upstream ${s.name} {`,
    `  server 127.0.0.1:${s.upstreamPort} max_fails=0;`,
    '}',
    // WebSocket upgrades pass through; other requests close their upstream connection as before.
    `map $http_upgrade $${s.name}_connection {`,
    '  default upgrade;',
    "  '' close;",
    '}',
    'server {',
    `  listen ${s.listen};`,
    '  location / {',
    `    proxy_pass http://${s.name};`,
    '    proxy_http_version 1.1;',
    '    proxy_set_header Upgrade $http_upgrade;',
    `    proxy_set_header Connection $${s.name}_connection;`,
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Real-IP $remote_addr;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    proxy_next_upstream error;',
    '    proxy_read_timeout 300s;',
    ...(s.marker ? [`    add_header X-Ops-Upstream ${s.marker} always;`] : []),
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * Put `content` in place of `file` by rename, run `test` (e.g. `nginx -t`), then `reload`
 * (a graceful reload: workers finish the requests they hold). When the test fails the old
 * file is put back (or the new one removed) and nothing is reloaded.
 */
export function proxyApplyCommand(file: string, content: string, test: string, reload: string): Command {
  return shScript(
    sh`f=$1 d=$(dirname "$1") b=$(basename "$1")
# Dot-prefixed beside it: a proxy that includes every file of the directory (sites-enabled/*) never loads them.
new="$d/.$b.ops-new.$$" old="$d/.$b.ops-old.$$"
printf '%s' "$2" > "$new"
had=no
if [ -e "$f" ]; then cp -p "$f" "$old"; had=yes; fi
mv -f "$new" "$f"
if ! out=$(sh -c "$3" 2>&1); then
  if [ "$had" = yes ]; then mv -f "$old" "$f"; else rm -f "$f"; fi
  printf '%s\n' "$out" >&2
  echo "the proxy configuration did not validate; the previous one is back in place and the proxy was not reloaded" >&2
  exit 3
fi
rm -f "$old"
sh -c "$4"`,
    file,
    content,
    test,
    reload,
  );
}

/** Wait until http://127.0.0.1:<port><path> answers 2xx or 3xx (curl, wget or busybox wget), or fail after `timeoutS`. */
export function waitReadyCommand(port: number, path: string, timeoutS: number): Command {
  return shScript(
    sh`url="http://127.0.0.1:$1$2" end=$(( $(date +%s) + $3 ))
probe() {
  if command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null --max-time 5 "$url"
  elif command -v wget >/dev/null 2>&1; then wget -q -O /dev/null -T 5 "$url"
  elif command -v busybox >/dev/null 2>&1; then busybox wget -q -O /dev/null -T 5 "$url"
  else echo "the host has neither curl nor wget to probe $url" >&2; exit 2; fi
}
until probe 2>/dev/null; do
  command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 || command -v busybox >/dev/null 2>&1 || probe
  if [ "$(date +%s)" -ge "$end" ]; then
    echo "$url did not answer 2xx within $3s" >&2
    probe || true
    exit 4
  fi
  sleep 0.5
done`,
    String(port),
    path,
    String(timeoutS),
  );
}

/**
 * Wait until the proxy answers through `listen` ([address:]port; a bare port is asked on
 * 127.0.0.1) with `X-Ops-Upstream: <marker>`: the reload took, and this site (not another
 * server block of the same port, such as a distribution's default site) serves the port.
 */
export function waitProxyCommand(listen: string, path: string, marker: string, timeoutS: number): Command {
  return shScript(
    sh`case "$1" in *:*) a=$1 ;; *) a="127.0.0.1:$1" ;; esac
url="http://$a$2" end=$(( $(date +%s) + $4 ))
headers() {
  if command -v curl >/dev/null 2>&1; then curl -sS -o /dev/null -D - --max-time 5 "$url"
  elif command -v wget >/dev/null 2>&1; then wget -S -q -O /dev/null -T 5 "$url" 2>&1
  elif command -v busybox >/dev/null 2>&1; then busybox wget -S -q -O /dev/null -T 5 "$url" 2>&1
  else echo "the host has neither curl nor wget to ask the proxy at $url" >&2; exit 2; fi
}
while :; do
  got=$(headers 2>&1 | tr -d '\r' | sed -n 's/^ *[Xx]-[Oo]ps-[Uu]pstream: *//p' | tail -n 1) || got=
  [ "$got" = "$3" ] && exit 0
  if [ "$(date +%s)" -ge "$end" ]; then
    if [ -n "$got" ]; then echo "the proxy at $url still answers from the previous site ($got) $4s after its reload: the reload did not take (see the proxy's error log)" >&2
    else echo "the proxy at $url does not answer from this app's site: another server block serves that port (e.g. the distribution's default site: remove it or give this one the port alone), or the reload failed" >&2; fi
    exit 5
  fi
  sleep 0.2
done`,
    listen,
    path,
    marker,
    String(timeoutS),
  );
}

/** Record the color the proxy now sends traffic to (`<appDir>/color`, by rename). */
export function recordColorCommand(appDir: string, color: Color): Command {
  return shScript(sh`printf '%s\n' "$2" > "$1/.color.$$" && mv -f "$1/.color.$$" "$1/color"`, appDir, color);
}

/**
 * Drain `port` (wait until no connection to it is established, or `timeoutS`), then stop
 * the containers of `project` (each gets `stopTimeoutS` to exit on SIGTERM). Prints how
 * long the drain took and how many connections were still open at its end.
 */
export function drainAndStopCommand(port: number, project: string, timeoutS: number, stopTimeoutS: number): Command {
  return shScript(
    sh`start=$(date +%s) end=$(( $(date +%s) + $3 )) left=unknown
# Either end: the app's own socket (or docker-proxy's), or the proxy's to a DNAT-published port.
count() { ss -Htn state established "( sport = :$1 or dport = :$1 )" 2>/dev/null | wc -l; }
if command -v ss >/dev/null 2>&1; then
  while left=$(count "$1"); [ "$left" -gt 0 ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
else
  sleep "$3"
fi
echo "drained port $1 in $(( $(date +%s) - start ))s (connections left: $left)"
ids=$(docker ps -q --filter "label=com.docker.compose.project=$2")
if [ -n "$ids" ]; then docker stop -t "$4" $ids >/dev/null; fi`,
    String(port),
    project,
    String(timeoutS),
    String(stopTimeoutS),
  );
}
