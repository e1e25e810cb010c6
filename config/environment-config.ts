import type { FleetPolicy } from '../engine/policy/fleet-policy';
/**
 * The shape of one deployment environment's configuration: what differs
 * between dev, staging and prod. The values are in config/environments.ts;
 * reading the `HBS_<ENV>_*` overrides is config/load-environment.ts.
 */

export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/** Remote state: an S3 bucket, locked with S3-native lock files (`use_lockfile`). */
export interface RemoteStateConfig {
  readonly bucket: string;
  readonly region: string;
  /** Object key of this environment's state file. */
  readonly key: string;
}

export interface CacheConfig {
  /** ElastiCache node type, e.g. `cache.r7g.large`. */
  readonly nodeType: string;
  /** Primary plus replicas. Multi-AZ automatic failover needs at least 2. */
  readonly nodeCount: number;
  readonly snapshotRetentionDays: number;
}

export interface MirrorServiceConfig {
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Lower bound of autoscaling, and the initial desired count. */
  readonly minTasks: number;
  readonly maxTasks: number;
  /** `internet-facing` for public mirrors, `internal` for a private network. */
  readonly albScheme: 'internet-facing' | 'internal';
  /**
   * Client CIDRs allowed to reach the ALB on 80/443 (`HBS_<ENV>_ALLOWED_CIDRS`,
   * comma-separated). Empty: no client reaches it, and `predeploy` refuses to
   * deploy it. `0.0.0.0/0` opens the mirror to the whole internet, and with it
   * the bucket's egress (about $0.09 per GB clients download).
   * @default [] in prod and staging (closed), `10.0.0.0/8` in dev (internal)
   */
  readonly allowedCidrs: readonly string[];
  /** Requests per client IP per 5 minutes before WAF blocks it. */
  readonly wafRateLimitPer5Min: number;
  /**
   * Bytes of bottles (and other blobs) one client IP may be handed per hour, shared by every
   * task through Valkey; past it the mirror answers 429 with Retry-After (issue #25). Raise it for
   * a fleet behind one NAT address.
   * @default SERVE_DEFAULTS.byteBudgetPerHour (20 GiB)
   */
  readonly byteBudgetPerHour?: number;
  /**
   * Pull-through (issue #24): the mirror tasks fetch, check and keep a bottle or image index the
   * signed API names but a partial mirror lacks; the task role may then write blobs/ and manifests/.
   * The standby never does.
   * @default false (`HBS_<ENV>_PULL_THROUGH=true` turns it on)
   */
  readonly pullThrough?: boolean;
  /**
   * Token mode (issue #35, docs/tokens.md): blob and git routes need a team token (`bottles token
   * create --env`), and the budgets count per token. The ALB allow-list keeps working beside it.
   * @default false (`HBS_<ENV>_REQUIRE_TOKEN=true` turns it on)
   */
  readonly requireToken?: boolean;
}

export interface SyncConfig {
  readonly orchestratorReservedConcurrency: number;
  readonly workerReservedConcurrency: number;
  /** Transfers above this many bytes go to the Fargate task instead of worker Lambdas. */
  readonly lambdaThresholdBytes: number;
  readonly taskCpu: number;
  readonly taskMemoryMiB: number;
  /**
   * Mirror brew itself (brew.git, the portable Rubies its newest releases
   * pin, install.sh; issue #22), so Macs whose only way out is the mirror can
   * install, update and run Homebrew. Runs in the Fargate sync task, which has git.
   * @default true (`HBS_<ENV>_MIRROR_BREW=false` turns it off)
   */
  readonly mirrorBrew?: boolean;
  /**
   * Newest brew release tags whose portable Rubies are mirrored.
   * @default 3 (`SYNC_DEFAULTS.brewReleases`)
   */
  readonly brewReleases?: number;
  /**
   * Fed by `bottles import --env` instead of syncing (issue #23): no weekly sync, and the sync's
   * workloads may reach only the S3 and DynamoDB gateway endpoints (no route out through NAT).
   * The mirror service is unchanged.
   * @default false (`HBS_<ENV>_IMPORT_FED=true` turns it on)
   */
  readonly importFed?: boolean;
  /**
   * Casks to mirror (issue #33), with the casks and formulae they depend on;
   * their files are downloaded by the Fargate sync task.
   * @default none (`HBS_<ENV>_CASKS=firefox,visual-studio-code`)
   */
  readonly casks?: readonly string[];
  /** `:no_check` casks mirrored unverified. @default none (`HBS_<ENV>_ALLOW_UNPINNED_CASKS`) */
  readonly allowUnpinnedCasks?: readonly string[];
  /**
   * Third-party taps to mirror (issue #34), `user/repo` or `user/repo=URL`, rewritten to
   * download from `https://<domainName>`; evaluated and fetched by the Fargate sync task.
   * @default none (`HBS_<ENV>_TAPS=hashicorp/tap,acme/tools=https://git.example.org/acme/homebrew-tools.git`)
   */
  readonly taps?: readonly string[];
}

