/**
 * What an operator looks at first when a host fails its switch or its health gate,
 * collected before the host is returned (the failed release's containers still exist):
 * the release's containers (`compose ps -a`) and the last lines of its services' logs, or
 * for file releases the output of the user's `diagnostics-command`. Secrets are redacted;
 * collecting never fails the deploy.
 */
import { hookCommand, logsCommand, psCommand } from '../commands/index.js';
import type { ReleaseManifest } from '../host/state.js';
import { errorMessage, type Logger } from '../log.js';
import { composeCall } from './compose.js';
import { swarmDiagnostics } from './swarm.js';
import { hookEnv, type HostCtx, type RunInfo } from './context.js';

export interface DiagnosticsSpec {
  /** Lines of each service's log (0: no diagnostics). */
  lines: number;
  /** File releases: a command run in the release directory (e.g. journalctl -u shop -n 50). */
  command?: string;
}

const MAX_CHARS = 16_000;

export async function collectDiagnostics(h: HostCtx, m: ReleaseManifest, spec: DiagnosticsSpec, run: RunInfo): Promise<string | undefined> {
  if (spec.lines <= 0) return undefined;
  const parts: string[] = [];
  const grab = async (title: string, fn: () => Promise<{ stdout: string; stderr: string }>) => {
    try {
      const r = await fn();
      parts.push(`$ ${title}\n${`${r.stdout}${r.stderr}`.trimEnd()}`);
    } catch (e) {
      parts.push(`$ ${title}\n(could not be collected: ${errorMessage(e)})`);
    }
  };
  const timeoutMs = Math.min(h.commandTimeoutMs, 60_000);
  if (m.strategy === 'compose') {
    const c = composeCall(h, m);
    await grab('compose ps -a', () => h.session.exec(psCommand(c), { step: 'diagnostics', timeoutMs }));
    await grab(`compose logs --tail ${spec.lines}`, () => h.session.exec(logsCommand(c, m.services ?? [], spec.lines), { step: 'diagnostics', timeoutMs }));
  }
  if (m.strategy === 'swarm') {
    for (const d of await swarmDiagnostics(h, m, spec.lines, timeoutMs).catch(() => [])) await grab(d.title, d.run);
  }
  if (spec.command) {
    const dir = h.layout.release(m.id);
    await grab(spec.command, () => h.session.exec(hookCommand(dir, spec.command!, hookEnv(run, m.id, h.target.name)), { step: 'diagnostics', timeoutMs }));
  }
  if (!parts.length) return undefined;
  let text = h.logger.secrets.redact(parts.join('\n\n'));
  if (text.length > MAX_CHARS) text = `(first ${text.length - MAX_CHARS} characters left out)\n${text.slice(-MAX_CHARS)}`;
  return text;
}

/** Collect a failed host's diagnostics (before it is returned) and print them in a log group; never throws. */
export async function diagnoseHost(h: HostCtx, m: ReleaseManifest, spec: DiagnosticsSpec, run: RunInfo, logger: Logger): Promise<string | undefined> {
  const text = await collectDiagnostics(h, m, spec, run).catch(() => undefined);
  if (text) {
    await logger
      .group(`host ${h.target.name}: diagnostics of ${m.id}`, async () => {
        for (const l of text.split('\n')) logger.info(l);
      })
      .catch(() => {});
  }
  return text;
}

/** A host's failure that carries its diagnostics to the run's report. */
export class DiagnosedFailure extends Error {
  constructor(
    message: string,
    readonly diagnostics?: string,
  ) {
    super(message);
  }
}
