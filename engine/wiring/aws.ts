import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { AwsDispatcher } from '../adapters/aws/dispatcher';
import { DynamoDbStateStore } from '../adapters/aws/dynamodb-state-store';
import { connectCache } from '../adapters/aws/elasticache';
import { RedisCircuitBreaker } from '../adapters/aws/redis-circuit-breaker';
import { RedisRateLimiter } from '../adapters/aws/redis-rate-limiter';
import { S3BlobStore, S3ObjectStore } from '../adapters/aws/s3-store';
import { MemoryCircuitBreaker } from '../adapters/local/memory-circuit-breaker';
import { MemoryRateLimiter, memoryByteBudget } from '../adapters/local/memory-rate-limiter';
import { ConfigurationError } from '../errors';
import { parsePublicUrl } from '../homebrew/client-settings';
import { HOMEBREW_1_PEM } from '../homebrew/homebrew-1-key';
import { loadPublicKey } from '../homebrew/signed-api';
import { Logger } from '../logger';
import { CircuitBreaker, HousekeepingPolicy, RateLimiter, StateStore, byteBudgetLimit } from '../ports';
import { ImportDeps } from '../transfer/import';
import { WRITER_ROLES, assertWriter } from '../sync/writer';
import { MetricSink, emfSink } from '../metrics';
import { TapSource, parseTapList } from '../taps/tap-names';
import { TokenVerifier } from '../keys/token-verifier';
import { FleetPolicy, POLICY_VARIABLES, parsePolicy } from '../policy/fleet-policy';
import { DynamoDbTokenStore } from '../adapters/aws/dynamodb-token-store';
import {
  CACHE_KEY_PREFIXES,
  IMPORT_ENV,
  byteBudgetFromEnv,
  MIRROR_SERVICE_ENV,
  PULL_THROUGH_ENV,
  pullThroughFromEnv,
  BREW_SYNC_ENV,
  CASK_SYNC_ENV,
  TAP_SYNC_ENV,
  TOKEN_ENV,
  POLICY_ENV,
  ORCHESTRATOR_ENV,
  PROMOTED_SYNC_TASK_ENV,
  STANDBY_MIRROR_SERVICE_ENV,
  KEEP_GENERATIONS_ENV,
  MissingEnvironmentError,
  SYNC_ENV,
  TASK_DISPATCH_ENV,
  oneOf,
  positiveInteger,
  readEnvironment,
} from '../runtime-config';
import { AccessLog } from '../serve/access-log';
import { serverLimitsFromEnv } from '../serve/connection-guard';
import { ServeMode } from '../serve/routes/blobs';
import { MirrorServerDeps } from '../serve/server';
import { DistributedDeps } from '../sync/distributed';
import { SyncDeps } from '../sync/run-sync';
import { DEFAULT_ROUTING, RoutingLimits } from '../sync/route';
import { Upstream, refuseTarget, upstreamLimitsFromEnv } from '../upstream/client';
import { BrewMirrorOptions } from '../brew/mirror-brew';
import { S3Housekeeping } from '../adapters/aws/s3-housekeeping';
import { DEFAULT_HOUSEKEEPING } from '../sync/housekeeping';

/**
 * The composition root for AWS: builds the engine's AWS adapters from the
 * environment the stack sets (`runtime-config.ts`). The Lambdas and both
 * containers get their dependencies from here and nowhere else.
 */

type Env = Readonly<Record<string, string | undefined>>;

interface AwsClients {
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
  readonly cache: Redis;
}

// One set of clients and one cache connection per process, reused by every Lambda invocation.
let shared: Promise<AwsClients> | undefined;

function clients(config: { cacheEndpoint: string; cachePort: string; cacheReplicationGroup: string; cacheUser: string }, log: Logger, env: Env): Promise<AwsClients> {
  shared ??= connectCache({
    host: config.cacheEndpoint,
    port: positiveInteger(config.cachePort, SYNC_ENV.cachePort),
    replicationGroupId: config.cacheReplicationGroup,
    userId: config.cacheUser,
    region: env.AWS_REGION ?? 'us-east-1',
    log,
  }).then((cache) => ({ s3: new S3Client({}), dynamo: new DynamoDBClient({}), cache }));
  return shared;
}

export interface AwsStores {
  readonly blobs: S3BlobStore;
  readonly objects: S3ObjectStore;
  readonly state: DynamoDbStateStore;
}