export interface AlarmThresholds {
  /** Orchestrator errors per 5 minutes (>=) that raise the alarm. */
  readonly orchestratorErrors: number;
  /** Orchestrator p-max duration in milliseconds. */
  readonly orchestratorDurationMs: number;
  readonly workerErrors: number;
  /** ALB 5xx responses as a percentage of requests. */
  readonly alb5xxRatePercent: number;
  /** ALB target p99 latency in seconds. */
  readonly albP99LatencySeconds: number;
  readonly redisCpuPercent: number;
  readonly redisMemoryPercent: number;
  readonly redisReplicationLagSeconds: number;
  readonly dynamodbReplicationLatencyMs: number;
  /** Worst S3 replication latency of the bottle store, in seconds: the RPO budget of its objects. */
  readonly storeReplicationLatencySeconds: number;
  /**
   * Bytes downloaded from the bottle store's `blobs/` in one hour (S3 request
   * metrics: presigned GETs by clients, and the mirror's own reads in proxy
   * mode) above which the egress alarm fires: a client draining the mirror.
   */
  readonly storeBytesDownloadedPerHour: number;
  /** Age of the published generation, in seconds, before the freshness alarm fires. */
  readonly freshnessMaxAgeSeconds: number;
  /** Monthly estimated charges (USD) that raise the cost alarm. */
  readonly monthlyCostUsd: number;
}

/**
 * The standby in the DR region (issue #15): a mirror service reading the
 * bottle-store replica and the state table's replica, behind its own ALB,
 * TLS and WAF, kept warm so a region loss costs minutes, not a restore.
 * The sync runs only in the primary region (one writer).
 */
export interface StandbyConfig {
  /** Exactly three AZs in `drRegion`. @default `<drRegion>a`, `b` and `c` */
  readonly availabilityZones: readonly string[];
  /** The standby VPC's range; distinct from the primary's so the two can be peered later. */
  readonly vpcCidr: string;
  /**
   * Warm tasks (at least 2, one AZ can fail). Autoscaling takes the standby up to
   * `mirrorService.maxTasks` once clients fail over to it.
   */
  readonly minTasks: number;
  /**
   * ACM certificate for `domainName` in `drRegion` (`HBS_<ENV>_DR_CERTIFICATE_ARN`). Undefined when
   * `hostedZoneId` is set and none is given: the standby requests one with DNS validation.
   */
  readonly certificateArn?: string;
  /**
   * The standby's own Terraform state, in a bucket in the DR region (`HBS_<ENV>_DR_STATE_BUCKET`), so
   * it can be changed while the primary region is down. Absent means a local backend.
   */
  readonly remoteState?: RemoteStateConfig;
  /**
   * Requests per 5 minutes on the standby's ALB above which the "standby serving" alarm says clients
   * have failed over. Route 53 health checks alone make about 500. @default 2000
   */
  readonly failoverRequestsPer5Min: number;
  /**
   * The DR region as writer (`HBS_<ENV>_STANDBY_WRITER=true`, the promotion runbook): the standby
   * stack adds the promoted sync task and its weekly schedule. It syncs only while the writer pin
   * names the DR region. @default false
   */
  readonly writer: boolean;
}

