import { parseByteSize } from './byte-size';
import { SERVE_DEFAULTS, SYNC_DEFAULTS } from './defaults';
import { ConfigurationError } from './errors';

/**
 * The contract between the infrastructure and the runtime: the environment
 * variables each deployed workload reads. The stack sets them; the unit
 * tests check that every variable a workload requires is set by the stack,
 * and that the stack sets nothing a workload does not read.
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
  /** `primary` (the stack's sync) or `promoted` (the DR region's, after a promotion): see engine/sync/writer.ts. */
  writerRole: 'HBS_WRITER_ROLE',
} as const;

/** Where and how to start the Fargate sync task (the orchestrator, and the task handing work to its successor). */
export const TASK_DISPATCH_ENV = {
  syncCluster: 'HBS_SYNC_CLUSTER_ARN',
  /** Task definition family; RunTask takes a family (latest ACTIVE revision) or `family:revision`, not a revisionless ARN. */
  syncTaskFamily: 'HBS_SYNC_TASK_FAMILY',
  syncContainerName: 'HBS_SYNC_CONTAINER_NAME',
  syncSubnets: 'HBS_SYNC_SUBNET_IDS',
  syncSecurityGroup: 'HBS_SYNC_SECURITY_GROUP_ID',
  syncCapacityProvider: 'HBS_SYNC_CAPACITY_PROVIDER',
} as const;

/**
 * Whether the sync mirrors brew itself (issue #22) and for how many releases.
 * The orchestrator puts them in the run's manifest, which the sync task
 * follows; the DR region's promoted sync reads them itself.
 */
export const BREW_SYNC_ENV = {
  /** `true` or `false` (the stack's `sync.mirrorBrew`). */
  mirrorBrew: 'HBS_MIRROR_BREW',
  /** Newest brew releases whose portable Rubies are mirrored (the stack's `sync.brewReleases`). */
  brewReleases: 'HBS_BREW_RELEASES',
} as const;

/**
 * The casks a deployment mirrors (issue #33), from its configuration: comma
 * lists, empty for none. The orchestrator puts them in the run's manifest; the
 * sync task downloads them; the DR region's promoted sync reads them itself.
 */
export const CASK_SYNC_ENV = {
  /** `HBS_<ENV>_CASKS`: tokens, with the casks and formulae they depend on. */
  casks: 'HBS_CASKS',
  /** `HBS_<ENV>_ALLOW_UNPINNED_CASKS`: `:no_check` casks mirrored unverified. */
  allowUnpinnedCasks: 'HBS_ALLOW_UNPINNED_CASKS',
} as const;

/** What the stack says about third-party taps (issue #34), read by `tapsFromEnv`. */
export const TAP_SYNC_ENV = {
  /** `HBS_<ENV>_TAPS`: `user/repo=URL` entries, comma-separated. */
  taps: 'HBS_TAPS',
  /** The mirror's public URL (`https://<domainName>`): the rewritten taps name it. */
  publicUrl: 'HBS_TAPS_PUBLIC_URL',
} as const;

/** The `TAP_SYNC_ENV` variables a stack sets: none when it mirrors no tap, the default. */
export function tapSyncEnvironment(taps: readonly string[] | undefined, publicUrl: string): Record<string, string> {
  return taps?.length ? { [TAP_SYNC_ENV.taps]: taps.join(','), [TAP_SYNC_ENV.publicUrl]: publicUrl } : {};
}

/**
 * The `CASK_SYNC_ENV` variables a stack sets from its configuration (read back
 * by `casksFromEnv`): none at all when it mirrors no cask, the default.
 */
export function caskSyncEnvironment(settings: { readonly casks?: readonly string[]; readonly allowUnpinnedCasks?: readonly string[] }): Record<string, string> {
  if (!settings.casks?.length) return {};
  return { [CASK_SYNC_ENV.casks]: settings.casks.join(','), ...(settings.allowUnpinnedCasks?.length ? { [CASK_SYNC_ENV.allowUnpinnedCasks]: settings.allowUnpinnedCasks.join(',') } : {}) };
}

