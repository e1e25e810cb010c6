import { awsSyncDeps, homebrewKey, routingFromEnv } from '../../engine/adapters/aws/runtime';
import { jsonLogger } from '../../engine/logger';
import { ORCHESTRATOR_ENV, readEnvironment } from '../../engine/runtime-config';
import { OrchestrateResult, orchestrate } from '../../engine/sync/distributed';

/**
 * Weekly entry point (EventBridge): verify the API, plan, and dispatch to
 * worker Lambdas or the Fargate task. A run that cannot start (bad signature,
 * malformed JSON, upstream down) throws, so the error alarm fires; the
 * published mirror is unchanged either way.
 */
export const handler = async (event: unknown): Promise<OrchestrateResult> => {
  const config = readEnvironment(ORCHESTRATOR_ENV);
  const log = jsonLogger({ service: 'orchestrator', environment: config.environment });
  log.info('sync requested', { source: (event as { source?: string } | null)?.source });
  const result = await orchestrate(awsSyncDeps(log), { publicKey: homebrewKey(), limits: routingFromEnv() });
  if (result.outcome === 'aborted') throw new Error(`sync aborted: ${result.reason}`);
  if (result.outcome === 'finalized' && !result.summary.published) throw new Error(`sync failed: ${result.summary.error}`);
  return result;
};
