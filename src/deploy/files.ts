/** The release strategy (Capistrano layout): files in releases/<id>, shared paths linked, `current` switched. */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { createReadStream, statSync } from 'node:fs';
import { extractCommand, freeSpaceCommand, hookCommand, readTreeCommand, reuseFilesCommand, sharedPathsCommand, recordReleaseCommand } from '../commands/index.js';
import { formatBytes } from '../text.js';
import { confirmReuse, parseHostFiles, parseTree, planDelta, type HostFile, type Tree } from './tree.js';
import type { ReleaseManifest } from '../host/state.js';
import { switchCommand } from '../commands/index.js';
import type { HostCtx } from './context.js';
import type { ActivationStep } from './compose.js';

export interface FilesSource {
  /** A directory or a .tar / .tar.gz / .tgz in the workspace. */
  source: string;
  /** Paths under shared/ linked into each release; `dir/` for directories (created when missing). */
  sharedPaths: string[];
  buildCommand?: string;
  /** How files unchanged since the base release get into the new one: hard links, or copies. */
  reuse?: 'link' | 'copy';
}

interface Archive {
  stream: NodeJS.ReadableStream;
  gzip: boolean;
  /** Settles when the local producer has finished (rejects if it failed). */
  done: Promise<void>;
  /** Stop the local producer (the remote side gave up: nothing reads its output any more). */
  stop(): void;
}

/**
 * A tar of the directory `source`: everything, or only `paths` (each entry itself, no
 * recursion; given as `./path`, so no name can be read as an option of tar).
 */
