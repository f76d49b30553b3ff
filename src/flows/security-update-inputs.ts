/** security-update's inputs, checked and turned into its config (every problem at once). */
import { defaultRebootCommand } from '../commands/apt.js';
import { healthSpec, insecureTlsWarning, maskHealthSecrets } from '../health/spec.js';
import type { Parsed, Problem } from '../inputs/schema.js';
import type { schema } from '../schemas/security-update.js';
import type { Caller } from './caller.js';
import type { PatchConfig } from './security-update.js';

export function preparePatch(v: Parsed<typeof schema>, problems: Problem[], c: Caller): Omit<PatchConfig, 'maxParallel'> | undefined {
  const gate = healthSpec(v, 'health-', problems);
  maskHealthSecrets(gate, c.mask);
  const warn = insecureTlsWarning(gate, 'health-');
  if (warn) c.logger.warning(warn);
  if (v['dry-run'] && v.reboot === 'always') c.logger.info('dry-run: reboot always is not acted on; nothing is changed');
  if (problems.length) return undefined;
  const custom = v['reboot-command']?.trim();
  return {
    run: { app: v.app, environment: v.environment, actor: c.actor, runUrl: c.runUrl, runId: c.runId },
    mode: v.mode,
    exclude: v.exclude,
    reboot: v.reboot,
    // The user's own command line, run by sh -c as it is written (it is a script of theirs).
    rebootCommand: custom ? ['sh', '-c', custom] : defaultRebootCommand(),
    rebootTimeoutMs: v['reboot-timeout'],
    restartServices: v['restart-services'],
    dryRun: v['dry-run'],
    gate: gate.urls.length ? gate : undefined,
    useSudo: v['use-sudo'] === 'auto' ? undefined : v['use-sudo'] === 'true',
    lockTimeoutMs: v['lock-timeout'],
    dpkgLockTimeoutMs: v['dpkg-lock-timeout'],
    timeoutMs: v.timeout,
  };
}
