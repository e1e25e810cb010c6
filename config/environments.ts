import { ConfigurationError } from '../engine/errors';
/**
 * Typed configuration for the three deployment environments.
 *
 * Everything that differs between dev, staging and prod lives here, in one
 * object per environment. Values that only a real AWS account can provide
 * (domain, certificate, alarm e-mail, remote-state bucket) default to obvious
 * placeholders so that `npm run synth` works on any machine; they are
 * overridden through `HBS_<ENV>_*` environment variables, and
 * `npm run predeploy` refuses to go further while a placeholder is left.
 *
 * There are deliberately no `.env` files: the CI system or the operator's
 * shell provides the variables.
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
  /** Client CIDRs allowed to reach the ALB on 80/443. */
  readonly allowedCidrs: readonly string[];
  /** Requests per client IP per 5 minutes before WAF blocks it. */
  readonly wafRateLimitPer5Min: number;
}

export interface SyncConfig {
  readonly orchestratorReservedConcurrency: number;
  readonly workerReservedConcurrency: number;
  /** Transfers above this many bytes go to the Fargate task instead of worker Lambdas. */
  readonly lambdaThresholdBytes: number;
  readonly taskCpu: number;
  readonly taskMemoryMiB: number;
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
  /** Where the runbooks are, linked from the dashboard and the alarms (`HBS_<ENV>_RUNBOOK_URL`). Default: the README's section in the project repository. */
  readonly runbookUrl: string;
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
  readonly alarms: AlarmThresholds;
  /** Absent means a local backend (state file next to the synthesized stack). */
  readonly remoteState?: RemoteStateConfig;
  /**
   * A warm standby in `drRegion` (its own stack, `<env>-standby`). Default: prod only;
   * `HBS_<ENV>_STANDBY=true|false` overrides.
   */
  readonly standby?: StandbyConfig;
}

/** Values that mark a setting as "not configured yet". `predeploy` refuses them. */
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

/** `MON-FRI 07-19 UTC` → WorkingHours; `off` → undefined. */
export function parseWorkingHours(value: string, variable: string): WorkingHours | undefined {
  if (value === 'off') return undefined;
  const match = /^([A-Z]{3}(?:-[A-Z]{3})?(?:,[A-Z]{3})*) (\d{1,2})-(\d{1,2}) ([A-Za-z_]+(?:\/[A-Za-z_+-]+)*)$/.exec(value);
  const [startHour, endHour] = match ? [Number(match[2]), Number(match[3])] : [NaN, NaN];
  if (!match || startHour > 23 || endHour > 23 || startHour >= endHour) {
    throw new ConfigurationError(`${variable}=${JSON.stringify(value)} must be "off" or "DAYS START-END TIMEZONE", e.g. "MON-FRI 07-19 UTC"`);
  }
  return { days: match[1], startHour, endHour, timezone: match[4] };
}

/** The README's runbooks, relative to the repository; set HBS_<ENV>_RUNBOOK_URL to where your team reads it. */
export const DEFAULT_RUNBOOK_URL = 'README.md#runbooks';
export const PLACEHOLDER_ACCOUNT_ID = '000000000000';
export const PLACEHOLDER_DOMAIN_SUFFIX = 'example.com';

const GIB = 1024 ** 3;
const DAY_SECONDS = 24 * 60 * 60;

const placeholderCertificate = (region: string): string =>
  `arn:aws:acm:${region}:${PLACEHOLDER_ACCOUNT_ID}:certificate/00000000-0000-0000-0000-000000000000`;

const prodAlarms: AlarmThresholds = {
  orchestratorErrors: 3,
  orchestratorDurationMs: 3 * 60 * 1000,
  workerErrors: 5,
  alb5xxRatePercent: 1,
  albP99LatencySeconds: 0.5,
  redisCpuPercent: 75,
  redisMemoryPercent: 80,
  redisReplicationLagSeconds: 5,
  dynamodbReplicationLatencyMs: 60_000,
  storeReplicationLatencySeconds: 300,
  // Weekly runs keep the generation at most ~7 days old; 8 days means a run was missed.
  freshnessMaxAgeSeconds: 8 * DAY_SECONDS,
  // prod and its standby (the account's bill): about $928 at the cost script's assumptions.
  monthlyCostUsd: 1100,
};

