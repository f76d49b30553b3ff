/**
 * What a main step hands to its `post:` step, typed in one place. Today: the locks it holds,
 * so that if the main step dies (killed, cancelled, crashed), the post step releases every
 * lock that is still this run's.
 */
import { collectInputs, InputError, type Schema } from '../inputs/schema.js';
import { resolveSshInto } from '../inputs/ssh.js';
import { errorMessage } from '../log.js';
import { SshPool } from '../host/pool.js';
import type { LockSite } from '../host/lock.js';
import { releaseCommand } from '../commands/index.js';
import type { ActionContext } from './runtime.js';

/** Every key of the post-step state, with its value's type. */
export interface PostState {
  /** The locks held: the owner id and, per host, where its lock is. */
  locks: { id: string; sites: { name: string; appDir: string }[] };
}

export function writeState<K extends keyof PostState>(ctx: ActionContext, key: K, value: PostState[K] | undefined): void {
  ctx.saveState(key, value === undefined ? '' : JSON.stringify(value));
}

export function readState<K extends keyof PostState>(ctx: ActionContext, key: K): PostState[K] | undefined {
  const text = ctx.getState(key);
  return text ? (JSON.parse(text) as PostState[K]) : undefined;
}

export function saveLocks(ctx: ActionContext, held: LockSite[], id: string): void {
  writeState(ctx, 'locks', { id, sites: held.map((s) => ({ name: s.name, appDir: s.appDir })) });
}

/** The main step released its locks itself: nothing for the post step to do. */
export function clearLocks(ctx: ActionContext): void {
  writeState(ctx, 'locks', undefined);
}

/** The post step: release every saved lock that is still this run's. */
export async function releaseSavedLocks(ctx: ActionContext, schema: Schema): Promise<void> {
  const saved = readState(ctx, 'locks');
  if (!saved?.sites?.length) return;
  const { values, problems } = collectInputs(schema, ctx.inputs);
  const ssh = resolveSshInto(values, problems, { workspace: ctx.run.workspace, logger: ctx.logger });
  if (!ssh) throw new InputError(problems);
  const pool = new SshPool(ssh.options);
  const failed: string[] = [];
  try {
    await Promise.all(
      saved.sites.map(async (site) => {
        const target = ssh.targets.find((t) => t.name === site.name);
        if (!target) return;
        try {
          const r = await (await pool.get(target)).run(releaseCommand(site.appDir, saved.id), { step: 'unlock' });
          ctx.logger.info(
            r.stdout.trim() === 'released' ? `post: released the lock on ${site.name} that the main step left behind` : `post: the lock on ${site.name} is no longer this run's; left it as it is`,
          );
        } catch (e) {
          failed.push(`${site.name}: ${errorMessage(e)}`);
        }
      }),
    );
  } finally {
    await pool.closeAll();
  }
  if (failed.length) throw new Error(`post: could not release the lock on ${failed.join('; ')}; it goes stale once its ttl passes without renewal`);
}
