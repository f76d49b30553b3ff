/**
 * What can be backed up, and how it is dumped and restored on the server: PostgreSQL
 * (custom format), MySQL/MariaDB (a consistent SQL dump that must end with its completion
 * marker), SQLite (a consistent copy of the live file), files (tar) and docker volumes.
 */
import {
  at,
  fileExistsCommand,
  filesTarCommand,
  mysqlClientArgs,
  mysqlDumpArgs,
  mysqlTool,
  myIdent,
  pgCountArgs,
  pgDropCreateArgs,
  pgDumpArgs,
  pgRestoreArgs,
  pgValidateArgs,
  sqliteDumpCommand,
  sqliteRestoreCommand,
  untarCommand,
  volumeRecreateCommand,
  volumeStateCommand,
  volumeTarCommand,
  volumeUntarCommand,
  withSecretFromFile,
  type Connection,
  type Place,
} from '../commands/backup.js';
import type { Command } from '../shell/index.js';
import type { SourceKind } from './manifest.js';

export type PlaceSpec = { kind: 'host' } | { kind: 'container'; container: string } | { kind: 'compose'; service: string };

export type SourceSpec =
  | { kind: 'postgres'; conn: Connection; password?: string; place: PlaceSpec }
  | { kind: 'mysql'; conn: Connection; password?: string; place: PlaceSpec }
  | { kind: 'sqlite'; path: string }
  | { kind: 'files'; paths: string[]; restoreTo?: string }
  | { kind: 'volume'; volume: string; image: string };

/** How to run tools for a source, given where its password file is and the compose args of a compose place. */
export interface Runner {
  passwordFile?: string;
  composeArgs?: string[];
}

const variable = (s: SourceSpec) => (s.kind === 'postgres' ? 'PGPASSWORD' : 'MYSQL_PWD');

function placeOf(s: Extract<SourceSpec, { place: PlaceSpec }>, r: Runner): Place {
  const env = s.password ? [variable(s)] : [];
  if (s.place.kind === 'container') return { kind: 'container', container: s.place.container, env };
  if (s.place.kind === 'compose') {
    if (!r.composeArgs) throw new Error(`compose-service '${s.place.service}' needs a deployed compose release in the app directory`);
    return { kind: 'compose', composeArgs: r.composeArgs, service: s.place.service, env };
  }
  return { kind: 'host' };
}

/** A tool call (argv) where the source lives, with its password from the file if there is one. */
function tool(s: Extract<SourceSpec, { place: PlaceSpec }>, r: Runner, argv: string[]): Command {
  const cmd = at(placeOf(s, r), argv);
  return s.password && r.passwordFile ? withSecretFromFile(variable(s), r.passwordFile, cmd) : cmd;
}

function mysqlCall(s: Extract<SourceSpec, { kind: 'mysql' }>, r: Runner, kind: 'dump' | 'client', args: string[]): Command {
  // mariadb-dump or mysqldump, whichever exists where the tool runs.
  const inner = mysqlTool(kind, args) as string[];
  return tool(s, r, inner);
}

export function describe(s: SourceSpec): string {
  switch (s.kind) {
    case 'postgres':
    case 'mysql':
      return `${s.kind} database ${s.conn.database}${s.place.kind === 'container' ? ` in container ${s.place.container}` : s.place.kind === 'compose' ? ` in compose service ${s.place.service}` : ''}`;
    case 'sqlite':
      return `sqlite database ${s.path}`;
    case 'files':
      return `files ${s.paths.join(', ')}`;
    case 'volume':
      return `docker volume ${s.volume}`;
  }
}

/** The dump: a command whose stdout is the data. */
export function dumpCommand(s: SourceSpec, r: Runner, uncompressed: boolean): Command {
  switch (s.kind) {
    case 'postgres':
      return tool(s, r, pgDumpArgs(s.conn, uncompressed));
    case 'mysql':
      return mysqlCall(s, r, 'dump', mysqlDumpArgs(s.conn));
    case 'sqlite':
      return sqliteDumpCommand(s.path);
    case 'files':
      return filesTarCommand(s.paths);
    case 'volume':
      return volumeTarCommand(s.volume, s.image);
  }
}