/**
 * API generations the bucket keeps after each publish, the published one
 * included (`S3Housekeeping`; the local store's `bottles gc --keep`). Unset: 3.
 */
export const KEEP_GENERATIONS_ENV = 'HBS_KEEP_GENERATIONS';

/** The `BREW_SYNC_ENV` variables a stack sets from its configuration (read back by `brewFromEnv`). */
export function brewSyncEnvironment(settings: { readonly mirrorBrew?: boolean; readonly brewReleases?: number }): Record<string, string> {
  return {
    [BREW_SYNC_ENV.mirrorBrew]: String(settings.mirrorBrew ?? true),
    [BREW_SYNC_ENV.brewReleases]: String(settings.brewReleases ?? SYNC_DEFAULTS.brewReleases),
  };
}

export const ORCHESTRATOR_ENV = {
  ...SYNC_ENV,
  ...TASK_DISPATCH_ENV,
  ...BREW_SYNC_ENV,
  workerFunctionName: 'HBS_WORKER_FUNCTION_NAME',
  lambdaThresholdBytes: 'HBS_LAMBDA_THRESHOLD_BYTES',
} as const;

export const WORKER_ENV = SYNC_ENV;
/**
 * The DR region's sync after a promotion (issue #15): one Fargate task runs a
 * whole sync against the replicas. There is no cache in the DR region, so its
 * circuit breaker lives in the task, which is the only transfer process.
 */
export const PROMOTED_SYNC_TASK_ENV = {
  environment: SYNC_ENV.environment,
  bottleBucket: SYNC_ENV.bottleBucket,
  stateTable: SYNC_ENV.stateTable,
  metricsNamespace: SYNC_ENV.metricsNamespace,
  writerRole: SYNC_ENV.writerRole,
  ...BREW_SYNC_ENV,
} as const;
export const SYNC_TASK_ENV = { ...SYNC_ENV, ...TASK_DISPATCH_ENV } as const;
/** What `bottles import --env` writes into: the stack's `environment_config` output names both. */
export const IMPORT_ENV = {
  bottleBucket: SYNC_ENV.bottleBucket,
  stateTable: SYNC_ENV.stateTable,
} as const;

/**
 * Bytes of blobs one client address may be handed per hour (issue #25); the stack always
 * sets it (`HBS_<ENV>_BYTE_BUDGET_PER_HOUR`). Unset (a hand-run mirror): `SERVE_DEFAULTS.byteBudgetPerHour`. A size such as `20G`; anything else stops the mirror at start.
 */
export const BYTE_BUDGET_ENV = 'HBS_BYTE_BUDGET_PER_HOUR';

/** The byte budget `env` sets, or the default; a malformed value fails fast, naming its variable. */
export function byteBudgetFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const value = env[BYTE_BUDGET_ENV];
  if (value === undefined || value === '') return SERVE_DEFAULTS.byteBudgetPerHour;
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw new ConfigurationError(`${BYTE_BUDGET_ENV} must be a size such as 20G, not ${JSON.stringify(value)}`);
  return bytes;
}

/**
 * Pull-through in the mirror service (issue #24). The stack sets these only for an
 * environment with `HBS_<ENV>_PULL_THROUGH=true`; unset, the mirror never fetches.
 */
/** The fleet's policy (issue #35), read by the orchestrator, the promoted sync and the mirror (`policyFromEnv`). */
export const POLICY_ENV = {
  forbiddenFormulae: 'HBS_FORBIDDEN_FORMULAE',
  forbiddenCasks: 'HBS_FORBIDDEN_CASKS',
  forbiddenLicenses: 'HBS_FORBIDDEN_LICENSES',
  forbiddenTaps: 'HBS_FORBIDDEN_TAPS',
  allowedTaps: 'HBS_ALLOWED_TAPS',
} as const;

