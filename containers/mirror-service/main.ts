import { MIRROR_SERVICE_ENV, readEnvironment } from '../../engine/runtime-config';
import { jsonLogger } from '../../engine/logger';

/**
 * Entry point of the mirror service behind the ALB. The HTTP server is
 * tracked in issue #4; until it lands the container exits non-zero, so a
 * deployment fails its health checks and the ECS circuit breaker rolls back.
 */
function main(): number {
  const config = readEnvironment(MIRROR_SERVICE_ENV);
  const log = jsonLogger({ service: 'mirror-service', environment: config.environment });
  log.error('mirror server is not part of this build yet (issue #4)');
  return 1;
}

process.exitCode = main();
