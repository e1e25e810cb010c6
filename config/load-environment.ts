import { parseByteSize } from '../engine/byte-size';
import { SERVE_DEFAULTS } from '../engine/defaults';
import { ConfigurationError } from '../engine/errors';
import { EnvironmentName, MirrorServiceConfig, RemoteStateConfig, StandbyConfig, EnvironmentConfig, SyncConfig, WorkingHours } from './environment-config';
import { BASE_ENVIRONMENTS, PLACEHOLDER_ACCOUNT_ID, PLACEHOLDER_DOMAIN_SUFFIX, placeholderCertificate } from './environments';
import { parseTapList } from '../engine/taps/tap-names';
import { FleetPolicy, POLICY_VARIABLES, parsePolicy } from '../engine/policy/fleet-policy';

/**
 * Reads one environment's configuration: the example values of
 * config/environments.ts, overridden by `HBS_<ENV>_*` variables and checked
 * (a bad value is a ConfigurationError naming the variable), and lists what is
 * still a placeholder for `predeploy`.
 */

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
    mirrorService: mirrorService(base.mirrorService, albScheme, read, prefix),
    sync: sync(base.sync, read, prefix),
    policy: policy(base.policy, read, prefix),
    remoteState,
    manageBackupRegionSettings: flag(read('MANAGE_BACKUP_SETTINGS'), `${prefix}MANAGE_BACKUP_SETTINGS`, base.manageBackupRegionSettings),
    workingHours: workingHours(name, read('WORKING_HOURS'), `${prefix}WORKING_HOURS`, base.workingHours),
    runbookUrl: check(read('RUNBOOK_URL') ?? base.runbookUrl, /^[^\s()<>\[\]]+$/, `${prefix}RUNBOOK_URL`, 'URL'),
    standby: standby(base, { drRegion, hostedZoneId, albScheme }, read, prefix),
    teardown: teardown(name, read, prefix),
  };
}

/** `HBS_<ENV>_FORBIDDEN_*` and `HBS_<ENV>_ALLOWED_TAPS`, read as a brew.env policy file would be. */
function policy(base: FleetPolicy | undefined, read: Read, prefix: string): FleetPolicy | undefined {
  const given: [string, string | undefined][] = [
    [POLICY_VARIABLES.forbiddenFormulae, read('FORBIDDEN_FORMULAE')],
    [POLICY_VARIABLES.forbiddenCasks, read('FORBIDDEN_CASKS')],
    [POLICY_VARIABLES.forbiddenLicenses, read('FORBIDDEN_LICENSES')],
    [POLICY_VARIABLES.forbiddenTaps, read('FORBIDDEN_TAPS')],
    [POLICY_VARIABLES.allowedTaps, read('ALLOWED_TAPS')],
  ];
  const lines = given.filter(([, value]) => value !== undefined).map(([variable, value]) => `${variable}=${value!.split(/[\s,]+/).filter(Boolean).join(' ')}`);
  if (lines.length === 0) return base;
  try {
    return parsePolicy(lines.join('\n'), `${prefix}FORBIDDEN_*`);
  } catch (error) {
    throw new ConfigurationError((error as Error).message);
  }
}

