import { RUN_ID_ENV, SYNC_JOB_ENV } from '../../engine/adapters/aws/dispatcher';
import { jsonLogger } from '../../engine/logger';
import { PROMOTED_SYNC_TASK_ENV, SYNC_ENV, SYNC_TASK_ENV, oneOf, readEnvironment } from '../../engine/runtime-config';
import { AWS_RUN_LEASE, runLargeSync } from '../../engine/sync/distributed';
import { runSync } from '../../engine/sync/run-sync';
import { assertAwsWriter, awsPromotedSyncDeps, awsSyncDeps, brewFromEnv, casksFromEnv, homebrewKey, policyFromEnv, tapsFromEnv } from '../../engine/wiring/aws';
import { limitHeapGrowth } from '../../engine/heap';

// At load, before the heap grows (see engine/heap.ts).
limitHeapGrowth();

/**
 * Fargate entry point, in one of two roles (`HBS_WRITER_ROLE`):
 *
 * - `primary`: syncs too large for Lambda, and every run's brew phase (it
 *   needs git, which Lambda lacks). The orchestrator starts it with
 *   `HBS_RUN_ID`, and `HBS_SYNC_JOB=brew` when workers copy the bottles; the
 *   plan is in the store. On SIGTERM (Spot reclaim, deployment) it starts no
 *   new bottle, lets in-flight uploads finish within the stop timeout, stops
 *   git, and hands what is left to a successor task for the same run, as
 *   worker Lambdas do when their time runs short.
 * - `promoted`: the DR region's sync after a promotion (issue #15), started
 *   by its weekly schedule or by hand: one whole sync in this task against
 *   the replicas. On SIGTERM it stops, records the run as interrupted and
 *   leaves the published generation as it was.
 *
 * Either way it first checks the writer pin and stops if this region may not write.
 */
async function main(): Promise<number> {
  return process.env[SYNC_ENV.writerRole] === 'promoted' ? promotedSync() : largeRun();
}

async function largeRun(): Promise<number> {
  const config = readEnvironment(SYNC_TASK_ENV);
  const runId = process.env[RUN_ID_ENV];
  if (!runId) throw new Error(`${RUN_ID_ENV} is not set; the orchestrator starts this task with it`);
  const log = jsonLogger({ service: 'sync-task', environment: config.environment, runId });
  const job = oneOf(process.env[SYNC_JOB_ENV] ?? 'transfers', SYNC_JOB_ENV, ['transfers', 'brew', 'casks', 'taps'] as const);
  const interrupted = new AbortController();
  process.once('SIGTERM', () => {
    interrupted.abort();
    log.info('SIGTERM: finishing in-flight uploads, handing the rest to a successor task');
  });
  const deps = await awsSyncDeps(log);
  await assertAwsWriter(deps.state);
  const summary = await runLargeSync(deps, runId, { job, stopping: () => interrupted.signal.aborted, signal: interrupted.signal });
  if (summary) log.info('run finalized', { published: summary.published, error: summary.error });
  return summary && !summary.published ? 1 : 0;
}

async function promotedSync(): Promise<number> {
  const config = readEnvironment(PROMOTED_SYNC_TASK_ENV);
  const log = jsonLogger({ service: 'sync-task', environment: config.environment, role: 'promoted' });
  const deps = awsPromotedSyncDeps(log);
  await assertAwsWriter(deps.state);
  const interrupted = new AbortController();
  process.once('SIGTERM', () => interrupted.abort());
  const summary = await runSync(deps, { publicKey: homebrewKey(), brew: brewFromEnv(), ...casksFromEnv(), ...tapsFromEnv(), policy: policyFromEnv(), lease: AWS_RUN_LEASE, signal: interrupted.signal });
  log.info('run finished', { published: summary.published, error: summary.error });
  return summary.published || !summary.error ? 0 : 1;
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
