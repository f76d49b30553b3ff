/** The backup and restore actions' inputs, checked and turned into configs (every problem reported at once). */
import { existsSync } from 'node:fs';
import type { Parsed, Problem } from '../inputs/schema.js';
import { resolveSshInto, type SshSetup } from '../inputs/ssh.js';
import { parseHost } from '../fleet/targets.js';
import type { SshPool } from '../host/pool.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets } from '../health/spec.js';
import { AGE_IDENTITY, AGE_RECIPIENT, zstdAvailable, type Decryption, type Encryption } from '../backup/pipeline.js';
import type { SourceSpec } from '../backup/sources.js';
import { lazyStorage, s3Url, type Storage } from '../storage/index.js';
import { fileStorage } from '../storage/file.js';
import type { S3Options } from '../storage/s3.js';
import { sftpStorage } from '../storage/sftp.js';
import type { sourceSchema, storageSchema, StorageUrl } from '../schemas/backup-common.js';
import type { schema as backupSchema } from '../schemas/backup.js';
import type { schema as restoreSchema } from '../schemas/restore.js';
import type { Caller } from './caller.js';
import type { BackupConfig } from './backup.js';
import type { RestoreConfig } from './restore.js';

type SourceValues = Parsed<typeof sourceSchema>;
type StorageValues = Parsed<typeof storageSchema>;

/** The source (or restore target) the inputs describe, with the inputs it needs checked. */
export function sourceFrom(v: SourceValues & { 'restore-to'?: string }, problems: Problem[]): SourceSpec | undefined {
  const need = (input: keyof SourceValues, why: string) => {
    if (!v[input] || (Array.isArray(v[input]) && !(v[input] as unknown[]).length)) problems.push({ input, message: `is required for source '${v.source}' (${why})` });
  };
  switch (v.source) {
    case 'postgres':
    case 'mysql': {
      need('database', 'the database to back up or restore');
      if (v.container && v['compose-service']) problems.push({ input: 'container', message: "give either 'container' or 'compose-service', not both" });
      const place = v.container
        ? { kind: 'container' as const, container: v.container }
        : v['compose-service']
          ? { kind: 'compose' as const, service: v['compose-service'] }
          : { kind: 'host' as const };
      const user = v['db-user'] || (v.source === 'postgres' ? 'postgres' : 'root');
      return { kind: v.source, conn: { database: v.database, user, host: v['db-host'] || undefined, port: v['db-port'] }, password: v['db-password'], place };
    }
    case 'sqlite':
      need('sqlite-path', 'the database file on the host');
      return { kind: 'sqlite', path: v['sqlite-path'] };
    case 'files':
      need('paths', 'absolute paths on the host, one per line');
      return { kind: 'files', paths: v.paths, restoreTo: v['restore-to'] };
    case 'volume':
      need('volume', 'the docker volume');
      return { kind: 'volume', volume: v.volume, image: v['volume-image'] };
  }
  return undefined;
}

/** The storage the inputs name, checked (S3 region and credentials default to the AWS_* variables). */
export function checkStorage(v: StorageValues, problems: Problem[]): void {
  const s = v.storage as StorageUrl | undefined;
  if (s?.kind === 's3') {
    const id = v['s3-access-key-id'] || process.env.AWS_ACCESS_KEY_ID;
    const key = v['s3-secret-access-key'] || process.env.AWS_SECRET_ACCESS_KEY;
    if (!!id !== !!key)
      problems.push({
        input: id ? 's3-secret-access-key' : 's3-access-key-id',
        message: "is needed with the other half of the S3 credentials (or set neither, to use the runner's own AWS credentials)",
      });
  } else if (s && (v['s3-endpoint'] || v['s3-access-key-id'])) {
    problems.push({ input: 's3-endpoint', message: `is for s3:// storage; the storage is ${s.kind}://` });
  }
}

/** Open the storage (an sftp:// one through the run's SSH setup, verified like any host). */
export async function openStorage(v: StorageValues, ssh: SshSetup, pool: SshPool): Promise<Storage> {
  const s = v.storage as StorageUrl;
  if (s.kind === 'file') return fileStorage(s.path);
  if (s.kind === 'sftp') {
    const t = parseHost(`${s.user ? `${s.user}@` : ''}${s.host.includes(':') ? `[${s.host}]` : s.host}${s.port ? `:${s.port}` : ''}`, { user: ssh.targets[0]?.user ?? '', port: 22 });
    const session = await pool.get({ ...t, name: `${t.user}@${t.host}:${t.port} (storage)` });
    return sftpStorage(session, s.path, `sftp://${t.user}@${t.host}:${t.port}${s.path}`);
  }
  const id = v['s3-access-key-id'] || process.env.AWS_ACCESS_KEY_ID;
  const key = v['s3-secret-access-key'] || process.env.AWS_SECRET_ACCESS_KEY;
  const o: S3Options = {
    bucket: s.bucket,
    prefix: s.prefix,
    endpoint: v['s3-endpoint'] || process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined,
    region: v['s3-region'] || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
    forcePathStyle: v['s3-force-path-style'],
    checksum: v['s3-checksum'],
    credentials: id && key ? { accessKeyId: id, secretAccessKey: key, sessionToken: v['s3-session-token'] || process.env.AWS_SESSION_TOKEN || undefined } : undefined,
  };
  // The AWS SDK is loaded only when the storage is used.
  return lazyStorage(s3Url(o), async () => (await import('../storage/s3.js')).s3Storage(o));
}

function oneHost(ssh: SshSetup | undefined, problems: Problem[]): void {
  if (ssh && ssh.targets.length !== 1)
    problems.push({ input: 'hosts', message: `names ${ssh.targets.length} hosts; a backup or restore runs on the one host next to the data (use one step per host)` });
}