/** The three stores over one bucket and one table (layout: `engine/store-layout.ts`). */
export function awsStores(s3: S3Client, bucket: string, dynamo: DynamoDBClient, table: string): AwsStores {
  return { blobs: new S3BlobStore(s3, bucket), objects: new S3ObjectStore(s3, bucket), state: new DynamoDbStateStore(dynamo, table) };
}

export async function awsSyncDeps(log: Logger, env: Env = process.env): Promise<DistributedDeps> {
  const sync = readEnvironment(SYNC_ENV, env);
  const { s3, dynamo, cache } = await clients(sync, log, env);
  // The orchestrator and the sync task can start tasks; workers only re-invoke their own function.
  const task = env[TASK_DISPATCH_ENV.syncCluster] ? readEnvironment(TASK_DISPATCH_ENV, env) : undefined;
  const stores = awsStores(s3, sync.bottleBucket, dynamo, sync.stateTable);
  return {
    ...stores,
    housekeeping: new S3Housekeeping(s3, sync.bottleBucket, stores.state),
    housekeepingPolicy: housekeepingFromEnv(env),
    upstream: new Upstream(),
    log,
    metrics: emfSink(sync.environment, { namespace: sync.metricsNamespace }),
    transfer: { breaker: new RedisCircuitBreaker(cache, undefined, CACHE_KEY_PREFIXES.breaker) },
    dispatcher: new AwsDispatcher({
      workerFunctionName: env[ORCHESTRATOR_ENV.workerFunctionName] ?? env.AWS_LAMBDA_FUNCTION_NAME ?? '',
      clusterArn: task?.syncCluster ?? '',
      taskFamily: task?.syncTaskFamily ?? '',
      containerName: task?.syncContainerName ?? '',
      subnetIds: task ? task.syncSubnets.split(',') : [],
      securityGroupId: task?.syncSecurityGroup ?? '',
      capacityProvider: task ? oneOf(task.syncCapacityProvider, TASK_DISPATCH_ENV.syncCapacityProvider, ['FARGATE', 'FARGATE_SPOT'] as const) : 'FARGATE',
    }),
  };
}

export interface AwsMirrorService {
  readonly deps: MirrorServerDeps;
  /** EMF sink for the task's periodic figures (`MirrorMetricsReporter`). */
  readonly metrics: MetricSink;
  readonly port: number;
  readonly mode: ServeMode;
  /** Closes the cache connection after the server has stopped. */
  close(): void;
}

/**
 * The mirror service: S3 for bottles and API generations, DynamoDB for the
 * published pointer, Valkey for shared rate limits. Every generation's
 * objects are checked before the mirror switches to it. A standby
 * (`HBS_STANDBY=true`) reads the DR region's replicas and limits rates per task.
 */
export async function awsMirrorService(log: Logger, accessLog: AccessLog, env: Env = process.env): Promise<AwsMirrorService> {
  const standby = env[STANDBY_MIRROR_SERVICE_ENV.standby];
  if (standby !== undefined && standby !== 'true') {
    throw new ConfigurationError(`${STANDBY_MIRROR_SERVICE_ENV.standby} must be "true" or unset, not ${JSON.stringify(standby)}`);
  }
  const config = standby ? readEnvironment(STANDBY_MIRROR_SERVICE_ENV, env) : readEnvironment(MIRROR_SERVICE_ENV, env);
  const mode = oneOf(config.mode, MIRROR_SERVICE_ENV.mode, ['redirect', 'proxy'] as const);
  const port = positiveInteger(config.port, MIRROR_SERVICE_ENV.port);
  const publicUrl = parsePublicUrl(config.publicUrl, MIRROR_SERVICE_ENV.publicUrl);
  const bytesPerHour = byteBudgetFromEnv(env);
  const pull = pullThroughFromEnv(env);
  // The standby serves the DR replica, which only replication writes.
  if (pull && standby) throw new ConfigurationError(`${PULL_THROUGH_ENV.enabled}: the standby mirror never pulls through; unset it`);
  const refused = pull && refuseTarget(pull.registryUrl);
  if (refused) throw new ConfigurationError(`${PULL_THROUGH_ENV.registryUrl}: ${refused}`);
  const requireToken = oneOf(env[TOKEN_ENV.requireToken] ?? 'false', TOKEN_ENV.requireToken, ['true', 'false'] as const) === 'true';
  const { s3, dynamo, limiter, byteBudget, teamByteBudget, breaker, close } = 'cacheEndpoint' in config ? await sharedLimits(config, log, env, bytesPerHour) : standbyClients(log, bytesPerHour);
  const stores = awsStores(s3, config.bottleBucket, dynamo, config.stateTable);
  // Token mode: the team tokens from the state table (the standby: its replica), read again every 10 s.
  const tokens = requireToken ? new TokenVerifier(new DynamoDbTokenStore(dynamo, config.stateTable), log) : undefined;
  await tokens?.start();
  return {
    deps: {
      ...stores,
      log,
      accessLog,
      limiter,
      byteBudget,
      teamByteBudget,
      tokens,
      policy: policyFromEnv(env),
      mode,
      presign: (sha256, expiresIn, disposition) => stores.blobs.presign(sha256, expiresIn, disposition),
      trustProxy: true,
      limits: serverLimitsFromEnv(env),
      // Both regions: the pointer is a global-table item, so either mirror may see a generation whose
      // objects are not in its bucket yet (the standby's replica lags; after a promotion, the primary
      // lacks what the DR region wrote). A generation the mirror's own sync published passes at once.
      verifyCompleteness: true,
      publicUrl,
      pullThrough: pull && { ...pull, upstream: new Upstream({ limits: upstreamLimitsFromEnv(env) }), breaker },
    },
    metrics: emfSink(config.environment, { namespace: config.metricsNamespace }),
    port,
    mode,
    close: () => (tokens?.stop(), close()),
  };
}

