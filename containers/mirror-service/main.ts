import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDbStateStore } from '../../engine/adapters/aws/dynamodb-state-store';
import { connectCache } from '../../engine/adapters/aws/elasticache';
import { S3BlobStore, S3ObjectStore } from '../../engine/adapters/aws/s3-store';
import { jsonLogger } from '../../engine/logger';
import { MIRROR_SERVICE_ENV, readEnvironment } from '../../engine/runtime-config';
import { BatchedAccessLog } from '../../engine/serve/access-log';
import { RedisRateLimiter } from '../../engine/serve/redis-rate-limiter';
import { MirrorServer } from '../../engine/serve/server';

/**
 * The mirror service behind the ALB: S3 for bottles and API generations,
 * DynamoDB for the published pointer, Valkey for shared rate limits.
 * Redirect mode (default) answers bottle requests with a 5-minute presigned
 * S3 URL; proxy mode streams them through the task for clients that can
 * reach only the ALB. SIGTERM lets in-flight downloads finish (the target
 * group deregistration delay and ECS stop timeout allow 120 s).
 */
async function main(): Promise<void> {
  const config = readEnvironment(MIRROR_SERVICE_ENV);
  const log = jsonLogger({ service: 'mirror-service', environment: config.environment });
  const accessLog = new BatchedAccessLog({ service: 'mirror-service', environment: config.environment }, (chunk) => process.stdout.write(chunk));
  const mode = config.mode === 'proxy' ? 'proxy' : 'redirect';
  const s3 = new S3Client({});
  const blobs = new S3BlobStore(s3, config.bottleBucket);
  const cache = await connectCache({
    host: config.cacheEndpoint,
    port: Number(config.cachePort),
    replicationGroupId: config.cacheReplicationGroup,
    userId: config.cacheUser,
    region: process.env.AWS_REGION ?? 'us-east-1',
    log,
  });
  const server = new MirrorServer({
    objects: new S3ObjectStore(s3, config.bottleBucket),
    blobs,
    state: new DynamoDbStateStore(new DynamoDBClient({}), config.stateTable),
    log,
    accessLog: accessLog.log,
    limiter: new RedisRateLimiter(cache),
    mode,
    presign: (sha256, expiresIn) => blobs.presign(sha256, expiresIn),
    trustProxy: true,
  });
  const port = await server.listen(Number(config.port), '0.0.0.0');
  log.info('listening', { port, mode });
  process.once('SIGTERM', () => {
    log.info('SIGTERM: draining');
    void server.stop().then(() => {
      accessLog.flush();
      cache.disconnect();
      process.exit(0);
    });
  });
}

main().catch((error) => {
  process.stderr.write(`${JSON.stringify({ level: 'ERROR', message: (error as Error).message })}\n`);
  process.exitCode = 1;
});
