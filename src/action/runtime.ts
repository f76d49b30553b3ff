import * as core from './runner.js';
import { InputError, type InputSource } from '../inputs/schema.js';
import { Secrets, errorMessage, type Logger } from '../log.js';

/** The GitHub context an action reports with (run URL, actor, sha, ...). */
export interface RunContext {
  workspace: string;
  repository: string;
  sha: string;
  ref: string;
  actor: string;
  runId: string;
  runUrl: string;
}

export interface ActionContext {
  logger: Logger;
  inputs: InputSource;
  run: RunContext;
  setOutput(name: string, value: string | number | boolean): void;
  /** Append markdown to the job summary (redacted). */
  summary(markdown: string): Promise<void>;
  saveState(name: string, value: string): void;
  getState(name: string): string;
}

function runContext(): RunContext {
  const env = process.env;
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const repository = env.GITHUB_REPOSITORY ?? '';
  const runId = env.GITHUB_RUN_ID ?? '';
  return {
    workspace: env.GITHUB_WORKSPACE ?? process.cwd(),
    repository,
    sha: env.GITHUB_SHA ?? '',
    ref: env.GITHUB_REF ?? '',
    actor: env.GITHUB_ACTOR ?? '',
    runId,
    runUrl: repository && runId ? `${server}/${repository}/actions/runs/${runId}` : '',
  };
}

/** A Logger on the runner's commands; every line is redacted and every secret registered with the runner. */
class CoreLogger implements Logger {
  readonly secrets = new Secrets();
  private r = (m: string) => this.secrets.redact(m);
  debug(m: string) {
    core.debug(this.r(m));
  }
  info(m: string) {
    core.info(this.r(m));
  }
  warning(m: string) {
    core.warning(this.r(m));
  }
  error(m: string) {
    core.error(this.r(m));
  }
  group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return core.group(this.r(name), fn);
  }
  mask(value: string) {
    for (const part of this.secrets.add(value)) core.setSecret(part);
  }
}

function context(logger: CoreLogger): ActionContext {
  return {
    logger,
    run: runContext(),
    inputs: {
      read: (name) => process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`],
      mask: (v) => logger.mask(v),
    },
    setOutput: (name, value) => core.setOutput(name, logger.secrets.redact(String(value))),
    summary: async (md) => core.appendSummary(logger.secrets.redact(md)),
    saveState: (name, value) => core.saveState(name, value),
    getState: (name) => core.getState(name),
  };
}

/**
 * Run an action's main (and, in the `post:` step, its post) function: one error path that
 * fails the step with a redacted message. Input errors list every bad input.
 */
export async function runAction(main: (ctx: ActionContext) => Promise<void>, post?: (ctx: ActionContext) => Promise<void>): Promise<void> {
  const logger = new CoreLogger();
  const ctx = context(logger);
  const isPost = core.getState('isPost') === 'true';
  try {
    if (isPost) {
      if (post) await post(ctx);
      return;
    }
    core.saveState('isPost', 'true');
    await main(ctx);
  } catch (e) {
    const msg = logger.secrets.redact(errorMessage(e));
    if (e instanceof InputError) core.setFailed(`invalid input:\n${msg}`);
    else core.setFailed(msg);
  }
}
