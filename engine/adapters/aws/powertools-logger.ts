import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Logger } from '../../logger';

/**
 * The engine's `Logger` over Powertools for AWS Lambda's Logger, for the
 * Lambda handlers: every line carries the invocation's request id, the
 * function's name and version and whether it was a cold start
 * (`addContext`), and `LOG_LEVEL` (set by Lambda's advanced logging
 * controls) decides what is written.
 *
 * Metrics stay on the engine's EMF sink: Powertools Metrics adds a `service`
 * dimension to every metric, and the alarms read the same metrics from the
 * Fargate task too, so every runtime must emit one dimension set
 * (`Environment`).
 */
export function powertoolsLogger(logger: PowertoolsLogger): Logger {
  const fields = (extra?: Record<string, unknown>) => extra ?? {};
  return {
    debug: (message, extra) => logger.debug(message, fields(extra)),
    info: (message, extra) => logger.info(message, fields(extra)),
    warn: (message, extra) => logger.warn(message, fields(extra)),
    error: (message, extra) => logger.error(message, fields(extra)),
    child: (extra) => {
      const child = logger.createChild();
      child.appendKeys(extra);
      return powertoolsLogger(child);
    },
  };
}

export { PowertoolsLogger };
