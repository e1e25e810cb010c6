import { ORCHESTRATOR_ENV, readEnvironment } from '../../engine/runtime-config';
import { jsonLogger } from '../../engine/logger';

/**
 * Weekly entry point (EventBridge). Validates its configuration and hands
 * over to the sync engine.
 *
 * The engine itself is tracked in issue #3; until it lands the handler fails
 * loudly, so a deployment of this revision raises the orchestrator-error alarm
 * rather than pretending that a sync happened.
 */
export const handler = async (event: unknown): Promise<never> => {
  const config = readEnvironment(ORCHESTRATOR_ENV);
  const log = jsonLogger({ service: 'orchestrator', environment: config.environment });
  log.info('sync requested', { source: (event as { source?: string } | null)?.source });
  throw new Error('sync engine is not part of this build yet (issue #3); nothing was changed');
};
