import { awsSyncDeps } from '../../engine/wiring/aws';
import { jsonLogger } from '../../engine/logger';
import { WORKER_ENV, readEnvironment } from '../../engine/runtime-config';
import { runWorkerBatch } from '../../engine/sync/distributed';

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/**
 * Transfers one batch of a run (`{ runId, batchId }`, the batch itself is in
 * the store). Stops starting bottles when time runs short and hands the rest
 * to a continuation; the last batch to finish finalizes the run.
 */
export const handler = async (event: { runId?: string; batchId?: string }, context: LambdaContext): Promise<{ finalized: boolean; published?: boolean }> => {
  const config = readEnvironment(WORKER_ENV);
  if (!event?.runId || !event?.batchId) throw new Error('worker event needs runId and batchId');
  const log = jsonLogger({ service: 'sync-worker', environment: config.environment, runId: event.runId, batchId: event.batchId });
  const summary = await runWorkerBatch(await awsSyncDeps(log), event.runId, event.batchId, { remainingMs: () => context.getRemainingTimeInMillis() });
  if (summary && !summary.published) log.error('run finalized without publishing', { error: summary.error });
  return { finalized: summary !== undefined, published: summary?.published };
};
