/**
 * Opening a verified SSH connection: the handshake (host key checked against the policy,
 * trying each key type the pins name), authentication errors that say what to do, and
 * retries with backoff for network errors only.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type Client as ClientT, type ConnectConfig } from 'ssh2';
import { errorMessage, type Logger } from '../log.js';
import { formatDuration } from '../text.js';
import { SshError, classifyConnectError } from './errors.js';
import { HOST_KEY_FAMILIES, expectedKeys, fingerprint, hostKeyAlgorithms, keyType, knownHostsLine, verify, type HostKeyPolicy, type Verdict } from './hostkeys.js';
import type { PrivateKey } from './keys.js';
import type { Target } from './target.js';

const { Client } = ssh2;

export interface SshOptions {
  key: PrivateKey;
  hostKeys: HostKeyPolicy;
  connectTimeoutMs: number;
  connectRetries: number;
  commandTimeoutMs: number;
  proxyJump?: Target;
  logger: Logger;
  keepaliveIntervalMs?: number;
  /** Base of the exponential backoff between connect attempts (tests shorten it). */
  retryBaseMs?: number;
}

/** A connection to go through (a jump host). */
export interface Via {
  readonly target: Target;
  forwardOut(host: string, port: number): Promise<Duplex>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Host-key failure messages: what happened, what was presented, what to set. */
function hostKeyMessage(v: Verdict, t: Target, blob: Buffer, policy: HostKeyPolicy, presentedAll: string[]): string {
  const fp = fingerprint(blob);
  const line = knownHostsLine(t.host, t.port, blob);
  const presented = presentedAll.length > 1 ? presentedAll.join(', ') : `${keyType(blob)} ${fp}`;
  switch (v) {
    case 'unconfigured':
      return (
        `host ${t.name}: refusing to connect without verifying its host key. ` +
        `Set 'known-hosts' (or 'host-fingerprints'), or opt out with 'insecure-ignore-host-key: true'. ` +
        `The host presented ${presented}. If that is your server, pin it with this known-hosts line:\n  ${line}`
      );
    case 'unknown':
      return (
        `host ${t.name}: its host key is not in '${policy.mode === 'fingerprints' ? 'host-fingerprints' : 'known-hosts'}'. ` +
        `The host presented ${presented}. If that is your server, add:\n  ${line}`
      );
    case 'revoked':
      return `host ${t.name}: the host presented a key marked @revoked in 'known-hosts' (${keyType(blob)} ${fp}). Not connecting.`;
    default:
      return (
        `host ${t.name}: HOST KEY MISMATCH. Expected ${expectedKeys(policy, t.name, t.host, t.port).join(' or ')}, ` +
        `but the host presented ${presented}. Someone may be intercepting the connection, or the host was ` +
        `reinstalled; verify the new key out of band before updating 'known-hosts'/'host-fingerprints'.`
      );
  }
}

type Handshake = { client?: ClientT; rejected?: { v: Verdict; blob: Buffer } };

export async function connectWithRetries(target: Target, opts: SshOptions, via?: Via): Promise<ClientT> {
  const attempts = 1 + opts.connectRetries;
  const base = opts.retryBaseMs ?? 1000;
  let last: SshError | undefined;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) {
      const wait = Math.min(base * 2 ** (i - 1), 15_000);
      opts.logger.info(`host ${target.name}: ${last!.message}; retrying in ${formatDuration(wait)} (attempt ${i + 1} of ${attempts})`);
      await sleep(wait);
    }
    try {
      return await connectVerified(target, opts, via);
    } catch (e) {
      // Only network trouble is worth another attempt; anything else is final as it is.
      if (!(e instanceof SshError)) throw e;
      last = e;
      if (last.kind !== 'connect') throw last;
    }
  }
  throw new SshError(
    'connect',
    target.name,
    `${last!.message} (gave up after ${attempts} attempt${attempts > 1 ? 's' : ''}; check that the host is up, that sshd listens on port ${target.port}, and the network/firewall between the runner and the host; 'connect-timeout' and 'connect-retries' tune this)`,
  );
}