/** Example defaults. Synthesis works with them; deployment needs real values. */
export const BASE_ENVIRONMENTS: Record<EnvironmentName, EnvironmentConfig> = {
  prod: {
    name: 'prod',
    region: 'us-east-1',
    drRegion: 'us-west-2',
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    vpcCidr: '10.30.0.0/16',
    natGateways: 'one-per-az',
    fargateSpot: false,
    domainName: `bottles.${PLACEHOLDER_DOMAIN_SUFFIX}`,
    certificateArn: placeholderCertificate('us-east-1'),
    alarmEmail: `oncall@${PLACEHOLDER_DOMAIN_SUFFIX}`,
    imageTag: '0.1.0',
    backupCrossRegionCopy: true,
    manageBackupRegionSettings: true,
    runbookUrl: DEFAULT_RUNBOOK_URL,
    logRetentionDays: 30,
    lambdaCodeSigning: 'Enforce',
    cache: { nodeType: 'cache.r7g.large', nodeCount: 3, snapshotRetentionDays: 7 },
    mirrorService: {
      cpu: 1024,
      memoryMiB: 2048,
      minTasks: 3,
      maxTasks: 12,
      albScheme: 'internet-facing',
      allowedCidrs: ['0.0.0.0/0'],
      wafRateLimitPer5Min: 20_000,
    },
    sync: {
      orchestratorReservedConcurrency: 1,
      workerReservedConcurrency: 50,
      lambdaThresholdBytes: 20 * GIB,
      taskCpu: 2048,
      taskMemoryMiB: 8192,
    },
    alarms: prodAlarms,
    standby: {
      availabilityZones: ['us-west-2a', 'us-west-2b', 'us-west-2c'],
      vpcCidr: '10.31.0.0/16',
      minTasks: 2,
      certificateArn: placeholderCertificate('us-west-2'),
      failoverRequestsPer5Min: 2000,
      writer: false,
    },
  },
  staging: {
    name: 'staging',
    region: 'us-east-1',
    drRegion: 'us-west-2',
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    vpcCidr: '10.20.0.0/16',
    natGateways: 'single',
    fargateSpot: true,
    domainName: `bottles-staging.${PLACEHOLDER_DOMAIN_SUFFIX}`,
    certificateArn: placeholderCertificate('us-east-1'),
    alarmEmail: `oncall@${PLACEHOLDER_DOMAIN_SUFFIX}`,
    imageTag: '0.1.0',
    backupCrossRegionCopy: false,
    manageBackupRegionSettings: false,
    runbookUrl: DEFAULT_RUNBOOK_URL,
    logRetentionDays: 30,
    lambdaCodeSigning: 'Warn',
    cache: { nodeType: 'cache.t4g.medium', nodeCount: 2, snapshotRetentionDays: 7 },
    mirrorService: {
      cpu: 512,
      memoryMiB: 1024,
      minTasks: 2,
      maxTasks: 4,
      albScheme: 'internet-facing',
      allowedCidrs: ['0.0.0.0/0'],
      wafRateLimitPer5Min: 5_000,
    },
    sync: {
      orchestratorReservedConcurrency: 1,
      workerReservedConcurrency: 20,
      lambdaThresholdBytes: 20 * GIB,
      taskCpu: 2048,
      taskMemoryMiB: 8192,
    },
    alarms: {
      ...prodAlarms,
      orchestratorErrors: 5,
      orchestratorDurationMs: 5 * 60 * 1000,
      workerErrors: 10,
      alb5xxRatePercent: 5,
      albP99LatencySeconds: 1,
      redisCpuPercent: 90,
      redisMemoryPercent: 90,
      monthlyCostUsd: 250,
    },
  },
  dev: {
    name: 'dev',
    region: 'us-east-1',
    drRegion: 'us-west-2',
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    vpcCidr: '10.10.0.0/16',
    natGateways: 'single',
    fargateSpot: true,
    domainName: `bottles-dev.${PLACEHOLDER_DOMAIN_SUFFIX}`,
    certificateArn: placeholderCertificate('us-east-1'),
    alarmEmail: `oncall@${PLACEHOLDER_DOMAIN_SUFFIX}`,
    imageTag: '0.1.0',
    backupCrossRegionCopy: false,
    manageBackupRegionSettings: false,
    runbookUrl: DEFAULT_RUNBOOK_URL,
    workingHours: { days: 'MON-FRI', startHour: 7, endHour: 19, timezone: 'UTC' },
    logRetentionDays: 30,
    lambdaCodeSigning: 'Warn',
    cache: { nodeType: 'cache.t4g.small', nodeCount: 2, snapshotRetentionDays: 7 },
    mirrorService: {
      cpu: 256,
      memoryMiB: 512,
      minTasks: 2,
      maxTasks: 2,
      albScheme: 'internal',
      allowedCidrs: ['10.0.0.0/8'],
      wafRateLimitPer5Min: 2_000,
    },
    sync: {
      orchestratorReservedConcurrency: 1,
      workerReservedConcurrency: 5,
      lambdaThresholdBytes: 20 * GIB,
      taskCpu: 2048,
      taskMemoryMiB: 8192,
    },
    alarms: {
      ...prodAlarms,
      orchestratorErrors: 10,
      orchestratorDurationMs: 10 * 60 * 1000,
      workerErrors: 20,
      alb5xxRatePercent: 10,
      albP99LatencySeconds: 2,
      redisCpuPercent: 90,
      redisMemoryPercent: 90,
      monthlyCostUsd: 150,
    },
  },
};

