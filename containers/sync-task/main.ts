import { awsSyncDeps } from '../../engine/wiring/aws';
import { RUN_ID_ENV } from '../../engine/adapters/aws/dispatcher';
import { jsonLogger } from '../../engine/logger';
import { SYNC_TASK_ENV, readEnvironment } from '../../engine/runtime-config';
import { runLargeSync } from '../../engine/sync/distributed';
import { limitHeapGrowth } from '../../engine/heap';

// At load, before the heap grows (see engine/heap.ts).
limitHeapGrowth();

/**
 * Fargate entry point for syncs too large for Lambda. The orchestrator
 * starts it with only `HBS_RUN_ID`; the plan is in the store. On SIGTERM
 * (Spot reclaim, deployment) it starts no new bottle, lets in-flight uploads
 * finish within the stop timeout, and hands the unstarted ones to a successor
 * task for the same run, as worker Lambdas do when their time runs short.
 */
async function main(): Promise<number> {
  const config = readEnvironment(SYNC_TASK_ENV);
  const runId = process.env[RUN_ID_ENV];
  if (!runId) throw new Error(`${RUN_ID_ENV} is not set; the orchestrator starts this task with it`);
  const log = jsonLogger({ service: 'sync-task', environment: config.environment, runId });
  let stopping = false;
  process.once('SIGTERM', () => {
    stopping = true;
    log.info('SIGTERM: finishing in-flight uploads, handing the rest to a successor task');
  });
  const summary = await runLargeSync(await awsSyncDeps(log), runId, { stopping: () => stopping });
  if (summary) log.info('run finalized', { published: summary.published, error: summary.error });
  return summary && !summary.published ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`${JSON.stringify({ level: 'ERROR', message: (error as Error).message })}\n`);
    process.exitCode = 1;
  },
);