/** The `POLICY_ENV` variables a stack sets: only the lists the policy has (none by default). */
export function policyEnvironment(policy: { readonly [K in keyof typeof POLICY_ENV]: readonly string[] } | undefined): Record<string, string> {
  if (!policy) return {};
  return Object.fromEntries((Object.keys(POLICY_ENV) as (keyof typeof POLICY_ENV)[]).filter((key) => policy[key].length > 0).map((key) => [POLICY_ENV[key], policy[key].join(' ')]));
}

/** Token mode of the mirror service (issue #35): `true` turns it on; unset, off; anything else stops the task. */
export const TOKEN_ENV = { requireToken: 'HBS_REQUIRE_TOKEN' } as const;

export const PULL_THROUGH_ENV = {
  /** `true` turns it on; unset or `false`, off; anything else stops the mirror at start. */
  enabled: 'HBS_PULL_THROUGH',
  /** The registry's origin. Unset: `SYNC_DEFAULTS.registryUrl` (https://ghcr.io). */
  registryUrl: 'HBS_REGISTRY_URL',
  /** Fetches at once per task. Unset: `SERVE_DEFAULTS.maxPulls`. */
  maxPulls: 'HBS_MAX_PULLS',
} as const;

/** Pull-through's settings in `env`, or undefined when it is off; a malformed value fails fast, naming its variable. */
export function pullThroughFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): { registryUrl: string; maxPulls: number } | undefined {
  const enabled = env[PULL_THROUGH_ENV.enabled];
  if (enabled === undefined || enabled === '' || enabled === 'false') return undefined;
  if (enabled !== 'true') throw new ConfigurationError(`${PULL_THROUGH_ENV.enabled} must be "true" or "false", not ${JSON.stringify(enabled)}`);
  const maxPulls = env[PULL_THROUGH_ENV.maxPulls];
  return {
    registryUrl: env[PULL_THROUGH_ENV.registryUrl] || SYNC_DEFAULTS.registryUrl,
    maxPulls: maxPulls ? positiveInteger(maxPulls, PULL_THROUGH_ENV.maxPulls) : SERVE_DEFAULTS.maxPulls,
  };
}

/** The mirror service reads the store, the table and its cache user, and reports its own figures as EMF. */
export const MIRROR_SERVICE_ENV = {
  environment: SYNC_ENV.environment,
  bottleBucket: SYNC_ENV.bottleBucket,
  stateTable: SYNC_ENV.stateTable,
  cacheEndpoint: SYNC_ENV.cacheEndpoint,
  cachePort: SYNC_ENV.cachePort,
  cacheUser: SYNC_ENV.cacheUser,
  cacheReplicationGroup: SYNC_ENV.cacheReplicationGroup,
  /** The mirror reports its requests, bytes and lookup hits as EMF every minute. */
  metricsNamespace: SYNC_ENV.metricsNamespace,
  port: 'HBS_PORT',
  /** `redirect` or `proxy`; anything else stops the task at start. */
  mode: 'HBS_SERVE_MODE',
  /** The URL clients reach the mirror by (the environment's domain), handed out in `/brew.env`. */
  publicUrl: 'HBS_PUBLIC_URL',
  byteBudgetPerHour: BYTE_BUDGET_ENV,
} as const;

/**
 * The standby mirror in the DR region (issue #15) reads the bottle-store
 * replica and the state table's replica, and like every AWS mirror switches
 * to a generation only once its objects are there (engine/serve/completeness.ts).
 * `HBS_STANDBY=true` says there is no cache in this region: rate limits are
 * per task, under WAF's per-IP rule.
 */
