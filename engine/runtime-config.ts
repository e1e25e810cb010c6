/**
 * The contract between the infrastructure and the runtime: the environment
 * variables each deployed workload reads. The stack sets them; the unit
 * tests check that every variable a workload requires is set by the stack.
 */

export const SYNC_ENV = {
  environment: 'HBS_ENVIRONMENT',
  bottleBucket: 'HBS_BOTTLE_BUCKET',
  stateTable: 'HBS_STATE_TABLE',
  cacheEndpoint: 'HBS_CACHE_ENDPOINT',
  cachePort: 'HBS_CACHE_PORT',
  cacheUser: 'HBS_CACHE_USER',
  cacheReplicationGroup: 'HBS_CACHE_REPLICATION_GROUP',
  metricsNamespace: 'HBS_METRICS_NAMESPACE',
} as const;

/** Where and how to start the Fargate sync task (the orchestrator, and the task handing work to its successor). */
export const TASK_DISPATCH_ENV = {
  syncCluster: 'HBS_SYNC_CLUSTER_ARN',
  syncTaskDefinition: 'HBS_SYNC_TASK_DEFINITION_ARN',
  syncContainerName: 'HBS_SYNC_CONTAINER_NAME',
  syncSubnets: 'HBS_SYNC_SUBNET_IDS',
  syncSecurityGroup: 'HBS_SYNC_SECURITY_GROUP_ID',
  syncCapacityProvider: 'HBS_SYNC_CAPACITY_PROVIDER',
} as const;

export const ORCHESTRATOR_ENV = {
  ...SYNC_ENV,
  ...TASK_DISPATCH_ENV,
  workerFunctionName: 'HBS_WORKER_FUNCTION_NAME',
  lambdaThresholdBytes: 'HBS_LAMBDA_THRESHOLD_BYTES',
} as const;

export const WORKER_ENV = SYNC_ENV;
export const SYNC_TASK_ENV = { ...SYNC_ENV, ...TASK_DISPATCH_ENV } as const;
export const MIRROR_SERVICE_ENV = { ...SYNC_ENV, port: 'HBS_PORT', mode: 'HBS_SERVE_MODE' } as const;

/**
 * Node.js flags of the mirror container (the task definition's command;
 * NODE_OPTIONS does not accept them). A mirror task has one vCPU, where V8's
 * helper threads for parallel scavenges only compete with the event loop:
 * single-threaded GC served the redirect route about 10 % faster in
 * `npm run bench:serve`.
 */
export const MIRROR_SERVICE_NODE_FLAGS = ['--single-threaded-gc'] as const;

/** CloudWatch namespace for the engine's EMF metrics and the alarms that read them. */
export const METRICS_NAMESPACE = 'HomebrewMirror';
export const METRICS = {
  /** Age in seconds of the published generation; the freshness alarm watches its maximum. */
  generationAge: 'PublishedGenerationAgeSeconds',
  syncSucceeded: 'SyncSucceeded',
  syncFailed: 'SyncFailed',
  bottlesTransferred: 'BottlesTransferred',
  bottlesFailed: 'BottlesFailed',
  bytesTransferred: 'BytesTransferred',
  syncDuration: 'SyncDurationMs',
} as const;

/** Event the hourly freshness schedule sends the orchestrator (see constructs/weekly-schedule.ts). */
export const FRESHNESS_REPORT_EVENT = { action: 'report-freshness' } as const;

export class MissingEnvironmentError extends Error {
  constructor(names: string[]) {
    super(`missing required environment variable(s): ${names.join(', ')}`);
    this.name = 'MissingEnvironmentError';
  }
}

/** Reads every variable in `contract`, failing once with all missing names. */
export function readEnvironment<T extends Record<string, string>>(
  contract: T,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { [K in keyof T]: string } {
  const missing = Object.values(contract).filter((name) => !env[name]);
  if (missing.length > 0) throw new MissingEnvironmentError(missing);
  return Object.fromEntries(Object.entries(contract).map(([key, name]) => [key, env[name] as string])) as {
    [K in keyof T]: string;
  };
}

/**
 * Object tag the sync engine puts on blobs no published generation names any
 * more. The bucket's lifecycle rule expires tagged objects after
 * `ORPHAN_EXPIRY_DAYS`, so a rollback within that window still finds its bottles.
 */
export const ORPHAN_TAG = { key: 'homebrew-mirror:orphaned', value: 'true' } as const;
export const ORPHAN_EXPIRY_DAYS = 90;
