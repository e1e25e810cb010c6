import type { Context } from 'aws-lambda';
import { PowertoolsLogger, powertoolsLogger } from '../../engine/adapters/aws/powertools-logger';
import { FRESHNESS_REPORT_EVENT, ORCHESTRATOR_ENV, readEnvironment } from '../../engine/runtime-config';
import { OrchestrateResult, orchestrate } from '../../engine/sync/distributed';
import { reportFreshness } from '../../engine/sync/freshness';
import { assertAwsWriter, awsSyncDeps, brewFromEnv, casksFromEnv, homebrewKey, routingFromEnv, tapsFromEnv, policyFromEnv } from '../../engine/wiring/aws';
import { limitHeapGrowth } from '../../engine/heap';

// At load, before the heap grows (see engine/heap.ts).
limitHeapGrowth();

const logger = new PowertoolsLogger({ serviceName: 'orchestrator' });

/**
 * Two EventBridge schedules invoke this function:
 * - weekly: verify the API, plan, and dispatch to worker Lambdas or the
 *   Fargate task (and the brew phase, when the stack mirrors brew, to the task). A run that cannot start (bad signature, malformed JSON,
 *   upstream down) throws so the error alarm fires; the published mirror is
 *   unchanged either way.
 * - hourly `{"action":"report-freshness"}`: emit the published generation's
 *   age, the metric the freshness alarm watches.
 */
export const handler = async (event: unknown, context?: Context): Promise<OrchestrateResult | { ageSeconds: number | null }> => {
  if (context) logger.addContext(context);
  const config = readEnvironment(ORCHESTRATOR_ENV);
  logger.appendKeys({ environment: config.environment });
  const deps = await awsSyncDeps(powertoolsLogger(logger));
  if ((event as { action?: string } | null)?.action === FRESHNESS_REPORT_EVENT.action) {
    return { ageSeconds: (await reportFreshness(deps.state, deps.metrics!)) ?? null };
  }
  logger.info('sync requested', { source: (event as { source?: string } | null)?.source });
  // After a promotion the DR region writes: this region's run stops here (and the error alarm says so).
  await assertAwsWriter(deps.state);
  const result = await orchestrate(deps, { publicKey: homebrewKey(), brew: brewFromEnv(), ...casksFromEnv(), ...tapsFromEnv(), policy: policyFromEnv(), limits: routingFromEnv() });
  if (result.outcome === 'aborted') throw new Error(`sync aborted: ${result.reason}`);
  if (result.outcome === 'finalized' && !result.summary.published) throw new Error(`sync failed: ${result.summary.error}`);
  return result;
};