type Env = Readonly<Record<string, string | undefined>>;

const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function check(value: string, pattern: RegExp, variable: string, what: string): string {
  if (!pattern.test(value)) {
    throw new ConfigurationError(`${variable}=${JSON.stringify(value)} is not a valid ${what}`);
  }
  return value;
}

/**
 * The configuration of one environment: the example defaults, overridden by
 * `HBS_<ENV>_*` variables (e.g. `HBS_PROD_DOMAIN_NAME`).
 */
export function loadEnvironmentConfig(name: EnvironmentName, env: Env = process.env): EnvironmentConfig {
  const base = BASE_ENVIRONMENTS[name];
  const prefix = `HBS_${name.toUpperCase()}_`;
  const read = (key: string): string | undefined => {
    const value = env[prefix + key];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const region = check(read('REGION') ?? base.region, REGION, `${prefix}REGION`, 'AWS region');
  const drRegion = check(read('DR_REGION') ?? base.drRegion, REGION, `${prefix}DR_REGION`, 'AWS region');
  if (drRegion === region) {
    throw new ConfigurationError(`${prefix}DR_REGION must differ from ${prefix}REGION (${region})`);
  }
  const azOverride = read('AVAILABILITY_ZONES');
  const availabilityZones = azOverride
    ? azOverride.split(',').map((az) => az.trim())
    : region === base.region
      ? base.availabilityZones
      : ['a', 'b', 'c'].map((suffix) => `${region}${suffix}`);
  if (availabilityZones.length !== 3 || !availabilityZones.every((az) => az.startsWith(region))) {
    throw new ConfigurationError(`${prefix}AVAILABILITY_ZONES must list exactly three zones of ${region}`);
  }

  const albScheme = read('ALB_SCHEME') ?? base.mirrorService.albScheme;
  if (albScheme !== 'internet-facing' && albScheme !== 'internal') {
    throw new ConfigurationError(`${prefix}ALB_SCHEME must be "internet-facing" or "internal", not ${JSON.stringify(albScheme)}`);
  }
  const zone = read('HOSTED_ZONE_ID');
  const hostedZoneId = zone === undefined ? undefined : check(zone, /^Z[A-Z0-9]{1,31}$/, `${prefix}HOSTED_ZONE_ID`, 'Route 53 hosted zone id');
  const alarmEmail = check(read('ALARM_EMAIL') ?? base.alarmEmail, EMAIL, `${prefix}ALARM_EMAIL`, 'e-mail address');

  const stateBucket = read('STATE_BUCKET');
  if (read('STATE_LOCK_TABLE') !== undefined) {
    throw new ConfigurationError(
      `${prefix}STATE_LOCK_TABLE is no longer used: the state is locked with S3-native lock files (use_lockfile); unset it (the DynamoDB lock table can be deleted)`,
    );
  }
  const remoteState: RemoteStateConfig | undefined =
    stateBucket
      ? {
          bucket: stateBucket,
          region: check(read('STATE_REGION') ?? region, REGION, `${prefix}STATE_REGION`, 'AWS region'),
          key: `homebrew-bottles-sync/${name}/terraform.tfstate`,
        }
      : base.remoteState;

  return {
    ...base,
    region,
    drRegion,
    availabilityZones,
    domainName: check(read('DOMAIN_NAME') ?? base.domainName, HOSTNAME, `${prefix}DOMAIN_NAME`, 'host name'),
    hostedZoneId,
    certificateArn:
      read('CERTIFICATE_ARN') === undefined && hostedZoneId
        ? undefined
        : check(
            read('CERTIFICATE_ARN') ?? (region === base.region ? base.certificateArn! : placeholderCertificate(region)),
            ACM_ARN,
            `${prefix}CERTIFICATE_ARN`,
            'ACM certificate ARN',
          ),
    alarmEmail,
    imageTag: check(read('IMAGE_TAG') ?? base.imageTag, IMAGE_TAG, `${prefix}IMAGE_TAG`, 'container image tag'),
    mirrorService: { ...base.mirrorService, albScheme },
    remoteState,
    manageBackupRegionSettings: flag(read('MANAGE_BACKUP_SETTINGS'), `${prefix}MANAGE_BACKUP_SETTINGS`, base.manageBackupRegionSettings),
    workingHours: workingHours(name, read('WORKING_HOURS'), `${prefix}WORKING_HOURS`, base.workingHours),
    runbookUrl: check(read('RUNBOOK_URL') ?? base.runbookUrl, /^[^\s()<>\[\]]+$/, `${prefix}RUNBOOK_URL`, 'URL'),
    standby: standby(base, { drRegion, hostedZoneId, albScheme }, read, prefix),
  };
}

/** The standby's settings: on where the base has one (prod) unless `HBS_<ENV>_STANDBY=false`, and the reverse. */
function standby(
  base: EnvironmentConfig,
  primary: { drRegion: string; hostedZoneId?: string; albScheme: string },
  read: (key: string) => string | undefined,
  prefix: string,
): StandbyConfig | undefined {
  if (!flag(read('STANDBY'), `${prefix}STANDBY`, base.standby !== undefined)) return undefined;
  const { drRegion, hostedZoneId } = primary;
  if (hostedZoneId && primary.albScheme === 'internal') {
    throw new ConfigurationError(`${prefix}STANDBY with ${prefix}HOSTED_ZONE_ID needs an internet-facing ALB: Route 53 health checks cannot reach an internal one`);
  }
  const sameRegion = base.standby !== undefined && drRegion === base.drRegion;
  const azOverride = read('DR_AVAILABILITY_ZONES');
  const availabilityZones = azOverride
    ? azOverride.split(',').map((az) => az.trim())
    : sameRegion
      ? base.standby!.availabilityZones
      : ['a', 'b', 'c'].map((suffix) => `${drRegion}${suffix}`);
  if (availabilityZones.length !== 3 || !availabilityZones.every((az) => az.startsWith(drRegion))) {
    throw new ConfigurationError(`${prefix}DR_AVAILABILITY_ZONES must list exactly three zones of ${drRegion}`);
  }
  // The primary's /16 with the second octet one higher (10.30.0.0/16 → 10.31.0.0/16).
  const vpcCidr = base.standby?.vpcCidr ?? base.vpcCidr.replace(/^(\d+)\.(\d+)\./, (_, a: string, b: string) => `${a}.${Number(b) + 1}.`);
  const certificate = read('DR_CERTIFICATE_ARN');
  const stateBucket = read('DR_STATE_BUCKET');
  return {
    availabilityZones,
    vpcCidr,
    minTasks: base.standby?.minTasks ?? 2,
    failoverRequestsPer5Min: base.standby?.failoverRequestsPer5Min ?? 2000,
    writer: flag(read('STANDBY_WRITER'), `${prefix}STANDBY_WRITER`, false),
    certificateArn:
      certificate === undefined && hostedZoneId
        ? undefined
        : check(certificate ?? placeholderCertificate(drRegion), ACM_ARN, `${prefix}DR_CERTIFICATE_ARN`, 'ACM certificate ARN'),
    remoteState: stateBucket ? { bucket: stateBucket, region: drRegion, key: `homebrew-bottles-sync/${base.name}/standby.tfstate` } : undefined,
  };
}

function workingHours(name: EnvironmentName, value: string | undefined, variable: string, fallback?: WorkingHours): WorkingHours | undefined {
  const hours = value === undefined ? fallback : parseWorkingHours(value, variable);
  if (hours && name === 'prod') throw new ConfigurationError(`${variable}: prod never shuts down outside working hours (reliability); unset it`);
  return hours;
}

function flag(value: string | undefined, variable: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value !== 'true' && value !== 'false') throw new ConfigurationError(`${variable}=${JSON.stringify(value)} must be true or false`);
  return value === 'true';
}

