/**
 * Why an SSH operation failed. Only `connect` failures are retried when connecting;
 * `connection` means an established connection dropped while a command ran.
 */
export type SshErrorKind = 'connect' | 'dns' | 'hostkey' | 'auth' | 'protocol' | 'timeout' | 'command' | 'channel' | 'connection' | 'sudo';

export class SshError extends Error {
  constructor(
    readonly kind: SshErrorKind,
    readonly host: string,
    message: string,
    readonly details: { exitCode?: number | null; signal?: string; stderrTail?: string; step?: string } = {},
  ) {
    super(message);
    this.name = 'SshError';
  }
}

const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * Classify an error thrown by ssh2 while connecting: network trouble (`connect`, retried),
 * a name that does not resolve, a refused key, or anything else (`protocol`, not retried).
 */
export function classifyConnectError(e: unknown): SshErrorKind {
  const err = e as { code?: string; level?: string; message?: string };
  if (err.level === 'client-authentication') return 'auth';
  if (err.code === 'ENOTFOUND') return 'dns';
  if (err.code && RETRYABLE.has(err.code)) return 'connect';
  if (err.level === 'client-socket' || err.level === 'client-timeout') return 'connect';
  if (/Timed out while waiting for handshake|Connection lost before handshake|socket hang up|Keepalive timeout|Channel open failure/i.test(err.message ?? '')) return 'connect';
  return 'protocol';
}
