/**
 * Dumping and restoring data on the server itself, next to the database (never a client on
 * the runner, whose version may not match the server's). Every dump writes to stdout;
 * every restore reads stdin. Passwords come from a 0600 file on the host, read into the
 * tool's environment variable by a constant wrapper: never in argv, never in the log.
 */
import { and, group, sh, shScript, toFile, type Command } from '../shell/index.js';

/** Run `c` (a simple command) with `variable` set from the content of `file`. */
export function withSecretFromFile(variable: 'PGPASSWORD' | 'MYSQL_PWD', file: string, c: string[]): Command {
  return shScript(sh`v=$1; f=$2; shift 2; export "$v=$(cat "$f")"; exec "$@"`, variable, file, ...c);
}

export interface Connection {
  database: string;
  user: string;
  /** As seen from the server; none: the local socket. */
  host?: string;
  port?: number;
}

/** Where a database tool runs: on the host, or inside a container (`docker exec`). */
export type Place = { kind: 'host' } | { kind: 'container'; container: string; env: string[] } | { kind: 'compose'; composeArgs: string[]; service: string; env: string[] };

/** The tool invocation `argv`, run where the place says (stdin passed through). */
export function at(place: Place, argv: string[]): string[] {
  if (place.kind === 'host') return argv;
  const env = place.env.flatMap((e) => ['-e', e]);
  if (place.kind === 'container') return ['docker', 'exec', '-i', ...env, place.container, ...argv];
  return [...place.composeArgs, 'exec', '-T', ...env, place.service, ...argv];
}

const pgConn = (c: Connection) => ['-U', c.user, ...(c.host ? ['-h', c.host] : []), ...(c.port ? ['-p', String(c.port)] : [])];

/** `pg_dump -Fc` (custom format, compressed by pg_dump); `uncompressed`: `-Z0` (the runner compresses, or nothing does). */
export function pgDumpArgs(c: Connection, uncompressed: boolean): string[] {
  return ['pg_dump', '-Fc', ...(uncompressed ? ['-Z0'] : []), '--no-password', ...pgConn(c), '-d', c.database];
}

export function pgRestoreArgs(c: Connection): string[] {
  return ['pg_restore', '--no-owner', '--no-privileges', '--exit-on-error', '--no-password', ...pgConn(c), '-d', c.database];
}

/** Reads a custom-format dump from stdin completely: a truncated dump fails (`-l` would not notice). */
export function pgValidateArgs(): string[] {
  return ['pg_restore', '-f', '/dev/null'];
}

/** How many user relations the database has (0: empty). */
export function pgCountArgs(c: Connection): string[] {
  return [
    'psql',
    '--no-password',
    '-X',
    '-tA',
    ...pgConn(c),
    '-d',
    c.database,
    '-c',
    "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%' and c.relkind in ('r', 'v', 'm', 'S', 'f', 'p')",
  ];
}

export function pgDropCreateArgs(c: Connection): string[][] {
  const conn = pgConn(c);
  return [
    ['dropdb', '--no-password', '--if-exists', ...conn, c.database],
    ['createdb', '--no-password', ...conn, c.database],
  ];
}

/** mariadb-dump when the host has it, else mysqldump (the same options). */
export function mysqlTool(tool: 'dump' | 'client', args: string[]): Command {
  return tool === 'dump'
    ? shScript(sh`if command -v mariadb-dump >/dev/null 2>&1; then exec mariadb-dump "$@"; else exec mysqldump "$@"; fi`, ...args)
    : shScript(sh`if command -v mariadb >/dev/null 2>&1; then exec mariadb "$@"; else exec mysql "$@"; fi`, ...args);
}

const myConn = (c: Connection) => ['-u', c.user, ...(c.host ? ['-h', c.host] : []), ...(c.port ? ['-P', String(c.port)] : [])];

/** A consistent dump of one database (`--single-transaction`), ending with `-- Dump completed`. */
export function mysqlDumpArgs(c: Connection): string[] {
  return ['--single-transaction', '--routines', '--triggers', '--events', '--hex-blob', '--default-character-set=utf8mb4', ...myConn(c), c.database];
}

