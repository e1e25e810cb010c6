import { jsonLogger } from '../../engine/logger';
import { BatchedAccessLog, accessLogBacklogFromEnv } from '../../engine/serve/access-log';
import { MirrorMetricsReporter } from '../../engine/serve/metrics-report';
import { MirrorServer } from '../../engine/serve/server';
import { awsMirrorService } from '../../engine/wiring/aws';
import { limitHeapGrowth } from '../../engine/heap';

// At load, before the heap grows (see engine/heap.ts).
limitHeapGrowth();

/**
 * The mirror service behind the ALB (dependencies: `engine/wiring/aws.ts`).
 * Redirect mode (default) answers bottle requests with a 5-minute presigned
 * S3 URL; proxy mode streams them through the task for clients that can
 * reach only the ALB. SIGTERM lets in-flight downloads finish (the target
 * group deregistration delay and ECS stop timeout allow 120 s).
 */
async function main(): Promise<void> {
  const environment = process.env.HBS_ENVIRONMENT ?? 'unknown';
  const log = jsonLogger({ service: 'mirror-service', environment });
  // stdout is the log's way out; if the log driver falls behind, lines are dropped and counted, never held without bound.
  const accessLog = new BatchedAccessLog({ service: 'mirror-service', environment }, (chunk) => process.stdout.write(chunk), {
    backlog: () => process.stdout.writableLength,
    maxBacklogBytes: accessLogBacklogFromEnv(),
  });
  const service = await awsMirrorService(log, accessLog.log);
  const server = new MirrorServer({ ...service.deps, accessLogDropped: () => accessLog.droppedLines });
  const stopReporting = new MirrorMetricsReporter(server.metrics, service.metrics).start();
  const port = await server.listen(service.port, '0.0.0.0');
  log.info('listening', { port, mode: service.mode });
  process.once('SIGTERM', () => {
    log.info('SIGTERM: draining');
    void server.stop().then(() => {
      stopReporting();
      accessLog.flush();
      service.close();
      process.exit(0);
    });
  });
}

main().catch((error) => {
  process.stderr.write(`${JSON.stringify({ level: 'ERROR', message: (error as Error).message })}\n`);
  process.exitCode = 1;
});
