import { f, parseBool, parseDuration } from '../inputs/schema.js';
import { ParseError } from '../text.js';
import { appSchema } from '../inputs/common.js';
import { sshSchema } from '../inputs/ssh.js';
import { healthSchema } from '../health/spec.js';

const relPath = (raw: string) => {
  const p = raw.trim();
  if (p.startsWith('/') || p.split('/').includes('..') || !/^[A-Za-z0-9._/-]+$/.test(p)) {
    throw new ParseError(`'${p}' must be a relative path inside the app directory (letters, digits, . _ - /; no '..')`);
  }
  return p;
};

/** The inputs of the deploy action (see action.yml). */
export const own = {
  ...appSchema,
  version: f.string({ pattern: /^[A-Za-z0-9._+-]{1,128}$/, hint: 'use letters, digits and . _ + - (at most 128)' }),
  'app-dir': f.string({ pattern: /^(~|~\/[^\0]*|\/[^\0]*)$/, hint: 'use an absolute path or one under ~/' }),
  strategy: f.enumOf(['compose', 'release', 'swarm'] as const, { default: 'compose' }),
  'converge-timeout': f.duration({ default: 600_000, min: 5000 }),
  'compose-file': f.list({ default: ['docker-compose.yml'] }),
  'env-file': f.optionalString({ secret: true }),
  image: f.optionalString(),
  services: f.list(),
  source: f.optionalString(),
  'shared-paths': f.custom(
    (raw) =>
      raw
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter(Boolean)
        .map((p) => (p.endsWith('/') ? relPath(p.slice(0, -1)) + '/' : relPath(p))),
    { default: [] as string[] },
  ),
  'build-command': f.optionalString(),
  'restart-command': f.optionalString(),
  'unchanged-files': f.enumOf(['auto', 'link', 'copy'] as const, { default: 'auto' }),
  'keep-releases': f.int(1, 100, { default: 5 }),
  'migrate-command': f.optionalString(),
  'migrate-mode': f.enumOf(['compose-run', 'exec', 'host'] as const, { default: 'compose-run' }),
  'migrate-service': f.string({ default: 'app', pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, hint: 'a compose service name' }),
  'migrate-timeout': f.duration({ default: 1_800_000, min: 1000 }),
  'pre-deploy': f.optionalString(),
  'post-deploy': f.optionalString(),
  'on-failure': f.optionalString(),
  'zero-downtime': f.bool({ default: false }),
  proxy: f.enumOf(['nginx'] as const, { default: 'nginx' }),
  'proxy-port': f.string({ default: '', pattern: /^((\d{1,3}\.){3}\d{1,3}:)?\d{1,5}$/, hint: 'a port (80) or address:port (127.0.0.1:8080)' }),
  'app-port': f.int(1, 65534, { default: 8081 }),
  'proxy-config': f.string({ default: '', pattern: /^\/[A-Za-z0-9._/-]+\.conf$/, hint: 'an absolute path ending in .conf' }),
  'proxy-test-command': f.string({ default: 'nginx -t' }),
  'proxy-reload-command': f.string({ default: 'nginx -s reload' }),
  'drain-timeout': f.duration({ default: 30_000 }),
  'diagnostics-lines': f.int(0, 10_000, { default: 50 }),
  'diagnostics-command': f.optionalString(),
  ...healthSchema('health-', { urlRequired: false, viaSshDefault: true }),
  'auto-rollback': f.custom<boolean | undefined>(parseBool, {}),
  canary: f.int(0, 1000, { default: 0 }),
  'on-host-failure': f.enumOf(['halt', 'rollback-all'] as const, { default: 'halt' }),
  'confirm-timeout': f.custom<number | undefined>((raw) => {
    const ms = parseDuration(raw);
    if (ms !== 0 && ms < 5000) throw new ParseError(`'${raw.trim()}' is too short; use at least 5s (or 0 to turn the watchdog off)`);
    return ms;
  }, {}),
  'lock-timeout': f.duration({ default: 600_000 }),
  'lock-ttl': f.duration({ default: 300_000, min: 1000 }),
  'github-deployment': f.bool({ default: true }),
  'github-token': f.optionalString({ secret: true }),
  'environment-url': f.optionalString(),
};

export const schema = { ...own, ...sshSchema({ maxParallel: 1 }) };
