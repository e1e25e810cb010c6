import { WORKER_ENV, readEnvironment } from '../../engine/runtime-config';
import { jsonLogger } from '../../engine/logger';

/**
 * Transfers one batch of bottles for a run. Invoked asynchronously by the
 * orchestrator with `{ runId, batchId }`; the batch itself lives in the store.
 *
 * The transfer path is tracked in issue #3; until then the worker refuses work.
 */
export const handler = async (event: { runId?: string; batchId?: string }): Promise<never> => {
  const config = readEnvironment(WORKER_ENV);
  const log = jsonLogger({ service: 'sync-worker', environment: config.environment, runId: event?.runId, batchId: event?.batchId });
  log.error('batch refused: sync engine not in this build');
  throw new Error('sync engine is not part of this build yet (issue #3); nothing was changed');
};