export function mysqlClientArgs(c: Connection, sql?: string): string[] {
  return ['--batch', '--skip-column-names', ...myConn(c), ...(sql ? ['-e', sql] : []), c.database];
}

/** A MySQL identifier in backticks (names are checked against a strict pattern first). */
export const myIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/** A consistent copy of a live SQLite database (the online backup API, never `cp`), to stdout. */
export function sqliteDumpCommand(db: string): Command {
  return shScript(
    sh`t=$(mktemp "\${TMPDIR:-/tmp}/ops-sqlite.XXXXXX")
trap 'rm -f "$t"' EXIT
# A writer holding its lock makes the copy wait (up to 60 s), not fail with "database is locked".
sqlite3 -cmd '.timeout 60000' "$1" ".backup '$t'"
cat "$t"`,
    db,
  );
}

/**
 * Replace a SQLite database with the copy on stdin: written next to it, checked with
 * `PRAGMA integrity_check`, then renamed over it (with `validate`, only checked).
 */
export function sqliteRestoreCommand(db: string, replace: boolean): Command {
  return shScript(
    sh`d=$1; replace=$2
t="$d.restoring-$$"
trap 'rm -f "$t"' EXIT
umask 077
mkdir -p "$(dirname "$d")"
cat > "$t"
r=$(sqlite3 "$t" 'PRAGMA integrity_check;')
if [ "$r" != ok ]; then echo "the restored database fails its integrity check: $r" >&2; exit 3; fi
if [ "$replace" = yes ]; then mv -f "$t" "$d"; rm -f "$d-wal" "$d-shm"; trap - EXIT; fi`,
    db,
    replace ? 'yes' : 'no',
  );
}

export function fileExistsCommand(file: string): Command {
  return shScript(sh`if [ -e "$1" ]; then echo yes; else echo no; fi`, file);
}

/** A tar of absolute paths, relative to / (modes, owners and symlinks kept). */
export function filesTarCommand(paths: string[]): Command {
  return ['tar', '-C', '/', '-cf', '-', '--', ...paths.map((p) => p.replace(/^\/+/, ''))];
}

/** Extract the tar on stdin under `root` (with `list`, only read it through). */
export function untarCommand(root: string, list = false): Command {
  return list ? ['tar', '-tf', '-'] : shScript(sh`mkdir -p "$1" && exec tar -C "$1" -xpf -`, root);
}

/**
 * Flags of the helper container that reads or writes a volume: no network, and no log driver
 * (an attached container's output would otherwise also be written to its log on the
 * server's disk: a second copy of the whole dump).
 */
const HELPER = ['--rm', '--network', 'none', '--log-driver', 'none'];

/** A docker volume's content as a tar, through a helper container. */
export function volumeTarCommand(volume: string, image: string): Command {
  return ['docker', 'run', ...HELPER, '-v', `${volume}:/source:ro`, '--entrypoint', 'tar', image, '-C', '/source', '-cf', '-', '.'];
}

export function volumeUntarCommand(volume: string, image: string): Command {
  return ['docker', 'run', ...HELPER, '-i', '-v', `${volume}:/target`, '--entrypoint', 'tar', image, '-C', '/target', '-xpf', '-'];
}

/** Whether the volume exists and has files: `missing`, `empty` or `used`. */
export function volumeStateCommand(volume: string, image: string): Command {
  return shScript(
    sh`if ! docker volume inspect "$1" >/dev/null 2>&1; then echo missing; exit 0; fi
n=$(docker run --rm --network none -v "$1:/target:ro" --entrypoint ls "$2" -A /target | wc -l)
if [ "$n" -eq 0 ]; then echo empty; else echo used; fi`,
    volume,
    image,
  );
}

export function volumeRecreateCommand(volume: string): Command {
  return shScript(sh`docker volume rm "$1" >/dev/null; docker volume create "$1" >/dev/null`, volume);
}

/**
 * `c`, then (when it succeeded) read the rest of stdin: a tool that stops at its format's end
 * leaves the sender's stream whole, so the runner hashes every byte it sent.
 */
export function drainStdinAfter(c: Command): Command {
  return and(group(c), toFile(['cat'], '/dev/null'));
}

/** The first line of a tool's `--version`. */
export function versionCommand(argv: string[]): Command {
  return argv;
}
