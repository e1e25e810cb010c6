import { EnvironmentName, AlarmThresholds, EnvironmentConfig } from './environment-config';
/**
 * The three deployment environments' settings (types: config/environment-config.ts;
 * the `HBS_<ENV>_*` overrides: config/load-environment.ts).
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

/** The runbooks, relative to the repository; set HBS_<ENV>_RUNBOOK_URL to where your team reads it. */
export const DEFAULT_RUNBOOK_URL = 'docs/operations.md#runbooks';
/** Values that mark a setting as "not configured yet". `predeploy` refuses them. */
export const PLACEHOLDER_ACCOUNT_ID = '000000000000';
export const PLACEHOLDER_DOMAIN_SUFFIX = 'example.com';

const GIB = 1024 ** 3;
const DAY_SECONDS = 24 * 60 * 60;

/** A well-formed ACM ARN in the placeholder account: synthesis works, `predeploy` refuses it. */
export const placeholderCertificate = (region: string): string =>
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
  // 200 GiB in an hour is about $19 of S3 egress at $0.09/GB: a whole fleet updating, or one client draining.
  storeBytesDownloadedPerHour: 200 * GIB,
  // Weekly runs keep the generation at most ~7 days old; 8 days means a run was missed.
  freshnessMaxAgeSeconds: 8 * DAY_SECONDS,
  // prod and its standby (the account's bill): about $1,019 at the cost script's assumptions.
  monthlyCostUsd: 1200,
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
      // Closed until HBS_<ENV>_ALLOWED_CIDRS names who may connect (0.0.0.0/0 only on purpose: issue #25).
      allowedCidrs: [],
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
      // Closed until HBS_<ENV>_ALLOWED_CIDRS names who may connect (0.0.0.0/0 only on purpose: issue #25).
      allowedCidrs: [],
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
      storeBytesDownloadedPerHour: 20 * GIB,
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
      storeBytesDownloadedPerHour: 20 * GIB,
      monthlyCostUsd: 175,
    },
  },
};