/** The dump tool's version (for the manifest). */
export function versionCommand(s: SourceSpec, r: Runner): Command {
  switch (s.kind) {
    case 'postgres':
      return at(placeOf(s, r), ['pg_dump', '--version']);
    case 'mysql':
      return at(placeOf(s, r), mysqlTool('dump', ['--version']) as string[]);
    case 'sqlite':
      return ['sqlite3', '--version'];
    case 'files':
      return ['tar', '--version'];
    case 'volume':
      return ['docker', 'version', '--format', 'docker {{.Server.Version}}'];
  }
}

/** The data object's extension (before compression and encryption). */
export function extension(kind: SourceKind): string {
  return { postgres: 'pgdump', mysql: 'sql', sqlite: 'sqlite', files: 'tar', volume: 'tar' }[kind];
}

/**
 * Judge a finished dump by its exit code and its last bytes: the warnings to record, or an
 * error (nothing is recorded as a backup then).
 */
export function judgeDump(kind: SourceKind, exitCode: number | null, tail: Buffer, bytes: number): { warnings: string[]; error?: string } {
  if (kind === 'files' || kind === 'volume') {
    if (exitCode === 1) return { warnings: ['tar exited 1: some files changed while they were read; the archive has what was there'] };
  }
  if (exitCode !== 0) return { warnings: [], error: `the dump exited with code ${exitCode}` };
  if (bytes === 0) return { warnings: [], error: 'the dump produced no data (0 bytes)' };
  if (kind === 'mysql' && !/-- Dump completed( on [^\n]*)?\s*$/.test(tail.toString('utf8'))) {
    return { warnings: [], error: "the dump does not end with '-- Dump completed': it is incomplete" };
  }
  return { warnings: [] };
}

/** A restore plan: a check of the target, how to empty it, the restore and the validation. */
export interface RestorePlan {
  /** Prints something that says whether the target holds data (see `isEmpty`). */
  probe?: Command;
  isEmpty: (probeOutput: string) => boolean;
  /** Run in order to make the target empty (drop-existing). */
  clear: Command[];
  /** Reads the plaintext on stdin and restores it. */
  restore: Command;
  /** Reads the plaintext on stdin and fails if it is not a complete, valid dump (changes nothing). */
  validate: Command;
}

export function restorePlan(s: SourceSpec, r: Runner): RestorePlan {
  switch (s.kind) {
    case 'postgres':
      return {
        probe: tool(s, r, pgCountArgs(s.conn)),
        isEmpty: (o) => o.trim() === '0',
        clear: pgDropCreateArgs(s.conn).map((a) => tool(s, r, a)),
        restore: tool(s, r, pgRestoreArgs(s.conn)),
        validate: at(placeOf(s, r), pgValidateArgs()),
      };
    case 'mysql':
      return {
        probe: mysqlCall(s, r, 'client', mysqlClientArgs(s.conn, 'SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()')),
        isEmpty: (o) => o.trim() === '0',
        clear: [
          mysqlCall(s, r, 'client', [
            ...mysqlClientArgs({ ...s.conn, database: '' }, `DROP DATABASE IF EXISTS ${myIdent(s.conn.database)}; CREATE DATABASE ${myIdent(s.conn.database)}`).filter((a) => a !== ''),
          ]),
        ],
        restore: mysqlCall(s, r, 'client', mysqlClientArgs(s.conn)),
        // A SQL dump is valid when it is complete: the runner checks its completion marker.
        validate: ['sh', '-c', 'cat >/dev/null'],
      };
    case 'sqlite':
      return {
        probe: fileExistsCommand(s.path),
        isEmpty: (o) => o.trim() === 'no',
        clear: [],
        restore: sqliteRestoreCommand(s.path, true),
        validate: sqliteRestoreCommand(`${s.path}.validate`, false),
      };
    case 'files':
      return { isEmpty: () => true, clear: [], restore: untarCommand(s.restoreTo ?? '/'), validate: untarCommand('/', true) };
    case 'volume':
      return {
        probe: volumeStateCommand(s.volume, s.image),
        isEmpty: (o) => o.trim() !== 'used',
        clear: [volumeRecreateCommand(s.volume)],
        restore: volumeUntarCommand(s.volume, s.image),
        validate: untarCommand('/', true),
      };
  }
}
