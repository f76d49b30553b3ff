/**
 * nginx and wrk in a sandbox host's network namespace: the proxy a zero-downtime deploy
 * switches (Debian's nginx, run as the host's user, including a sites directory the
 * action writes its site file to), and load sent through it while a deploy runs.
 */
import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SandboxHost } from './hosts.js';
import { daemon, ensurePackages, stopPid } from './procs.js';

export interface Nginx {
  conf: string;
  /** The directory `include`d for sites (`*.conf`). */
  sites: string;
  pid: number;
  /** `nginx -t` and `nginx -s reload` for this instance. */
  testCommand: string;
  reloadCommand: string;
  stop(): Promise<void>;
}

export async function startNginx(h: SandboxHost, logDir: string): Promise<Nginx> {
  ensurePackages(['nginx-light']);
  const dir = path.join(h.home, 'nginx');
  for (const d of ['sites', 'tmp', 'logs']) mkdirSync(path.join(dir, d), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  const t = (n: string) => path.join(dir, 'tmp', n);
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/logs/error.log;`,
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${t('body')}; proxy_temp_path ${t('proxy')}; fastcgi_temp_path ${t('fcgi')}; uwsgi_temp_path ${t('uwsgi')}; scgi_temp_path ${t('scgi')};`,
      `  include ${dir}/sites/*.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  for (const p of [dir, ...['sites', 'tmp', 'logs'].map((d) => path.join(dir, d)), conf]) chownSync(p, h.uid, h.gid);
  const ns = h.netns ? [`--net=${h.netns.path}`] : [];
  const pid = daemon('nsenter', [...ns, `--setuid=${h.uid}`, `--setgid=${h.gid}`, '--', 'nginx', '-e', `${dir}/logs/error.log`, '-c', conf, '-g', 'daemon off;'], {
    log: path.join(logDir, 'nginx.log'),
  });
  const base = `/usr/sbin/nginx -e ${dir}/logs/error.log -c ${conf}`;
  return { conf, sites: path.join(dir, 'sites'), pid, testCommand: `${base} -t`, reloadCommand: `${base} -s reload`, stop: () => stopPid(pid) };
}

export interface Load {
  requests: number;
  non2xx: number;
  socketErrors: number;
  /** wrk's own report. */
  raw: string;
}

/**
 * wrk in the host's namespace against `url` while `untilDone` runs (from a second before
 * it until a second after). A connection per request: nginx's graceful reload closes idle
 * keep-alive connections, and a request sent on one at that instant fails in any client
 * that does not retry it.
 */
export async function underLoad<T>(h: SandboxHost, url: string, connections: number, untilDone: () => Promise<T>): Promise<[T, Load]> {
  ensurePackages(['wrk']);
  const ns = h.netns ? [`--net=${h.netns.path}`] : [];
  const wrk = spawn('nsenter', [...ns, '--', 'wrk', '-t1', `-c${connections}`, '-d600s', '--timeout', '5s', '-H', 'Connection: close', url]);
  let out = '';
  wrk.stdout.on('data', (d) => (out += d));
  wrk.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => wrk.on('exit', () => r()));
  await new Promise((r) => setTimeout(r, 1000));
  let value: T;
  try {
    value = await untilDone();
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    // SIGINT: wrk stops and prints what it counted so far.
    wrk.kill('SIGINT');
    await exited;
  }
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return [
    value,
    {
      requests: num(/(\d+) requests in/),
      non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
      socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
      raw: out,
    },
  ];
}

/** Quick requests on `/` and slow ones (`/cgi-bin/slow`, 1 s each, in flight at every switch) at once. */
export async function bothLoads<T>(h: SandboxHost, origin: string, fn: () => Promise<T>): Promise<[T, Load, Load]> {
  let slow!: Load;
  const [value, fast] = await underLoad(h, `${origin}/`, 4, async () => {
    const [v, s] = await underLoad(h, `${origin}/cgi-bin/slow`, 4, fn);
    slow = s;
    return v;
  });
  return [value, fast, slow];
}
