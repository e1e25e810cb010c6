import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Redis } from 'ioredis';
import { S3Client } from '@aws-sdk/client-s3';
import { HOMEBREW_1_PEM } from '../../homebrew/homebrew-1-key';
import { loadPublicKey } from '../../homebrew/signed-api';
import { Logger } from '../../logger';
import { emfSink } from '../../metrics';
import { ORCHESTRATOR_ENV, SYNC_ENV, TASK_DISPATCH_ENV, readEnvironment } from '../../runtime-config';
import { DistributedDeps } from '../../sync/distributed';
import { DEFAULT_ROUTING, RoutingLimits } from '../../sync/route';
import { Upstream } from '../../sync/upstream';
import { AwsDispatcher } from './dispatcher';
import { connectCache } from './elasticache';
import { RedisCircuitBreaker } from './redis-circuit-breaker';
import { DynamoDbStateStore } from './dynamodb-state-store';
import { S3BlobStore, S3ObjectStore } from './s3-store';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Builds the engine's AWS adapters from the environment the stack sets
 * (see `runtime-config.ts`). Clients are created once per process and reused
 * across Lambda invocations.
 */
// One set of clients and one cache connection per process, reused by every Lambda invocation.
let shared: Promise<{ s3: S3Client; dynamo: DynamoDBClient; cache: Redis }> | undefined;

export async function awsSyncDeps(log: Logger, env: Env = process.env): Promise<DistributedDeps> {
  const sync = readEnvironment(SYNC_ENV, env);
  shared ??= connectCache({
    host: sync.cacheEndpoint,
    port: Number(sync.cachePort),
    replicationGroupId: sync.cacheReplicationGroup,
    userId: sync.cacheUser,
    region: env.AWS_REGION ?? 'us-east-1',
    log,
  }).then((cache) => ({ s3: new S3Client({}), dynamo: new DynamoDBClient({}), cache }));
  const { s3, dynamo, cache } = await shared;
  // The orchestrator and the sync task can start tasks; workers only re-invoke their own function.
  const task = env[TASK_DISPATCH_ENV.syncCluster] ? readEnvironment(TASK_DISPATCH_ENV, env) : undefined;
  return {
    upstream: new Upstream(),
    blobs: new S3BlobStore(s3, sync.bottleBucket),
    objects: new S3ObjectStore(s3, sync.bottleBucket),
    state: new DynamoDbStateStore(dynamo, sync.stateTable),
    log,
    metrics: emfSink(sync.environment),
    transfer: { breaker: new RedisCircuitBreaker(cache) },
    dispatcher: new AwsDispatcher({
      workerFunctionName: env[ORCHESTRATOR_ENV.workerFunctionName] ?? env.AWS_LAMBDA_FUNCTION_NAME ?? '',
      clusterArn: task?.syncCluster ?? '',
      taskDefinition: task?.syncTaskDefinition ?? '',
      containerName: task?.syncContainerName ?? '',
      subnetIds: task ? task.syncSubnets.split(',') : [],
      securityGroupId: task?.syncSecurityGroup ?? '',
      capacityProvider: task?.syncCapacityProvider === 'FARGATE_SPOT' ? 'FARGATE_SPOT' : 'FARGATE',
    }),
  };
}

/** The routing limits for this deployment (threshold from the stack). */
export function routingFromEnv(env: Env = process.env): RoutingLimits {
  const threshold = Number(env[ORCHESTRATOR_ENV.lambdaThresholdBytes]);
  return Number.isFinite(threshold) && threshold > 0 ? { ...DEFAULT_ROUTING, lambdaThresholdBytes: threshold } : DEFAULT_ROUTING;
}

export const homebrewKey = () => loadPublicKey(HOMEBREW_1_PEM);