type MirrorClients = {
  s3: S3Client;
  dynamo: DynamoDBClient;
  limiter: RateLimiter;
  byteBudget: RateLimiter;
  /** A byte budget of another size, for a team whose token has its own. */
  teamByteBudget: (bytesPerHour: number) => RateLimiter;
  breaker: CircuitBreaker;
  close: () => void;
};

/** The request limit and the byte budget in Valkey, so every task counts a client against one budget. */
async function sharedLimits(config: Parameters<typeof clients>[0], log: Logger, env: Env, bytesPerHour: number): Promise<MirrorClients> {
  const { s3, dynamo, cache } = await clients(config, log, env);
  return {
    s3,
    dynamo,
    limiter: new RedisRateLimiter(cache, undefined, CACHE_KEY_PREFIXES.rateLimit),
    byteBudget: new RedisRateLimiter(cache, byteBudgetLimit(bytesPerHour), CACHE_KEY_PREFIXES.byteBudget),
    // Under the same key prefix (the mirror cache user's pattern): a team's key is its token's id, whatever its size.
    teamByteBudget: (teamBytes) => new RedisRateLimiter(cache, byteBudgetLimit(teamBytes), CACHE_KEY_PREFIXES.byteBudget),
    // Pull-through's breaker, shared by every mirror task; under the mirror cache user's only key pattern.
    breaker: new RedisCircuitBreaker(cache, undefined, CACHE_KEY_PREFIXES.pullBreaker),
    close: () => cache.disconnect(),
  };
}

function standbyClients(log: Logger, bytesPerHour: number): MirrorClients {
  log.info('standby: reading the DR replicas; rate limits and byte budgets are per task');
  return {
    s3: new S3Client({}),
    dynamo: new DynamoDBClient({}),
    limiter: new MemoryRateLimiter(),
    byteBudget: memoryByteBudget(bytesPerHour),
    teamByteBudget: (teamBytes) => memoryByteBudget(teamBytes),
    breaker: new MemoryCircuitBreaker(),
    close: () => undefined,
  };
}

/**
 * `bottles import --env <env>` on a machine inside the network (issue #23): the bundle is
 * written into that environment's bucket and state table through the same adapters the
 * sync uses, with the same checks and compare-and-swap publish. Credentials and region
 * come from the AWS SDK's usual chain; the names from the stack's `environment_config`
 * output, as `HBS_BOTTLE_BUCKET` and `HBS_STATE_TABLE`.
 */
export function awsImportDeps(log: Logger, env: Env = process.env, clients: { s3?: S3Client; dynamo?: DynamoDBClient } = {}): ImportDeps {
  const names = readEnvironment(IMPORT_ENV, env);
  const s3 = clients.s3 ?? new S3Client({});
  const stores = awsStores(s3, names.bottleBucket, clients.dynamo ?? new DynamoDBClient({}), names.stateTable);
  // No leftovers port: a refused import's staged API files are never served, and age out with the generations.
  return { ...stores, log, housekeeping: new S3Housekeeping(s3, names.bottleBucket, stores.state), housekeepingPolicy: housekeepingFromEnv(env) };
}

