/**
 * `npm run cost -- <env>`: a monthly estimate for an environment, from its
 * synthesized resources (cdktf.out/stacks/<env>/cdk.tf.json) and the unit
 * prices below. Usage that the stack cannot know (bytes stored, downloaded,
 * synced) comes from stated assumptions, printed with the estimate and
 * overridable: --stored-gb N --egress-gb N --sync-gb N.
 *
 * Exit codes: 0 printed; 2 usage (unknown environment, not synthesized yet).
 */
import * as fs from 'fs';
import * as path from 'path';

/**
 * us-east-1 on-demand list prices, USD, as of 2026-11 (check the AWS pricing
 * pages before relying on them; they change). Valkey nodes are priced 20 %
 * below Redis OSS nodes of the same type.
 */
export const PRICES = {
  asOf: '2026-11',
  region: 'us-east-1',
  hoursPerMonth: 730,
  natGatewayHour: 0.045,
  natGatewayGb: 0.045,
  publicIpv4Hour: 0.005,
  /** An interface VPC endpoint, per AZ it has a network interface in. */
  interfaceEndpointAzHour: 0.01,
  albHour: 0.0225,
  albLcuHour: 0.008,
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
  /** Fargate Spot runs at roughly 70 % off on-demand. */
  fargateSpotFactor: 0.3,
  valkeyNodeHour: { 'cache.t4g.small': 0.0256, 'cache.t4g.medium': 0.052, 'cache.r7g.large': 0.1752 } as Record<string, number>,
  kmsKeyMonth: 1.0,
  alarmMonth: 0.1,
  dashboardMonth: 3.0,
  wafWebAclMonth: 5.0,
  wafRuleMonth: 1.0,
  wafMillionRequests: 0.6,
  s3StandardGbMonth: 0.023,
  s3EgressGb: 0.09,
  dynamodbBackupGbMonth: 0.1,
  replicationTimeControlGb: 0.015,
  crossRegionTransferGb: 0.02,
  dynamodbPitrGbMonth: 0.2,
  logsIngestGb: 0.5,
  /** A health check of an AWS endpoint, and each optional feature (HTTPS, 10 s interval). */
  route53HealthCheckMonth: 0.5,
  route53HealthCheckFeatureMonth: 1.0,
} as const;

export interface Usage {
  /** Bottles kept in the store (S3 Standard), GB. */
  readonly storedGb: number;
  /** Bottles clients download per month (S3 egress through presigned URLs), GB. */
  readonly egressGb: number;
  /** Bottles synced from upstream per month (through NAT), GB. */
  readonly syncGb: number;
  /** Mirror requests per month, millions (WAF). */
  readonly millionRequests: number;
  /** Logs ingested per month (flow logs, access logs, Lambda), GB. */
  readonly logsGb: number;
}

/** Stated per environment; a full Homebrew mirror of every tag is far larger than a team's subset. */
export const USAGE_ASSUMPTIONS: Record<string, Usage> = {
  prod: { storedGb: 1000, egressGb: 500, syncGb: 100, millionRequests: 10, logsGb: 20 },
  staging: { storedGb: 100, egressGb: 20, syncGb: 20, millionRequests: 1, logsGb: 5 },
  dev: { storedGb: 50, egressGb: 5, syncGb: 10, millionRequests: 0.5, logsGb: 2 },
  // The standby stores nothing of its own (the replica is prod's line) and serves only after a failover;
  // Route 53 health checks from every checker region, every 10 s, make about 4 M requests a month.
  'prod-standby': { storedGb: 0, egressGb: 0, syncGb: 0, millionRequests: 4, logsGb: 3 },
};