/** Human-readable reasons why `config` cannot be deployed yet (empty when it can). */
export function placeholderProblems(config: EnvironmentConfig): string[] {
  const prefix = `HBS_${config.name.toUpperCase()}_`;
  const problems: string[] = [];
  if (config.domainName === PLACEHOLDER_DOMAIN_SUFFIX || config.domainName.endsWith(`.${PLACEHOLDER_DOMAIN_SUFFIX}`)) {
    problems.push(`${prefix}DOMAIN_NAME is the placeholder ${config.domainName}; set the mirror's real host name`);
  }
  if (config.certificateArn?.includes(`:${PLACEHOLDER_ACCOUNT_ID}:`)) {
    problems.push(`${prefix}CERTIFICATE_ARN is the placeholder certificate; set the ACM certificate ARN for ${config.domainName}`);
  }
  if (config.alarmEmail.endsWith(`@${PLACEHOLDER_DOMAIN_SUFFIX}`)) {
    problems.push(`${prefix}ALARM_EMAIL is the placeholder ${config.alarmEmail}; set the on-call address`);
  }
  if (!config.remoteState) {
    problems.push(
      `${prefix}STATE_BUCKET is not set; a shared environment needs remote state (S3, with S3-native locking)`,
    );
  }
  if (config.standby?.certificateArn?.includes(`:${PLACEHOLDER_ACCOUNT_ID}:`)) {
    problems.push(`${prefix}DR_CERTIFICATE_ARN is the placeholder certificate; set the ACM certificate ARN for ${config.domainName} in ${config.drRegion} (or ${prefix}HOSTED_ZONE_ID)`);
  }
  if (config.standby && !config.standby.remoteState) {
    problems.push(`${prefix}DR_STATE_BUCKET is not set; the standby's state must live in a bucket in ${config.drRegion}, reachable while ${config.region} is down`);
  }
  return problems;
}
