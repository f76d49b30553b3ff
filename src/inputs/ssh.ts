import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError, collectInputs, f, type InputSource, type Parsed, type Problem, type Schema } from './schema.js';
import { ParseError } from '../text.js';
import { inventoryTargets, parseHost, parseHostList } from '../fleet/targets.js';
import type { Target } from '../host/target.js';
import { Fingerprints, KnownHosts, type HostKeyPolicy } from '../host/hostkeys.js';
import { parsePrivateKey } from '../host/keys.js';
import type { SshOptions } from '../host/session.js';
import type { Logger } from '../log.js';

/** The SSH inputs every action that reaches a server shares, with the same names. */
export function sshSchema(o: { maxParallel?: number; optional?: boolean } = {}) {
  return {
    hosts: f.optionalString(),
    inventory: f.optionalString(),
    'inventory-group': f.string({ default: 'all' }),
    user: f.string({ default: '' }),
    port: f.int(1, 65535, { default: 22 }),
    'ssh-key': o.optional ? f.optionalString({ secret: true }) : f.string({ required: true, secret: true }),
    'ssh-key-passphrase': f.optionalString({ secret: true }),
    'known-hosts': f.optionalString(),
    'host-fingerprints': f.optionalString(),
    'insecure-ignore-host-key': f.bool({ default: false }),
    'proxy-jump': f.optionalString(),
    'connect-timeout': f.duration({ default: 20_000, min: 500 }),
    'connect-retries': f.int(0, 10, { default: 3 }),
    'command-timeout': f.duration({ default: 600_000, min: 1000 }),
    'max-parallel': f.int(1, 1000, { default: o.maxParallel ?? 10 }),
  };
}

export type SshInputs = Parsed<ReturnType<typeof sshSchema>>;

export interface SshSetup {
  targets: Target[];
  options: SshOptions;
  maxParallel: number;
}

/**
 * Cross-check the SSH inputs and turn them into targets and connection options. Every
 * problem is reported at once, naming its input; nothing connects before this passes.
 */
export function resolveSsh(i: SshInputs, ctx: { workspace: string; logger: Logger }): SshSetup {
  const problems: { input: string; message: string }[] = [];
  const attempt = <T>(input: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      problems.push({ input, message: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
  };
  const defaults = { user: i.user, port: i.port };
  if (i.user && !/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(i.user)) problems.push({ input: 'user', message: `'${i.user}' is not a valid user name` });

  let targets: Target[] | undefined;
  if (i.hosts && i.inventory) {
    problems.push({ input: 'hosts', message: "give either 'hosts' or 'inventory', not both" });
  } else if (i.hosts) {
    targets = attempt('hosts', () => parseHostList(i.hosts!, defaults));
  } else if (i.inventory) {
    targets = attempt('inventory', () => {
      const file = path.resolve(ctx.workspace, i.inventory!);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw new ParseError(`cannot read '${i.inventory}' (looked at ${file}); is the path relative to the workspace and is the repository checked out?`);
      }
      return inventoryTargets(text, i['inventory-group'], defaults, file);
    });
  } else {
    problems.push({ input: 'hosts', message: "no targets: set 'hosts' (one [user@]host[:port] per line) or 'inventory'" });
  }
  if (targets && targets.length === 0) problems.push({ input: 'hosts', message: 'lists no host' });

  const key = i['ssh-key'] ? attempt('ssh-key', () => parsePrivateKey(i['ssh-key']!, i['ssh-key-passphrase'])) : undefined;
  if (!i['ssh-key'] && !problems.some((p) => p.input === 'ssh-key')) problems.push({ input: 'ssh-key', message: 'is required to reach the hosts but was not set' });

  let hostKeys: HostKeyPolicy | undefined;
  const given = [i['known-hosts'] && 'known-hosts', i['host-fingerprints'] && 'host-fingerprints'].filter(Boolean);
  if (given.length > 1) {
    problems.push({ input: 'known-hosts', message: "give either 'known-hosts' or 'host-fingerprints', not both" });
  } else if (i['known-hosts']) {
    const kh = attempt('known-hosts', () => KnownHosts.parse(i['known-hosts']!));
    if (kh) hostKeys = { mode: 'known-hosts', knownHosts: kh };
  } else if (i['host-fingerprints']) {
    const fp = attempt('host-fingerprints', () => Fingerprints.parse(i['host-fingerprints']!));
    if (fp) hostKeys = { mode: 'fingerprints', fingerprints: fp };
  } else if (i['insecure-ignore-host-key']) {
    hostKeys = { mode: 'insecure' };
  } else {
    hostKeys = { mode: 'none' };
  }
  if (i['insecure-ignore-host-key'] && given.length) {
    problems.push({ input: 'insecure-ignore-host-key', message: `is true while '${given[0]}' is set; remove one of them` });
  }

  let proxyJump: Target | undefined;
  if (i['proxy-jump']) proxyJump = attempt('proxy-jump', () => parseHost(i['proxy-jump']!, defaults));

  if (problems.length) throw new InputError(problems);
  if (hostKeys!.mode === 'insecure') {
    ctx.logger.warning(
      "insecure-ignore-host-key is true: host keys are NOT verified, so anyone between the runner and the hosts can impersonate them and read what is sent (keys, env files, backups). Pin keys with 'known-hosts' instead.",
    );
  }
  return {
    targets: targets!,
    maxParallel: i['max-parallel'],
    options: {
      key: key!,
      hostKeys: hostKeys!,
      connectTimeoutMs: i['connect-timeout'],
      connectRetries: i['connect-retries'],
      commandTimeoutMs: i['command-timeout'],
      proxyJump,
      logger: ctx.logger,
    },
  };
}

/** Resolve the SSH setup from parsed values, adding its problems to `problems` (each input once). */
export function resolveSshInto(values: Record<string, unknown>, problems: Problem[], ctx: { workspace: string; logger: Logger }): SshSetup | undefined {
  try {
    return resolveSsh(values as unknown as SshInputs, ctx);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const named = new Set(problems.map((p) => p.input));
    problems.push(...e.problems.filter((p) => !named.has(p.input)));
    return undefined;
  }
}

/**
 * Parse an action's inputs (its schema includes `sshSchema`) and resolve the SSH setup,
 * reporting every problem of both at once.
 */
export function parseSshAction<S extends Schema>(schema: S, src: InputSource, ctx: { workspace: string; logger: Logger }): { inputs: Parsed<S>; ssh: SshSetup } {
  const { values, problems } = collectInputs(schema, src);
  const ssh = resolveSshInto(values, problems, ctx);
  if (problems.length) throw new InputError(problems);
  return { inputs: values, ssh: ssh! };
}