export const STANDBY_MIRROR_SERVICE_ENV = {
  environment: MIRROR_SERVICE_ENV.environment,
  bottleBucket: MIRROR_SERVICE_ENV.bottleBucket,
  stateTable: MIRROR_SERVICE_ENV.stateTable,
  metricsNamespace: MIRROR_SERVICE_ENV.metricsNamespace,
  port: MIRROR_SERVICE_ENV.port,
  mode: MIRROR_SERVICE_ENV.mode,
  publicUrl: MIRROR_SERVICE_ENV.publicUrl,
  byteBudgetPerHour: MIRROR_SERVICE_ENV.byteBudgetPerHour,
  standby: 'HBS_STANDBY',
} as const;

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
  /** The mirror service's own figures, reported every minute per task (engine/serve/metrics-report.ts). */
  mirrorRequests: 'MirrorRequests',
  mirrorServerErrors: 'MirrorServerErrors',
  mirrorBytesServed: 'MirrorBytesServed',
  mirrorLookupHits: 'MirrorLookupHits',
  mirrorLookupMisses: 'MirrorLookupMisses',
  /** Connections refused (503) over the total or per-client cap. */
  mirrorConnectionsRefused: 'MirrorConnectionsRefused',
  /** Downloads cut because the client stopped reading. */
  mirrorDownloadsStalled: 'MirrorDownloadsStalled',
  /** Access-log lines dropped because stdout was not drained. */
  mirrorAccessLogDropped: 'MirrorAccessLogDroppedLines',
  /** Blob bytes charged to one team (token mode), with a `Team` dimension: the egress a team caused. */
  mirrorTeamBytes: 'MirrorTeamBytes',
} as const;

/** The shallow health route the ALB's target group checks (the server answers it from memory). */
export const HEALTH_PATH = '/health';

/**
 * The ALB's idle connection timeout, long for large bottles through proxy
 * mode on slow links. The mirror keeps idle connections a little longer
 * (`KEEP_ALIVE_TIMEOUT_MS`), so the ALB never reuses one the task has just
 * closed (a 502).
 */
export const ALB_IDLE_TIMEOUT_SECONDS = 120;

/** Event the hourly freshness schedule sends the orchestrator (constructs/sync-schedule.ts). */
export const FRESHNESS_REPORT_EVENT = { action: 'report-freshness' } as const;

export class MissingEnvironmentError extends ConfigurationError {
  constructor(names: string[]) {
    super(`missing required environment variable(s): ${names.join(', ')}`);
  }
}

/** A configuration value that must be one of `allowed`; anything else fails fast, naming the variable. */
export function oneOf<const T extends readonly string[]>(value: string, variable: string, allowed: T): T[number] {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigurationError(`${variable} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return value as T[number];
}

/** A configuration value that must be a positive integer (ports, sizes). */
export function positiveInteger(value: string, variable: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new ConfigurationError(`${variable} must be a positive integer, not ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Optional numeric overrides: for each field whose variable is set in `env`,
 * its value as a positive integer (a malformed one fails fast, naming the
 * variable). Limits that live next to their code (upstream, server) read theirs with it.
 */
export function positiveIntegersFromEnv<K extends string>(variables: Readonly<Record<K, string>>, env: Readonly<Record<string, string | undefined>> = process.env): Partial<Record<K, number>> {
  const values: Partial<Record<K, number>> = {};
  for (const [field, variable] of Object.entries(variables) as [K, string][]) {
    const value = env[variable];
    if (value !== undefined && value !== '') values[field] = positiveInteger(value, variable);
  }
  return values;
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

/** State-table attribute (epoch seconds) DynamoDB's TTL expires items on: leases and run records. */
export const STATE_TTL_ATTRIBUTE = 'expiresAt';

/**
 * Cache key prefixes, one per workload. Each cache user's access string
 * allows only its own prefix (constructs/cache.ts), so the mirror cannot
 * touch the sync's breaker state and the reverse.
 */
export const CACHE_KEY_PREFIXES = {
  /** Per-client-IP token buckets of the mirror service. */
  rateLimit: 'ratelimit:',
  /** Per-client-IP byte budgets: under the rate limit's prefix, so the mirror's cache user needs no new key pattern. */
  byteBudget: 'ratelimit:bytes:',
  /** Per-upstream-host circuit breaker of the sync workloads. */
  breaker: 'breaker:',
  /** The mirror tasks' own breaker for pull-through (issue #24): in the mirror's cache user's keyspace, shared by its tasks. */
  pullBreaker: 'ratelimit:breaker:',
} as const;