/** One handshake, trying other host-key types when the pins name a type the host did not offer first. */
async function connectVerified(target: Target, opts: SshOptions, via?: Via): Promise<ClientT> {
  const policy = opts.hostKeys;
  const knownTypes = policy.mode === 'known-hosts' ? policy.knownHosts.typesFor(target.host, target.port) : [];
  const known = policy.mode === 'known-hosts' ? hostKeyAlgorithms(knownTypes) : undefined;
  const tries: (string[] | undefined)[] = policy.mode === 'fingerprints' ? [undefined, ...HOST_KEY_FAMILIES] : [known];
  const presented: string[] = [];
  let firstFailure: { v: Verdict; blob: Buffer } | undefined;
  for (const algos of tries) {
    const r = await handshake(target, opts, via, algos);
    if (r.client) return r.client;
    if (!r.rejected) continue; // the host has no key of that type
    const label = `${keyType(r.rejected.blob)} ${fingerprint(r.rejected.blob)}`;
    if (!presented.includes(label)) presented.push(label);
    firstFailure ??= r.rejected;
    if (r.rejected.v !== 'mismatch') break;
  }
  if (firstFailure) throw new SshError('hostkey', target.name, hostKeyMessage(firstFailure.v, target, firstFailure.blob, policy, presented));
  // No handshake got as far as a host key: the host offers none of the pinned key types.
  // Ask it for each type it has, so the message says what it offers.
  const offered: Buffer[] = [];
  for (const algos of HOST_KEY_FAMILIES) {
    const r = await handshake(target, { ...opts, hostKeys: { mode: 'none' } }, via, algos).catch(() => ({}) as Handshake);
    if (r.rejected) offered.push(r.rejected.blob);
  }
  const pinned = policy.mode === 'known-hosts' ? knownTypes.join(', ') : 'the pinned types';
  throw new SshError(
    'hostkey',
    target.name,
    `host ${target.name}: the host offers no host key of the type pinned for it in 'known-hosts' (${pinned}); it offers ${
      offered.length ? offered.map((b) => `${keyType(b)} ${fingerprint(b)}`).join(', ') : 'no key type this client supports'
    }. Verify the right key out of band and pin it${offered[0] ? `, e.g.:\n  ${knownHostsLine(target.host, target.port, offered[0])}` : '.'}`,
  );
}

async function handshake(target: Target, opts: SshOptions, via: Via | undefined, algos: string[] | undefined): Promise<Handshake> {
  let rejected: { v: Verdict; blob: Buffer } | undefined;
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey: opts.key.text,
    passphrase: opts.key.passphrase,
    readyTimeout: opts.connectTimeoutMs,
    keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
    keepaliveCountMax: 4,
    tryKeyboard: false,
    hostVerifier: (blob: Buffer) => {
      const v = verify(opts.hostKeys, target.name, target.host, target.port, blob);
      if (v === 'ok') {
        if (opts.hostKeys.mode === 'insecure') {
          opts.logger.warning(
            `host ${target.name}: host key NOT verified (insecure-ignore-host-key); it presented ${keyType(blob)} ${fingerprint(blob)}. Pin it with known-hosts line: ${knownHostsLine(target.host, target.port, blob)}`,
          );
        }
        return true;
      }
      rejected = { v, blob };
      return false;
    },
    ...(algos ? { algorithms: { serverHostKey: algos as never } } : {}),
  };
  if (via) {
    try {
      config.sock = (await via.forwardOut(target.host, target.port)) as never;
    } catch (e) {
      throw new SshError('connect', target.name, `host ${target.name}: the jump host ${via.target.name} could not reach ${target.host}:${target.port}: ${errorMessage(e)}`);
    }
  }
  const client = new Client();
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      client.once('error', onError);
      client.once('close', () => reject(new Error('Connection lost before handshake')));
      client.once('ready', () => {
        client.removeListener('error', onError);
        client.removeAllListeners('close');
        resolve();
      });
      // Nagle off from the first byte: the handshake is several small exchanges.
      client.once('connect', () => client.setNoDelay(true));
      try {
        client.connect(config);
      } catch (e) {
        reject(e);
      }
    });
    // Without TCP_NODELAY every command waits on Nagle and delayed ACKs (~80 ms each,
    // measured by bench/ssh.ts); OpenSSH sets it too.
    client.setNoDelay(true);
    return { client };
  } catch (e) {
    client.removeAllListeners();
    client.on('error', () => {});
    client.end();
    if (rejected) return { rejected };
    const msg = errorMessage(e);
    if (algos && /no matching host key format|host key/i.test(msg)) return {};
    const kind = classifyConnectError(e);
    if (kind === 'auth') {
      throw new SshError(
        'auth',
        target.name,
        `host ${target.name}: authentication failed for user '${target.user}' with the ${opts.key.type} key ${opts.key.fingerprint} from 'ssh-key'. ` +
          `Check that the user exists on the host and that its ~/.ssh/authorized_keys holds this public key:\n  ${opts.key.publicLine}`,
      );
    }
    if (kind === 'dns') throw new SshError('dns', target.name, `host ${target.name}: cannot resolve '${target.host}' (${msg}); check the host name`);
    if (kind === 'connect') throw new SshError('connect', target.name, `host ${target.name}: cannot connect to ${target.host}:${target.port}: ${msg}`);
    throw new SshError('protocol', target.name, `host ${target.name}: the SSH handshake with ${target.host}:${target.port} failed: ${msg}`);
  }
}