/** The promoted sync in the DR region: the replicas, and a breaker in the task (no cache there). */
export function awsPromotedSyncDeps(log: Logger, env: Env = process.env): SyncDeps {
  const config = readEnvironment(PROMOTED_SYNC_TASK_ENV, env);
  const s3 = new S3Client({});
  const stores = awsStores(s3, config.bottleBucket, new DynamoDBClient({}), config.stateTable);
  return {
    ...stores,
    housekeeping: new S3Housekeeping(s3, config.bottleBucket, stores.state),
    upstream: new Upstream(),
    log,
    metrics: emfSink(config.environment, { namespace: config.metricsNamespace }),
    transfer: { breaker: new MemoryCircuitBreaker() },
  };
}

/**
 * Stops a sync that may not write in this region (engine/sync/writer.ts),
 * before it plans or transfers anything: its role from the stack, its region
 * from the runtime (Lambda and ECS set `AWS_REGION`).
 */
export async function assertAwsWriter(state: StateStore, env: Env = process.env): Promise<void> {
  const role = oneOf(env[SYNC_ENV.writerRole] ?? '', SYNC_ENV.writerRole, WRITER_ROLES);
  const region = env.AWS_REGION;
  if (!region) throw new MissingEnvironmentError(['AWS_REGION']);
  await assertWriter(state, role, region);
}

/** API generations the bucket keeps (the published one included): `HBS_KEEP_GENERATIONS`, default 3. */
export function housekeepingFromEnv(env: Env = process.env): HousekeepingPolicy {
  const value = env[KEEP_GENERATIONS_ENV];
  return value === undefined ? DEFAULT_HOUSEKEEPING : { ...DEFAULT_HOUSEKEEPING, keepGenerations: positiveInteger(value, KEEP_GENERATIONS_ENV) };
}

/** What the stack says about mirroring brew: off, or on for the newest N releases. */
export function brewFromEnv(env: Env = process.env): BrewMirrorOptions | undefined {
  const config = readEnvironment(BREW_SYNC_ENV, env);
  if (oneOf(config.mirrorBrew, BREW_SYNC_ENV.mirrorBrew, ['true', 'false'] as const) === 'false') return undefined;
  return { releases: positiveInteger(config.brewReleases, BREW_SYNC_ENV.brewReleases) };
}

/** What the stack says about taps: the taps to mirror and the public URL they name (none: empty). */
export function tapsFromEnv(env: Env = process.env): { taps?: TapSource[]; publicUrl?: string } {
  const list = env[TAP_SYNC_ENV.taps];
  if (!list) return {};
  return { taps: parseTapList(list), publicUrl: parsePublicUrl(env[TAP_SYNC_ENV.publicUrl] ?? '', TAP_SYNC_ENV.publicUrl) };
}

/** What the stack says about the fleet's policy (none: undefined), read as a brew.env policy file would be. */
export function policyFromEnv(env: Env = process.env): FleetPolicy | undefined {
  const lines = (Object.keys(POLICY_ENV) as (keyof typeof POLICY_ENV)[]).filter((key) => env[POLICY_ENV[key]]).map((key) => `${POLICY_VARIABLES[key]}=${env[POLICY_ENV[key]]}`);
  return lines.length === 0 ? undefined : parsePolicy(lines.join('\n'), 'the policy variables');
}

/** What the stack says about casks: the tokens to mirror (none: undefined) and the unpinned ones allowed. */
export function casksFromEnv(env: Env = process.env): { casks?: string[]; allowUnpinnedCasks?: string[] } {
  const list = (name: string) => (env[name] ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  const casks = list(CASK_SYNC_ENV.casks);
  if (casks.length === 0) return {};
  return { casks, allowUnpinnedCasks: list(CASK_SYNC_ENV.allowUnpinnedCasks) };
}

/** The routing limits for this deployment (threshold from the stack). */
export function routingFromEnv(env: Env = process.env): RoutingLimits {
  const value = env[ORCHESTRATOR_ENV.lambdaThresholdBytes];
  if (value === undefined) return DEFAULT_ROUTING;
  return { ...DEFAULT_ROUTING, lambdaThresholdBytes: positiveInteger(value, ORCHESTRATOR_ENV.lambdaThresholdBytes) };
}

export const homebrewKey = () => loadPublicKey(HOMEBREW_1_PEM);