export interface PreparedBackup {
  cfg: BackupConfig;
  ssh: SshSetup;
}

export function prepareBackup(v: Parsed<typeof backupSchema>, problems: Problem[], c: Caller): PreparedBackup | undefined {
  const ssh = resolveSshInto(v, problems, { workspace: c.workspace, logger: c.logger });
  oneHost(ssh, problems);
  const source = sourceFrom(v, problems);
  checkStorage(v, problems);
  let encryption: Encryption | undefined;
  if (v.encryption === 'none') {
    if (v['encrypt-to'].length || v.passphrase) problems.push({ input: 'encryption', message: "is 'none' but 'encrypt-to' or 'passphrase' is set" });
    encryption = { none: true };
    c.logger.warning('encryption: none: the backup is stored in the clear; anyone who can read the storage can read the data');
  } else if (v['encrypt-to'].length && v.passphrase) {
    problems.push({ input: 'passphrase', message: "give either 'encrypt-to' (age recipients) or 'passphrase', not both" });
  } else if (v['encrypt-to'].length) {
    const bad = v['encrypt-to'].filter((r) => !AGE_RECIPIENT.test(r));
    if (bad.length) problems.push({ input: 'encrypt-to', message: `'${bad[0]}' is not an age X25519 recipient (age1..., as age-keygen -y prints it)` });
    encryption = { recipients: v['encrypt-to'] };
  } else if (v.passphrase) {
    if (v.passphrase.length < 12) problems.push({ input: 'passphrase', message: 'is shorter than 12 characters; an offline attack on a stolen backup could guess it' });
    encryption = { passphrase: v.passphrase };
  } else {
    problems.push({ input: 'encrypt-to', message: "is required: backups are encrypted by default. Give age recipients ('encrypt-to'), a 'passphrase', or set encryption: none explicitly" });
  }
  // auto: PostgreSQL's custom format compresses inside pg_dump, at no cost to its speed (it
  // waits on the server's COPY); everything else is compressed here with zstd.
  const dumpCompresses = v.compression === 'auto' && v.source === 'postgres';
  const compression = v.compression === 'auto' ? (dumpCompresses ? 'none' : zstdAvailable() ? 'zstd' : 'gzip') : v.compression;
  if (v.compression === 'zstd' && !zstdAvailable()) problems.push({ input: 'compression', message: `zstd needs Node 22.15 or later (this is ${process.version}); use gzip` });
  if (problems.length || !ssh || !source || !encryption) return undefined;
  return {
    ssh,
    cfg: {
      run: { app: v.app, environment: v.environment, actor: c.actor, runUrl: c.runUrl, runId: c.runId },
      name: v.name || (v.source === 'postgres' || v.source === 'mysql' ? `${v.source}-${v.database}` : v.source),
      source,
      compression,
      dumpCompresses,
      encryption,
      retention: v.retention,
      appDir: v['app-dir'] || `~/apps/${v.app}-${v.environment}`,
      commandTimeoutMs: ssh.options.commandTimeoutMs,
      timeoutMs: v.timeout,
    },
  };
}

export interface PreparedRestore {
  cfg: RestoreConfig;
  ssh: SshSetup;
}

export function prepareRestore(v: Parsed<typeof restoreSchema>, problems: Problem[], c: Caller): PreparedRestore | undefined {
  const spec = healthSpec(v, 'health-', problems);
  maskHealthSecrets(spec, c.mask);
  const tls = insecureTlsWarning(spec, 'health-');
  if (tls) c.logger.warning(tls);
  const ssh = resolveSshInto(v, problems, { workspace: c.workspace, logger: c.logger });
  oneHost(ssh, problems);
  const target = sourceFrom(v, problems);
  checkStorage(v, problems);
  let decryption: Decryption | undefined;
  if (v.identity && v.passphrase) problems.push({ input: 'passphrase', message: "give either 'identity' or 'passphrase', not both" });
  else if (v.identity) {
    const ids = v.identity
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    if (!ids.length || ids.some((i) => !AGE_IDENTITY.test(i)))
      problems.push({ input: 'identity', message: 'is not an age identity (AGE-SECRET-KEY-1..., the private half of an encrypt-to recipient)' });
    decryption = { identities: ids };
  } else if (v.passphrase) decryption = { passphrase: v.passphrase };
  else decryption = { none: true };
  if (v['report-path'] && existsSync(v['report-path']) && !v['report-path'].endsWith('.md')) problems.push({ input: 'report-path', message: 'exists and is not a .md file' });
  if (problems.length || !ssh || !target || !decryption) return undefined;
  return {
    ssh,
    cfg: {
      run: { app: v.app, environment: v.environment, actor: c.actor, runUrl: c.runUrl, runId: c.runId },
      from: {
        app: v['from-app'] || v.app,
        environment: v['from-environment'] || v.environment,
        name: v.name || (v.source === 'postgres' || v.source === 'mysql' ? `${v.source}-${v.database}` : v.source),
      },
      backup: v.backup,
      decryption,
      mode: v.mode,
      dropExisting: v['drop-existing'],
      target,
      appDir: v['app-dir'] || `~/apps/${v.app}-${v.environment}`,
      gate: spec.urls.length ? spec : undefined,
      rtoTargetMs: v['rto-target'],
      rpoTargetMs: v['rpo-target'],
      lock: { timeoutMs: v['lock-timeout'], ttlMs: v['lock-ttl'] },
      commandTimeoutMs: ssh.options.commandTimeoutMs,
      timeoutMs: v.timeout,
    },
  };
}