export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  readonly region: string;
  /** Region of the DynamoDB replica and the backup copy vault. */
  readonly drRegion: string;
  /** Exactly three AZs in `region`. */
  readonly availabilityZones: readonly string[];
  readonly vpcCidr: string;
  /** `one-per-az` survives an AZ outage; `single` saves money outside prod. */
  readonly natGateways: 'one-per-az' | 'single';
  /** Run Fargate work on Spot capacity (cheaper, interruptible). Never in prod. */
  readonly fargateSpot: boolean;
  /** Public host name of the mirror, e.g. `bottles.example.org`. */
  readonly domainName: string;
  /**
   * ACM certificate for `domainName`, in `region`. Undefined when `hostedZoneId` is set and no
   * certificate is given: the stack then requests one with DNS validation in that zone.
   */
  readonly certificateArn?: string;
  /**
   * Route 53 public hosted zone of `domainName` (`HBS_<ENV>_HOSTED_ZONE_ID`). When set, the stack
   * creates the alias records to the ALB (and the certificate, if none is given). Default: none;
   * point the domain at the `alb_dns_name` output yourself.
   */
  readonly hostedZoneId?: string;
  readonly alarmEmail: string;
  /** Container image tag deployed for the sync task and mirror service (tags are immutable). */
  readonly imageTag: string;
  readonly backupCrossRegionCopy: boolean;
  /**
   * Manage the account's AWS Backup Region settings (DynamoDB advanced features, opt-in) in the
   * stack's and the DR region. Account-wide per Region, so one environment per account owns them:
   * prod by default. `HBS_<ENV>_MANAGE_BACKUP_SETTINGS=true|false` overrides.
   */
  readonly manageBackupRegionSettings: boolean;
  /**
   * Auto-shutdown outside a working window: the mirror service scales to zero
   * at `endHour` and back to its minimum at `startHour` on `days`
   * (`HBS_<ENV>_WORKING_HOURS="MON-FRI 07-19 UTC"`, or `off`). The weekly sync
   * is unaffected. Prod never shuts down: setting it there is refused.
   * Default: dev on weekdays 07-19 UTC; staging and prod off.
   */
  readonly workingHours?: WorkingHours;
  /** Where the runbooks are, linked from the dashboard and the alarms (`HBS_<ENV>_RUNBOOK_URL`). Default: docs/operations.md#runbooks in the project repository. */
  readonly runbookUrl: string;
  /**
   * Synthesized for `npm run destroy` (issue #36, fault 3): every protection
   * that stops `terraform destroy` halfway is lifted: buckets and image
   * repositories may be deleted with their contents, the ALB and the state
   * table lose deletion protection, backup vaults their recovery points.
   * Never set for a deploy (`npm run deploy` refuses it). For prod it needs
   * `HBS_PROD_TEARDOWN_CONFIRM=prod` beside it: prod is named twice.
   * @default false (`HBS_<ENV>_TEARDOWN=true`)
   */
  readonly teardown?: boolean;
  /**
   * What Lambda does with code the environment's signing profile did not sign.
   * Every deploy signs both functions in every environment; prod refuses
   * anything else (`Enforce`), dev and staging accept it with a warning
   * (`Warn`) so an engineer can push a local build with
   * `aws lambda update-function-code` while debugging.
   */
  readonly lambdaCodeSigning: 'Enforce' | 'Warn';
  /** Retention of operational log groups (Lambda, tasks, cache): 30 days by default, a cost choice. */
  readonly logRetentionDays: number;
  /**
   * Retention of security logs (VPC flow logs, WAF logs, the CloudTrail log
   * group): at least a year, for investigations (CKV_AWS_338). Default 365.
   */
  readonly securityLogRetentionDays?: number;
  readonly cache: CacheConfig;
  readonly mirrorService: MirrorServiceConfig;
  readonly sync: SyncConfig;
  /**
   * The fleet's policy (issue #35, docs/tokens.md): what it forbids is not mirrored, and the mirror
   * hands it to brew in `/brew.env`. @default none (`HBS_<ENV>_FORBIDDEN_FORMULAE`, `…_CASKS`,
   * `…_LICENSES`, `…_TAPS`, `HBS_<ENV>_ALLOWED_TAPS`, each a space- or comma-separated list)
   */
  readonly policy?: FleetPolicy;
  readonly alarms: AlarmThresholds;
  /** Absent means a local backend (state file next to the synthesized stack). */
  readonly remoteState?: RemoteStateConfig;
  /**
   * A warm standby in `drRegion` (its own stack, `<env>-standby`). Default: prod only;
   * `HBS_<ENV>_STANDBY=true|false` overrides.
   */
  readonly standby?: StandbyConfig;
}

export interface WorkingHours {
  /** Cron day-of-week field, e.g. `MON-FRI`. */
  readonly days: string;
  /** Hour (0-23) the service starts, in `timezone`. */
  readonly startHour: number;
  /** Hour (0-23) it stops. */
  readonly endHour: number;
  /** IANA time zone of the hours, e.g. `UTC`, `Europe/Berlin`. */
  readonly timezone: string;
}
