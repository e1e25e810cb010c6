import type { Context } from 'aws-lambda';
import { PowertoolsLogger, powertoolsLogger } from '../../engine/adapters/aws/powertools-logger';

// The Lambda handlers log through Powertools: request id and cold start on every line, children included.
const context = {
  functionName: 'prod-brew-sync-worker',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:prod-brew-sync-worker',
  memoryLimitInMB: '3008',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  getRemainingTimeInMillis: () => 900_000,
} as unknown as Context;

function capture(run: () => void): Record<string, unknown>[] {
  // Powertools writes warnings and errors to stderr, the rest to stdout; Lambda collects both.
  const lines: string[] = [];
  const record = (chunk: string | Uint8Array) => (lines.push(String(chunk)), true);
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(record), jest.spyOn(process.stderr, 'write').mockImplementation(record)];
  try {
    run();
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
  return lines.join('').trim().split('\n').map((l) => JSON.parse(l));
}

describe('Powertools logger adapter', () => {
  test('lines carry the request id and cold start; warn is WARN; child fields are added', () => {
    const logger = new PowertoolsLogger({ serviceName: 'sync-worker', logLevel: 'DEBUG' });
    logger.addContext(context);
    const log = powertoolsLogger(logger);
    const [warn, child] = capture(() => {
      log.warn('another sync holds the run lease', { holder: 'r1' });
      log.child({ runId: 'r2' }).info('published', { bottles: 3 });
    });
    expect(warn).toMatchObject({ level: 'WARN', message: 'another sync holds the run lease', holder: 'r1', function_request_id: context.awsRequestId, service: 'sync-worker' });
    expect(typeof warn.cold_start).toBe('boolean');
    expect(child).toMatchObject({ level: 'INFO', runId: 'r2', bottles: 3, function_request_id: context.awsRequestId, function_name: 'prod-brew-sync-worker' });
  });

  test('debug lines follow the configured level', () => {
    const log = powertoolsLogger(new PowertoolsLogger({ serviceName: 'orchestrator', logLevel: 'INFO' }));
    expect(capture(() => (log.debug('hidden'), log.info('shown'))).map((l) => l.message)).toEqual(['shown']);
  });
});