function tarStream(source: string, paths?: string[]): Archive {
  const args = paths ? ['-C', source, '-cf', '-', '--null', '--no-recursion', '-T', '-'] : ['-C', source, '-cf', '-', '.'];
  const tar = spawn('tar', args, { stdio: [paths ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (paths) {
    tar.stdin!.on('error', () => {});
    // The root first: the release directory takes the source's mode, as with a whole tree.
    tar.stdin!.end(`.\0${paths.map((p) => `./${p}\0`).join('')}`);
  }
  // Consume at once: Node discards an unread child's output when the child exits, and
  // tar may finish before the SSH channel is open. The PassThrough holds it (backpressure).
  const out = new PassThrough();
  tar.stdout!.pipe(out);
  let err = '';
  tar.stderr!.on('data', (d) => (err += d));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('error', (e) => {
      const failure = new Error(`cannot run tar on the runner to pack ${source}: ${e.message}`);
      out.destroy(failure);
      reject(failure);
    });
    tar.on('close', (c, sig) => (c === 0 ? resolve() : reject(new Error(`tar of ${source} failed${sig ? ` (${sig})` : ''}: ${err.trim()}`))));
  });
  done.catch(() => {});
  return {
    stream: out,
    gzip: false,
    done,
    stop: () => {
      tar.stdout!.unpipe(out);
      out.destroy();
      if (tar.exitCode === null) tar.kill('SIGTERM');
    },
  };
}

function archiveStream(source: string, paths?: string[]): Archive {
  if (statSync(source).isDirectory()) return tarStream(source, paths);
  const file = createReadStream(source);
  // Reported through the upload (its input fails); never an unhandled error.
  file.on('error', () => {});
  return { stream: file, gzip: /\.(tgz|tar\.gz)$/i.test(source), done: Promise.resolve(), stop: () => file.destroy() };
}

/**
 * Stream the source (or only `paths` of a directory, `bytes` of content) into the release
 * directory; a failure on either side fails the step and stops the other. When the host
 * side fails, its free space is checked: a full disk is said as such.
 */
async function upload(h: HostCtx, dir: string, source: string, paths?: string[], bytes?: number): Promise<void> {
  const a = archiveStream(source, paths);
  const remote = h.session.run(extractCommand(dir, a.gzip), { step: 'upload', stdinStream: a.stream as never }).catch((e) => {
    a.stop();
    throw e;
  });
  const [r, l] = await Promise.allSettled([remote, a.done]);
  if (r.status === 'rejected') {
    const need = bytes ?? statSync(source).size;
    const free = await h.session
      .exec(freeSpaceCommand(dir), { step: 'free space' })
      .then((x) => Number.parseInt(x.stdout.trim(), 10) * 1024)
      .catch(() => Number.NaN);
    if (free < need + 1024 * 1024 && r.reason instanceof Error) {
      r.reason.message += `\nThe host's file system holding ${dir} has ${formatBytes(free)} free and this release sends ${formatBytes(need)}: free space there (or lower keep-releases), then deploy again.`;
    }
    throw r.reason;
  }
  if (l.status === 'rejected') throw l.reason;
}

/** The release a new one starts from: the one serving, else the newest file release on the host. */
function baseRelease(h: HostCtx): string | undefined {
  const isFiles = (id?: string) => !!id && h.state.manifests.get(id)?.strategy === 'release';
  if (isFiles(h.state.current)) return h.state.current;
  return [...h.state.releases].reverse().find(isFiles);
}

/**
 * What this host already has of the tree: the base release's recorded tree and its files
 * as they are now. Nothing (send everything) when there is no base, or it cannot be read.
 */
async function readBase(h: HostCtx, baseId: string): Promise<{ tree: Tree; files: Map<string, HostFile> } | undefined> {
  const r = await h.session.exec(readTreeCommand(h.layout.appDir, baseId), { step: 'read previous tree', quiet: true });
  const cut = r.stdout.indexOf('\n\0\n');
  if (r.code !== 0 || r.truncated || cut < 0) {
    if (r.code !== 0 || r.truncated)
      h.logger.info(`host ${h.target.name}: the files of release ${baseId} cannot be listed (${r.truncated ? 'too many' : r.stderr.trim().slice(-200) || `exit ${r.code}`}); sending every file`);
    return undefined;
  }
  const tree = parseTree(r.stdout.slice(0, cut));
  return tree ? { tree, files: parseHostFiles(r.stdout.slice(cut + 3)) } : undefined;
}

/**
 * Put the tree in the release directory: files unchanged since the base release are taken
 * from it on the host (hard links, or copies when a build step may write into the release),
 * everything else is streamed. Returns the tree as it now is on the host.
 */
async function sendTree(h: HostCtx, dir: string, source: string, tree: Tree, how: 'link' | 'copy'): Promise<Tree> {
  const baseId = baseRelease(h);
  const base = baseId ? await readBase(h, baseId) : undefined;
  let delta = planDelta(tree, base?.tree, base?.files);
  if (delta.reuse.length) {
    const r = await h.session.exec(reuseFilesCommand(h.layout.release(baseId!), dir, how), { step: 'reuse files', stdin: delta.reuse.map((p) => `./${p}\0`).join(''), quiet: true });
    if (r.code !== 0 || r.truncated) {
      h.logger.warning(`host ${h.target.name}: files of release ${baseId} could not be reused (${r.stderr.trim().slice(-300) || `exit ${r.code}`}); sending every file`);
      delta = planDelta(tree);
    } else delta = confirmReuse(tree, delta, parseHostFiles(r.stdout));
  }
  const all = delta.send.length === tree.entries.length;
  await upload(h, dir, source, all ? undefined : delta.send.map((e) => e.path), delta.sendBytes);
  h.logger.info(
    `host ${h.target.name}: sent ${delta.send.filter((e) => e.type === 'f').length} file(s), ${formatBytes(delta.sendBytes)}` +
      (delta.reuse.length ? `; ${delta.reuse.length} unchanged file(s), ${formatBytes(delta.reuseBytes)}, ${how === 'link' ? 'linked' : 'copied'} from ${baseId}` : ''),
  );
  return delta.stored;
}

export async function stageFiles(h: HostCtx, m: ReleaseManifest, src: FilesSource, hookEnv: Record<string, string>, tree?: Tree): Promise<ReleaseManifest> {
  const dir = h.layout.release(m.id);
  // Hard links only when nothing runs inside the release (the deploy's inputs decide: unchanged-files).
  const stored = tree ? await sendTree(h, dir, src.source, tree, src.reuse ?? (src.buildCommand ? 'copy' : 'link')) : undefined;
  if (!tree) await upload(h, dir, src.source);
  if (src.sharedPaths.length) await h.session.run(sharedPathsCommand(h.layout.appDir, dir, src.sharedPaths), { step: 'shared paths' });
  if (src.buildCommand) await h.session.run(hookCommand(dir, src.buildCommand, hookEnv), { step: 'build-command', stream: true });
  // Last, by rename: a release.json in the source (even a symlink) is replaced, never written through.
  await h.session.run(recordReleaseCommand(h.layout.appDir, m.id, JSON.stringify(m, null, 2) + '\n', !!stored), {
    step: 'record release',
    stdin: stored ? JSON.stringify(stored) : '',
  });
  return m;
}

/** What makes a file release serve: `current` switched atomically, then the release's restart command. */
export function filesActivation(h: HostCtx, m: ReleaseManifest, hookEnv: Record<string, string>): ActivationStep[] {
  return [
    { step: 'switch', command: switchCommand(h.layout.appDir, m.id) },
    ...(m.restart_command ? [{ step: 'restart-command', command: hookCommand(h.layout.current, m.restart_command, hookEnv), stream: true }] : []),
  ];
}