export interface Line {
  readonly item: string;
  readonly quantity: string;
  readonly monthlyUsd: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Synthesized = { resource?: Record<string, Record<string, any>> };

const count = (json: Synthesized, type: string): number => Object.keys(json.resource?.[type] ?? {}).length;
const all = (json: Synthesized, type: string): any[] => Object.values(json.resource?.[type] ?? {});

/** The estimate's lines, largest first. */
export function estimate(json: Synthesized, usage: Usage): Line[] {
  const p = PRICES;
  const h = p.hoursPerMonth;
  const lines: Line[] = [];
  const add = (item: string, quantity: string, monthlyUsd: number) => monthlyUsd > 0 && lines.push({ item, quantity, monthlyUsd });

  const nat = count(json, 'aws_nat_gateway');
  add('NAT gateways', `${nat} × ${h} h`, nat * h * p.natGatewayHour);
  add('NAT data processing (upstream sync)', `${usage.syncGb} GB`, nat > 0 ? usage.syncGb * p.natGatewayGb : 0);
  add('Public IPv4 addresses (NAT)', `${count(json, 'aws_eip')} × ${h} h`, count(json, 'aws_eip') * h * p.publicIpv4Hour);
  const interfaces = all(json, 'aws_vpc_endpoint').filter((e) => e.vpc_endpoint_type === 'Interface');
  const endpointAzs = interfaces.reduce((n, e) => n + (e.subnet_ids?.length ?? 0), 0);
  add('VPC interface endpoints (ECR, CloudWatch Logs)', `${interfaces.length} × ${endpointAzs / Math.max(interfaces.length, 1)} AZ × ${h} h`, endpointAzs * h * p.interfaceEndpointAzHour);
  const albs = count(json, 'aws_lb');
  add('Application Load Balancer', `${albs} × ${h} h + 1 LCU`, albs * h * (p.albHour + p.albLcuHour));

  for (const service of all(json, 'aws_ecs_service')) {
    const family = String(service.task_definition).match(/aws_ecs_task_definition\.([a-z0-9_]+)\./)?.[1];
    const task = family ? json.resource!.aws_ecs_task_definition[family] : undefined;
    if (!task) continue;
    const spot = (service.capacity_provider_strategy ?? []).some((s: any) => s.capacity_provider === 'FARGATE_SPOT');
    const vcpu = Number(task.cpu) / 1024;
    const gb = Number(task.memory) / 1024;
    const perTaskHour = (vcpu * p.fargateVcpuHour + gb * p.fargateGbHour) * (spot ? p.fargateSpotFactor : 1);
    add(`Fargate mirror tasks${spot ? ' (Spot)' : ''}`, `${service.desired_count} × ${vcpu} vCPU / ${gb} GB × ${h} h`, service.desired_count * perTaskHour * h);
  }

  for (const group of all(json, 'aws_elasticache_replication_group')) {
    const price = p.valkeyNodeHour[group.node_type];
    if (price === undefined) throw new Error(`no price for cache node type ${group.node_type}: add it to PRICES.valkeyNodeHour`);
    add(`Valkey nodes (${group.node_type})`, `${group.num_cache_clusters} × ${h} h`, group.num_cache_clusters * h * price);
  }

  add('S3 bottle store (Standard)', `${usage.storedGb} GB`, usage.storedGb * p.s3StandardGbMonth);
  add('S3 downloads by clients (egress)', `${usage.egressGb} GB`, usage.egressGb * p.s3EgressGb);
  const backupCopies = all(json, 'aws_backup_plan').reduce((n, plan) => n + (plan.rule ?? []).reduce((m: number, r: any) => m + 1 + (r.copy_action?.length ?? 0), 0), 0);
  add('AWS Backup of the state table (~1 GB)', `${backupCopies} cop${backupCopies === 1 ? 'y' : 'ies'} × 1 GB`, backupCopies * p.dynamodbBackupGbMonth);
  const storeReplicated = Object.values(json.resource?.aws_s3_bucket_replication_configuration ?? {}).some((r: any) => String(r.bucket).includes('bottle_store'));
  if (storeReplicated) {
    // The DR copy: storage, plus each month's new bottles crossing regions with Replication Time Control.
    add('Bottle store replica in the DR region (storage, transfer, RTC)', `${usage.storedGb} GB + ${usage.syncGb} GB/month`, usage.storedGb * p.s3StandardGbMonth + usage.syncGb * (p.crossRegionTransferGb + p.replicationTimeControlGb));
    add('Initial replication of the store (transfer, first month)', `${usage.storedGb} GB`, usage.storedGb * p.crossRegionTransferGb);
  }

  const rules = all(json, 'aws_wafv2_web_acl').reduce((n, acl) => n + (acl.rule?.length ?? 0), 0);
  add('WAF web ACL, rules and requests', `${count(json, 'aws_wafv2_web_acl')} ACL, ${rules} rules, ${usage.millionRequests} M requests`, count(json, 'aws_wafv2_web_acl') * p.wafWebAclMonth + rules * p.wafRuleMonth + usage.millionRequests * p.wafMillionRequests);
  add('KMS keys', `${count(json, 'aws_kms_key')}`, count(json, 'aws_kms_key') * p.kmsKeyMonth);
  add('CloudWatch alarms', `${count(json, 'aws_cloudwatch_metric_alarm')}`, count(json, 'aws_cloudwatch_metric_alarm') * p.alarmMonth);
  add('CloudWatch dashboard', `${count(json, 'aws_cloudwatch_dashboard')}`, count(json, 'aws_cloudwatch_dashboard') * p.dashboardMonth);
  add('CloudWatch Logs ingestion', `${usage.logsGb} GB`, usage.logsGb * p.logsIngestGb);
  add('DynamoDB PITR (state table and replica, ~1 GB)', '2 × 1 GB', count(json, 'aws_dynamodb_table') > 0 ? 2 * p.dynamodbPitrGbMonth : 0);
  const checks = all(json, 'aws_route53_health_check');
  const features = checks.reduce((n, c) => n + (c.type === 'HTTPS' ? 1 : 0) + (c.request_interval === 10 ? 1 : 0), 0);
  add('Route 53 failover health checks', `${checks.length} (${features} features)`, checks.length * p.route53HealthCheckMonth + features * p.route53HealthCheckFeatureMonth);
  return lines.sort((a, b) => b.monthlyUsd - a.monthlyUsd);
}

export function table(env: string, lines: Line[], usage: Usage): string {
  const total = lines.reduce((sum, l) => sum + l.monthlyUsd, 0);
  const width = Math.max(...lines.map((l) => l.item.length), 5);
  return [
    `${env}: estimated monthly cost, ${PRICES.region} list prices as of ${PRICES.asOf} (scripts/cost.ts)`,
    `usage assumed: ${usage.storedGb} GB stored, ${usage.egressGb} GB downloaded, ${usage.syncGb} GB synced, ${usage.millionRequests} M requests, ${usage.logsGb} GB logs`,
    ...lines.map((l) => `  ${l.item.padEnd(width)}  ${l.quantity.padEnd(40)} ${`$${l.monthlyUsd.toFixed(2)}`.padStart(10)}`),
    `  ${'total'.padEnd(width)}  ${''.padEnd(40)} ${`$${total.toFixed(2)}`.padStart(10)}`,
    'Not included: Lambda and the Fargate sync task (minutes a week), DynamoDB requests, inter-AZ traffic, taxes.',
  ].join('\n');
}

function main(argv: string[]): number {
  const [env, ...flags] = argv;
  if (!env || !USAGE_ASSUMPTIONS[env]) {
    console.error(`cost: name the environment: one of ${Object.keys(USAGE_ASSUMPTIONS).join(', ')}`);
    return 2;
  }
  const file = path.resolve(__dirname, '..', 'cdktf.out', 'stacks', env, 'cdk.tf.json');
  if (!fs.existsSync(file)) {
    console.error(`cost: ${path.relative(process.cwd(), file)} is missing; run npm run synth first`);
    return 2;
  }
  const usage = { ...USAGE_ASSUMPTIONS[env] } as Record<keyof Usage, number>;
  for (let i = 0; i < flags.length; i += 2) {
    const key = { '--stored-gb': 'storedGb', '--egress-gb': 'egressGb', '--sync-gb': 'syncGb' }[flags[i]] as keyof Usage | undefined;
    const value = Number(flags[i + 1]);
    if (!key || !Number.isFinite(value) || value < 0) {
      console.error(`cost: unknown option or bad value ${flags[i]} ${flags[i + 1] ?? ''} (options: --stored-gb N --egress-gb N --sync-gb N)`);
      return 2;
    }
    usage[key] = value;
  }
  console.log(table(env, estimate(JSON.parse(fs.readFileSync(file, 'utf8')), usage), usage));
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