/** `HBS_<ENV>_TEARDOWN`: prod's protections are lifted only when prod is named a second time. */
function teardown(name: EnvironmentName, read: Read, prefix: string): boolean {
  const on = flag(read('TEARDOWN'), `${prefix}TEARDOWN`, false);
  if (on && name === 'prod' && read('TEARDOWN_CONFIRM') !== 'prod') {
    throw new ConfigurationError(`${prefix}TEARDOWN lifts prod's deletion protections; name prod twice to mean it (${prefix}TEARDOWN_CONFIRM=prod, or npm run destroy -- prod --confirm prod)`);
  }
  return on;
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

/** A security group holds 60 inbound rules: each CIDR takes two (443, 80), Route 53's prefix list weighs 25. */
export const MAX_ALLOWED_CIDRS = 17;
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;

/** `HBS_<ENV>_ALLOWED_CIDRS`: comma-separated IPv4 CIDRs; `0.0.0.0/0` is the explicit choice to open the mirror to everyone. */
function allowedCidrs(value: string | undefined, variable: string, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  const cidrs = value.split(',').map((c) => c.trim()).filter(Boolean);
  for (const cidr of cidrs) if (!IPV4_CIDR.test(cidr)) throw new ConfigurationError(`${variable}: ${JSON.stringify(cidr)} is not an IPv4 CIDR (e.g. 10.0.0.0/8)`);
  if (cidrs.length > MAX_ALLOWED_CIDRS) {
    throw new ConfigurationError(`${variable}: ${cidrs.length} CIDRs; at most ${MAX_ALLOWED_CIDRS} fit the ALB's security group (60 inbound rules: two per CIDR, 25 for Route 53's health checkers)`);
  }
  return cidrs;
}

type Read = (key: string) => string | undefined;

function mirrorService(base: MirrorServiceConfig, albScheme: MirrorServiceConfig['albScheme'], read: Read, prefix: string): MirrorServiceConfig {
  return {
    ...base,
    albScheme,
    allowedCidrs: allowedCidrs(read('ALLOWED_CIDRS'), `${prefix}ALLOWED_CIDRS`, base.allowedCidrs),
    byteBudgetPerHour: byteSize(read('BYTE_BUDGET_PER_HOUR'), `${prefix}BYTE_BUDGET_PER_HOUR`, base.byteBudgetPerHour ?? SERVE_DEFAULTS.byteBudgetPerHour),
    pullThrough: flag(read('PULL_THROUGH'), `${prefix}PULL_THROUGH`, base.pullThrough ?? false),
    requireToken: flag(read('REQUIRE_TOKEN'), `${prefix}REQUIRE_TOKEN`, base.requireToken ?? false),
  };
}

function sync(base: SyncConfig, read: Read, prefix: string): SyncConfig {
  return {
    ...base,
    mirrorBrew: flag(read('MIRROR_BREW'), `${prefix}MIRROR_BREW`, base.mirrorBrew ?? true),
    importFed: flag(read('IMPORT_FED'), `${prefix}IMPORT_FED`, base.importFed ?? false),
    casks: caskTokens(read('CASKS'), `${prefix}CASKS`, base.casks ?? []),
    allowUnpinnedCasks: caskTokens(read('ALLOW_UNPINNED_CASKS'), `${prefix}ALLOW_UNPINNED_CASKS`, base.allowUnpinnedCasks ?? []),
    taps: tapSpecs(read('TAPS'), `${prefix}TAPS`, base.taps ?? []),
  };
}

/** A comma list of `user/repo[=URL]`; anything else fails naming the variable. */
function tapSpecs(value: string | undefined, variable: string, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  try {
    return parseTapList(value).map((tap) => `${tap.name}=${tap.remote}`);
  } catch (error) {
    throw new ConfigurationError(`${variable}: ${(error as Error).message}`);
  }
}

/** A comma list of cask tokens; anything else fails naming the variable. */
function caskTokens(value: string | undefined, variable: string, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  const tokens = value.split(',').map((t) => t.trim()).filter(Boolean);
  const bad = tokens.find((t) => !/^[a-z0-9][a-z0-9@._+-]{0,127}$/.test(t));
  if (bad !== undefined) throw new ConfigurationError(`${variable}: ${JSON.stringify(bad)} is not a cask token`);
  return tokens;
}

/** `HBS_<ENV>_BYTE_BUDGET_PER_HOUR`: a size such as `50G`. */
function byteSize(value: string | undefined, variable: string, fallback: number): number {
  if (value === undefined) return fallback;
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw new ConfigurationError(`${variable}: ${JSON.stringify(value)} is not a size (e.g. 50G)`);
  return bytes;
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
  if (config.mirrorService.allowedCidrs.length === 0) {
    problems.push(
      `${prefix}ALLOWED_CIDRS is not set, so no client may reach the mirror; set the networks that may (e.g. 10.0.0.0/8,192.168.0.0/16), ` +
        'or 0.0.0.0/0 to open it to the whole internet and pay the S3 egress of whoever downloads (docs/configuration.md)',
    );
  }
  if (config.standby && !config.standby.remoteState) {
    problems.push(`${prefix}DR_STATE_BUCKET is not set; the standby's state must live in a bucket in ${config.drRegion}, reachable while ${config.region} is down`);
  }
  return problems;
}
