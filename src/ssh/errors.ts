/** Why an SSH operation failed. Only `connect` failures are retried. */
export type SshErrorKind = 'connect' | 'dns' | 'hostkey' | 'auth' | 'timeout' | 'command' | 'channel';

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

/** The last `n` non-empty lines of a text. */
export function tail(text: string, n = 20): string {
  const lines = text.replace(/\s+$/, '').split(/\r?\n/);
  return lines.slice(-n).join('\n');
}

const RETRYABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'EAI_AGAIN',
]);

/** Classify an error thrown by ssh2 while connecting. */
export function classifyConnectError(e: unknown): SshErrorKind {
  const err = e as { code?: string; level?: string; message?: string };
  if (err.level === 'client-authentication') return 'auth';
  if (err.code === 'ENOTFOUND') return 'dns';
  if (err.code && RETRYABLE.has(err.code)) return 'connect';
  const m = err.message ?? '';
  if (/Timed out while waiting for handshake|Connection lost before handshake|socket hang up|Keepalive timeout|connect ECONN|Channel open failure/i.test(m)) return 'connect';
  if (err.level === 'client-socket' || err.level === 'client-timeout') return 'connect';
  return 'connect';
}
