/** The release strategy (Capistrano layout): files in releases/<id>, shared paths linked, `current` switched. */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { extractCommand, hookCommand, mkdirCommand, sharedPathsCommand } from '../commands/index.js';
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
}

interface Archive {
  stream: NodeJS.ReadableStream;
  gzip: boolean;
  /** Settles when the local producer has finished (rejects if it failed). */
  done: Promise<void>;
  /** Stop the local producer (the remote side gave up: nothing reads its output any more). */
  stop(): void;
}

function archiveStream(source: string): Archive {
  if (statSync(source).isDirectory()) {
    const tar = spawn('tar', ['-C', source, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Consume at once: Node discards an unread child's output when the child exits, and
    // tar may finish before the SSH channel is open. The PassThrough holds it (backpressure).
    const out = new PassThrough();
    tar.stdout.pipe(out);
    let err = '';
    tar.stderr.on('data', (d) => (err += d));
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
        tar.stdout.unpipe(out);
        out.destroy();
        if (tar.exitCode === null) tar.kill('SIGTERM');
      },
    };
  }
  const file = createReadStream(source);
  // Reported through the upload (its input fails); never an unhandled error.
  file.on('error', () => {});
  return { stream: file, gzip: /\.(tgz|tar\.gz)$/i.test(source), done: Promise.resolve(), stop: () => file.destroy() };
}

/** Stream the source into the release directory; a failure on either side fails the step and stops the other. */
async function upload(h: HostCtx, dir: string, source: string): Promise<void> {
  const a = archiveStream(source);
  const remote = h.session.run(extractCommand(dir, a.gzip), { step: 'upload', stdinStream: a.stream as never }).catch((e) => {
    a.stop();
    throw e;
  });
  const [r, l] = await Promise.allSettled([remote, a.done]);
  if (r.status === 'rejected') throw r.reason;
  if (l.status === 'rejected') throw l.reason;
}

export async function stageFiles(h: HostCtx, m: ReleaseManifest, src: FilesSource, hookEnv: Record<string, string>): Promise<ReleaseManifest> {
  const dir = h.layout.release(m.id);
  await h.session.run(mkdirCommand(dir), { step: 'stage' });
  await upload(h, dir, src.source);
  if (src.sharedPaths.length) await h.session.run(sharedPathsCommand(h.layout.appDir, dir, src.sharedPaths), { step: 'shared paths' });
  if (src.buildCommand) await h.session.run(hookCommand(dir, src.buildCommand, hookEnv), { step: 'build-command', stream: true });
  // Last, by rename: a release.json in the source (even a symlink) is replaced, never written through.
  await h.session.replaceFile(path.posix.join(dir, 'release.json'), JSON.stringify(m, null, 2) + '\n', 0o644);
  return m;
}

/** What makes a file release serve: `current` switched atomically, then the release's restart command. */
export function filesActivation(h: HostCtx, m: ReleaseManifest, hookEnv: Record<string, string>): ActivationStep[] {
  return [
    { step: 'switch', command: switchCommand(h.layout.appDir, m.id) },
    ...(m.restart_command ? [{ step: 'restart-command', command: hookCommand(h.layout.current, m.restart_command, hookEnv), stream: true }] : []),
  ];
}
