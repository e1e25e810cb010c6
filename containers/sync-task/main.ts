import { SYNC_TASK_ENV, readEnvironment } from '../../engine/runtime-config';
import { jsonLogger } from '../../engine/logger';

/**
 * Fargate entry point for large syncs. The orchestrator starts it with only
 * `HBS_RUN_ID` overridden; the plan itself lives in the store.
 *
 * The transfer engine is tracked in issue #3; until it lands the task exits
 * non-zero, which the ECS task-failure alarm reports.
 */
function main(): number {
  const config = readEnvironment(SYNC_TASK_ENV);
  const log = jsonLogger({ service: 'sync-task', environment: config.environment, runId: process.env.HBS_RUN_ID });
  log.error('sync engine is not part of this build yet (issue #3); nothing was changed');
  return 1;
}

process.exitCode = main();
