import type { Context } from 'aws-lambda';
import { PowertoolsLogger, powertoolsLogger } from '../../engine/adapters/aws/powertools-logger';
import { WORKER_ENV, readEnvironment } from '../../engine/runtime-config';
import { runWorkerBatch } from '../../engine/sync/distributed';
import { assertAwsWriter, awsSyncDeps } from '../../engine/wiring/aws';
import { limitHeapGrowth } from '../../engine/heap';

// At load, before the heap grows (see engine/heap.ts).
limitHeapGrowth();

const logger = new PowertoolsLogger({ serviceName: 'sync-worker' });

/**
 * Transfers one batch of a run (`{ runId, batchId }`, the batch itself is in
 * the store). Stops starting bottles when time runs short and hands the rest
 * to a continuation; the last batch to finish finalizes the run.
 */
export const handler = async (event: { runId?: string; batchId?: string }, context: Context): Promise<{ finalized: boolean; published?: boolean }> => {
  const config = readEnvironment(WORKER_ENV);
  logger.addContext(context);
  if (!event?.runId || !event?.batchId) throw new Error('worker event needs runId and batchId');
  logger.appendKeys({ environment: config.environment, runId: event.runId, batchId: event.batchId });
  const deps = await awsSyncDeps(powertoolsLogger(logger));
  await assertAwsWriter(deps.state); // a run in flight when the DR region was promoted stops at its next batch
  const summary = await runWorkerBatch(deps, event.runId, event.batchId, {
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  if (summary && !summary.published) logger.error('run finalized without publishing', { error: summary.error });
  return { finalized: summary !== undefined, published: summary?.published };
};
