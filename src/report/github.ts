/**
 * GitHub Deployments: a deployment for the environment, with statuses (in_progress, then
 * success or failure) carrying the run's log URL and the environment URL. Never fails a
 * deploy: problems with the API are warnings.
 */
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

export interface DeploymentRecord {
  setStatus(state: 'in_progress' | 'success' | 'failure' | 'error', description: string): Promise<void>;
}

export async function startDeployment(o: {
  token?: string;
  repository: string;
  ref: string;
  environment: string;
  environmentUrl?: string;
  logUrl: string;
  description: string;
  payload: Record<string, unknown>;
  logger: Logger;
}): Promise<DeploymentRecord | undefined> {
  const [owner, repo] = o.repository.split('/');
  if (!o.token || !owner || !repo || !o.ref) {
    o.logger.info('GitHub deployment: skipped (no github-token or repository context)');
    return undefined;
  }
  // Texts go to GitHub, outside the log's masking: redact them here.
  const r = (t: string) => o.logger.secrets.redact(t);
  const hint = (e: unknown) => ((e as { status?: number }).status === 403 ? " (the token needs 'deployments: write': add it to the job's permissions)" : '');
  try {
    // Loaded only when a deployment is recorded: the GitHub client and its HTTP stack are the
    // largest part of the bundle, and most steps never need them.
    const github = await import('@actions/github');
    const octokit = github.getOctokit(o.token, { baseUrl: process.env.GITHUB_API_URL || 'https://api.github.com' });
    const created = await octokit.rest.repos.createDeployment({
      owner,
      repo,
      ref: o.ref,
      environment: o.environment,
      auto_merge: false,
      required_contexts: [],
      description: r(o.description).slice(0, 140),
      payload: JSON.parse(r(JSON.stringify(o.payload))) as Record<string, unknown>,
      production_environment: o.environment === 'production',
    });
    const id = (created.data as { id?: number }).id;
    if (!id) throw new Error(`GitHub did not create a deployment: ${JSON.stringify(created.data).slice(0, 200)}`);
    const rec: DeploymentRecord = {
      setStatus: async (state, description) => {
        try {
          await octokit.rest.repos.createDeploymentStatus({
            owner,
            repo,
            deployment_id: id,
            state,
            description: r(description).slice(0, 140),
            log_url: o.logUrl || undefined,
            environment_url: o.environmentUrl || undefined,
            auto_inactive: true,
          });
        } catch (e) {
          o.logger.warning(`GitHub deployment status '${state}': ${errorMessage(e)}${hint(e)}`);
        }
      },
    };
    await rec.setStatus('in_progress', o.description);
    return rec;
  } catch (e) {
    o.logger.warning(`GitHub deployment could not be created (the deploy goes on): ${errorMessage(e)}${hint(e)}`);
    return undefined;
  }
}
