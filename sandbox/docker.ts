/**
 * Docker in the sandbox: one engine per host (its own socket, data and containers), a
 * registry on loopback, and tiny test images built FROM scratch with busybox.
 */
import { copyFileSync, chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inNamespace, type Namespace } from './netns.js';
import { daemon, ensurePackages, freePort, readPid, run, sleep, stopPid, unmountUnder, waitForPort } from './procs.js';

export const DOCKER_PACKAGES = ['docker.io', 'docker-compose', 'docker-registry', 'busybox-static'];

export interface Engine {
  dir: string;
  socket: string;
  /** `unix:///...docker.sock`, for DOCKER_HOST. */
  host: string;
  pid: number;
}

/** Run the docker CLI against an engine. */
export function docker(e: Pick<Engine, 'host'>, args: string[], o: { input?: string | Buffer; timeoutMs?: number } = {}) {
  return run('docker', args, { ...o, env: { ...process.env, DOCKER_HOST: e.host, DOCKER_CONFIG: path.join(process.env.HOME ?? '/root', '.docker') } });
}

export async function mustDocker(e: Pick<Engine, 'host'>, args: string[], o: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
  const r = await docker(e, args, o);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/**
 * Start a Docker engine with its own socket, data and exec roots. No bridge and no
 * iptables (containers use host networking); the socket belongs to `gid`.
 */
export async function startEngine(dir: string, o: { gid?: number; netns?: Namespace; insecureRegistry?: string } = {}): Promise<Engine> {
  ensurePackages(DOCKER_PACKAGES);
  mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, 'docker.sock');
  const args = [
    '--storage-driver',
    'vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--data-root',
    path.join(dir, 'data'),
    '--exec-root',
    path.join(dir, 'exec'),
    '-H',
    `unix://${socket}`,
    '--pidfile',
    path.join(dir, 'docker.pid'),
    '--log-level',
    'warn',
    ...(o.gid !== undefined ? ['--group', String(o.gid)] : []),
    ...(o.insecureRegistry ? ['--insecure-registry', o.insecureRegistry] : []),
  ];
  // nsenter, not `ip netns exec`: the latter remounts /sys and dockerd then fails.
  const [cmd, argv] = inNamespace(o.netns, ['dockerd', ...args]);
  const pid = daemon(cmd, argv, { log: path.join(dir, 'dockerd.log') });
  const e: Engine = { dir, socket, host: `unix://${socket}`, pid };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`dockerd exited at start; see ${path.join(dir, 'dockerd.log')}`);
    }
    if ((await docker(e, ['version', '--format', '{{.Server.Version}}'])).code === 0) return e;
    await sleep(200);
  }
  throw new Error(`dockerd did not answer on ${socket}`);
}

