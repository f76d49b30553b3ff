/** Who calls a flow: the run's identity and workspace, its logger, and how it masks secrets. */
import type { Logger } from '../log.js';

export interface Caller {
  workspace: string;
  repository: string;
  sha: string;
  ref: string;
  actor: string;
  runId: string;
  runUrl: string;
  logger: Logger;
  /** Register a secret value so no log, summary or output shows it. */
  mask(value: string): void;
}