export async function stopEngine(e: Engine | undefined): Promise<void> {
  if (!e) return;
  // Stop containers first so their shims exit with the engine.
  const ids = (await docker(e, ['ps', '-q'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await docker(e, ['kill', ...ids]);
  await stopPid(e.pid ?? readPid(path.join(e.dir, 'docker.pid')), 15_000);
  // containerd (started by dockerd) exits with it; make sure of it.
  await stopPid(readPid(path.join(e.dir, 'exec', 'containerd', 'containerd.pid')), 5000);
  await unmountUnder(e.dir);
}

export interface Registry {
  /** `127.0.0.1:PORT` */
  address: string;
  pid: number;
  dir: string;
}

/** A registry on `address`; with `auth`, htpasswd (bcrypt) basic auth. */
export async function startRegistry(dir: string, address = '127.0.0.1', auth?: { user: string; password: string }): Promise<Registry> {
  ensurePackages(DOCKER_PACKAGES);
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const port = await freePort(address);
  const conf = path.join(dir, 'config.yml');
  const htpasswd = path.join(dir, 'htpasswd');
  if (auth) {
    const { default: bcrypt } = await import('bcryptjs');
    writeFileSync(htpasswd, `${auth.user}:${bcrypt.hashSync(auth.password, 10)}\n`);
  }
  writeFileSync(
    conf,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${address}:${port}`,
      ...(auth ? ['auth:', '  htpasswd:', '    realm: sandbox', `    path: ${htpasswd}`] : []),
      '',
    ].join('\n'),
  );
  const pid = daemon('docker-registry', ['serve', conf], { log: path.join(dir, 'registry.log') });
  await waitForPort(address, port, { pid, log: path.join(dir, 'registry.log') });
  return { address: `${address}:${port}`, pid, dir };
}

export async function stopRegistry(r: Registry | undefined): Promise<void> {
  if (r) await stopPid(r.pid);
}

/** The test app: busybox httpd serving /health JSON with a version; behaviour set at build. */
const START_SH = `#!/bin/busybox sh
# The sandbox test app. APP_MODE (baked into the image, overridable by env):
#   healthy   - GET /health answers 200 {"status":"healthy","version":...}
#   unhealthy - the app runs but /health is missing (404); /status says unhealthy
#   crash     - exits 1 at start, never serving
# GET /cgi-bin/slow answers after a second (a request in flight during a switch).
# Arguments (compose run app CMD ...) run CMD instead, with /bin/sh (busybox) in the image.
set -eu
# Like a real image's entrypoint: a command given to the container runs instead of the app.
if [ "$#" -gt 0 ]; then exec "$@"; fi
PORT="\${PORT:-8080}"
MODE="\${APP_MODE:-healthy}"
VERSION="\${APP_VERSION:-dev}"
if [ "$MODE" = crash ]; then
  echo "app $VERSION: cannot start (APP_MODE=crash)" >&2
  exit 1
fi
/bin/busybox mkdir -p /tmp/www
if [ "$MODE" = healthy ]; then
  printf '{"status":"healthy","version":"%s","checks":{"database":"ok"}}' "$VERSION" > /tmp/www/health
fi
printf '{"status":"%s","version":"%s"}' "$MODE" "$VERSION" > /tmp/www/status
printf 'app %s\\n' "$VERSION" > /tmp/www/index.html
# /cgi-bin/slow answers after a second: a request in flight while a deploy switches.
/bin/busybox mkdir -p /tmp/www/cgi-bin
/bin/busybox cat > /tmp/www/cgi-bin/slow <<'CGI'
#!/bin/busybox sh
/bin/busybox sleep 1
printf 'Content-Type: text/plain\\r\\n\\r\\nslow %s\\n' "$APP_VERSION"
CGI
/bin/busybox chmod 755 /tmp/www/cgi-bin/slow
echo "app $VERSION ($MODE) listening on 127.0.0.1:$PORT"
# As PID 1 the server would ignore SIGTERM (and docker would wait its grace period):
# stop it on TERM like a well-behaved service.
/bin/busybox httpd -f -v -p "127.0.0.1:$PORT" -h /tmp/www &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
wait "$pid"
`;

export interface TestImages {
  /** `127.0.0.1:PORT/ops/app` */
  repo: string;
  /** tag -> pushed digest */
  digests: Record<string, string>;
}

/**
 * Build the test images FROM scratch (busybox only) and push them: `app:<version>` for
 * each version (healthy), `app:unhealthy`, `app:crash`.
 */
export async function buildTestImages(builder: Engine, registry: Registry, versions: string[], dir: string): Promise<TestImages> {
  const ctx = path.join(dir, 'image-context');
  mkdirSync(ctx, { recursive: true });
  copyFileSync('/bin/busybox', path.join(ctx, 'busybox'));
  chmodSync(path.join(ctx, 'busybox'), 0o755);
  writeFileSync(path.join(ctx, 'start.sh'), START_SH, { mode: 0o755 });
  writeFileSync(
    path.join(ctx, 'Dockerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY busybox /bin/sh',
      'COPY start.sh /start.sh',
      'ARG APP_VERSION=dev',
      'ARG APP_MODE=healthy',
      'ENV APP_VERSION=$APP_VERSION APP_MODE=$APP_MODE PATH=/bin',
      'LABEL org.opencontainers.image.title="ops-actions sandbox app"',
      'ENTRYPOINT ["/bin/busybox", "sh", "/start.sh"]',
      '',
    ].join('\n'),
  );
  // busybox's applets (sh, mkdir, ...) through /bin/busybox --install need /bin to exist.
  const repo = `${registry.address}/ops/app`;
  const variants: [string, string, string][] = [...versions.map((v) => [v, v, 'healthy'] as [string, string, string]), ['unhealthy', 'unhealthy', 'unhealthy'], ['crash', 'crash', 'crash']];
  const digests: Record<string, string> = {};
  for (const [tag, version, mode] of variants) {
    await mustDocker(builder, ['build', '-q', '--build-arg', `APP_VERSION=${version}`, '--build-arg', `APP_MODE=${mode}`, '-t', `${repo}:${tag}`, ctx], { timeoutMs: 300_000 });
    const out = await mustDocker(builder, ['push', `${repo}:${tag}`]);
    const m = /digest: (sha256:[0-9a-f]{64})/.exec(out);
    if (!m) throw new Error(`no digest in docker push output: ${out}`);
    digests[tag] = m[1]!;
  }
  return { repo, digests };
}

/**
 * A migration image FROM scratch: psql (with the libraries it links) and busybox as
 * /bin/sh, so `sh -c 'psql "$DATABASE_URL" ...'` applies SQL like a real migrator.
 */
export async function buildMigratorImage(builder: Engine, registry: Registry, dir: string): Promise<string> {
  const ctx = path.join(dir, 'migrator-context');
  const rootfs = path.join(ctx, 'rootfs');
  const psql = (await run('sh', ['-c', 'ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1'])).stdout.trim();
  if (!psql) throw new Error('psql not found under /usr/lib/postgresql');
  const libs = (await run('ldd', [psql])).stdout
    .split('\n')
    .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
    .filter((l): l is string => !!l);
  for (const f of [psql, ...libs]) {
    const dest = path.join(rootfs, f);
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(f, dest);
    chmodSync(dest, 0o755);
  }
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  mkdirSync(path.join(rootfs, 'tmp'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'echo', 'cat', 'date']) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  symlinkSync(psql, path.join(rootfs, 'bin', 'psql'));
  writeFileSync(path.join(ctx, 'Dockerfile'), ['FROM scratch', 'COPY rootfs/ /', 'ENV PATH=/bin HOME=/tmp', 'CMD ["/bin/sh"]', ''].join('\n'));
  const ref = `${registry.address}/ops/migrator:1`;
  await mustDocker(builder, ['build', '-q', '-t', ref, ctx], { timeoutMs: 300_000 });
  await mustDocker(builder, ['push', ref]);
  return ref;
}
