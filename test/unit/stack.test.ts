import { Testing } from 'cdktf';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { EcsCluster } from '@cdktf/provider-aws/lib/ecs-cluster';
import { EcsClusterCapacityProviders } from '@cdktf/provider-aws/lib/ecs-cluster-capacity-providers';
import { ElasticacheReplicationGroup } from '@cdktf/provider-aws/lib/elasticache-replication-group';
import { ElasticacheUser } from '@cdktf/provider-aws/lib/elasticache-user';
import { FlowLog } from '@cdktf/provider-aws/lib/flow-log';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { Lb } from '@cdktf/provider-aws/lib/lb';
import { LbListener } from '@cdktf/provider-aws/lib/lb-listener';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
import { BackupPlan } from '@cdktf/provider-aws/lib/backup-plan';
import { EnvironmentName } from '../../config/environment-config';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { MirrorStack } from '../../stacks/mirror-stack';
import { KEEP_ALIVE_TIMEOUT_MS } from '../../engine/serve/server';
import { BYTE_BUDGET_ENV, CACHE_KEY_PREFIXES, PULL_THROUGH_ENV } from '../../engine/runtime-config';

/* eslint-disable @typescript-eslint/no-explicit-any */
const synth = (name: EnvironmentName): string => Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig(name, {})));
const stacks: Record<EnvironmentName, string> = { dev: synth('dev'), staging: synth('staging'), prod: synth('prod') };
const parsed = (name: EnvironmentName) => JSON.parse(stacks[name]);
const resources = (name: EnvironmentName, type: string): Record<string, any> => parsed(name).resource[type] ?? {};
const alarm = (name: EnvironmentName, suffix: string) => resources(name, 'aws_cloudwatch_metric_alarm')[`monitoring_alarm_${suffix}`];

/** A rule from a CIDR that is not one of the VPC's own subnets: a client network. */
const fromOutsideTheVpc = (rule: any): boolean => Boolean(rule.cidr_ipv4) && !String(rule.cidr_ipv4).startsWith('${aws_subnet.');

describe('network', () => {
  test('prod has one NAT per AZ; staging and dev share one', () => {
    expect(Object.keys(resources('prod', 'aws_nat_gateway'))).toHaveLength(3);
    expect(Object.keys(resources('staging', 'aws_nat_gateway'))).toHaveLength(1);
    expect(Object.keys(resources('dev', 'aws_nat_gateway'))).toHaveLength(1);
  });

  test('three public and three private subnets, in distinct AZs', () => {
    const subnets = Object.values(resources('prod', 'aws_subnet'));
    expect(subnets).toHaveLength(6);
    expect(new Set(subnets.map((s) => s.availability_zone)).size).toBe(3);
    expect(subnets.every((s) => s.map_public_ip_on_launch !== true)).toBe(true);
  });

  test('S3 and DynamoDB gateway endpoints serve the private route tables', () => {
    for (const service of ['s3', 'dynamodb']) {
      expect(stacks.prod).toHaveResourceWithProperties(VpcEndpoint, {
        service_name: `com.amazonaws.us-east-1.${service}`,
        vpc_endpoint_type: 'Gateway',
      });
    }
    const endpoint = resources('prod', 'aws_vpc_endpoint').network_s3_endpoint;
    expect(endpoint.route_table_ids).toHaveLength(3);
  });

  test('interface endpoints for ECR and CloudWatch Logs: private DNS, one per AZ with a NAT gateway, 443 only from the private subnets', () => {
    for (const [name, azs] of [['prod', 3], ['staging', 1], ['dev', 1]] as const) {
      const interfaces = Object.values(resources(name, 'aws_vpc_endpoint')).filter((e: any) => e.vpc_endpoint_type === 'Interface');
      expect(interfaces.map((e: any) => e.service_name).sort()).toEqual(['ecr.api', 'ecr.dkr', 'logs'].map((s) => `com.amazonaws.us-east-1.${s}`));
      for (const e of interfaces) {
        expect(e).toMatchObject({ private_dns_enabled: true, security_group_ids: ['${aws_security_group.network_aws_apis_sg.id}'] });
        expect(e.subnet_ids).toHaveLength(azs);
      }
      const ingress = Object.values(resources(name, 'aws_vpc_security_group_ingress_rule')).filter((r: any) => r.security_group_id.includes('network_aws_apis_sg'));
      const privateCidrs = Object.entries(resources(name, 'aws_subnet')).filter(([, s]) => s.tags.Tier === 'private').map(([key]) => `\${aws_subnet.${key}.cidr_block}`);
      expect(privateCidrs).toHaveLength(3);
      expect(ingress.map((r: any) => [r.from_port, r.to_port, r.cidr_ipv4])).toEqual(privateCidrs.map((cidr) => [443, 443, cidr]));
      expect(Object.values(resources(name, 'aws_vpc_security_group_egress_rule')).filter((r: any) => r.security_group_id.includes('network_aws_apis_sg'))).toEqual([]);
    }
  });

  test('flow logs capture all traffic and the default security group is empty', () => {
    expect(stacks.prod).toHaveResourceWithProperties(FlowLog, { traffic_type: 'ALL', log_destination_type: 'cloud-watch-logs' });
    const sg = resources('prod', 'aws_default_security_group').network_default_sg;
    expect(sg.ingress).toEqual([]);
    expect(sg.egress).toEqual([]);
  });

  test('closed by default (#25 fault 12): no client network reaches prod or staging until HBS_<ENV>_ALLOWED_CIDRS names it', () => {
    for (const name of ['prod', 'staging'] as const) {
      const ingress = Object.values(resources(name, 'aws_vpc_security_group_ingress_rule'));
      expect([name, ingress.filter(fromOutsideTheVpc)]).toEqual([name, []]);
    }
    // Route 53's health checkers still reach prod's health-checked endpoint, by AWS's prefix list, on 443 only.
    const checkers = resources('prod', 'aws_vpc_security_group_ingress_rule').load_balancer_route53_health_checkers_443_ingress;
    expect(checkers).toMatchObject({ from_port: 443, to_port: 443, prefix_list_id: '${data.aws_ec2_managed_prefix_list.load_balancer_route53_health_checkers.id}' });
    expect(parsed('prod').data.aws_ec2_managed_prefix_list.load_balancer_route53_health_checkers.name).toBe('com.amazonaws.us-east-1.route53-healthchecks');
    // staging has no standby, so nothing health-checks it.
    expect(parsed('staging').data.aws_ec2_managed_prefix_list).toBeUndefined();
  });

  test('only the ALB accepts client traffic, only on 80/443, and only from the networks the one setting names', () => {
    const open = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('prod', { HBS_PROD_ALLOWED_CIDRS: '10.0.0.0/8, 0.0.0.0/0' }))));
    const ingress = Object.values(open.resource.aws_vpc_security_group_ingress_rule as Record<string, any>);
    const fromCidr = ingress.filter(fromOutsideTheVpc);
    // The VPC's own private subnets reach only the AWS API endpoints.
    expect(ingress.filter((r) => r.cidr_ipv4 && !fromOutsideTheVpc(r)).every((r) => r.security_group_id === '${aws_security_group.network_aws_apis_sg.id}')).toBe(true);
    expect(fromCidr.map((r) => [r.cidr_ipv4, r.from_port]).sort()).toEqual([['0.0.0.0/0', 443], ['0.0.0.0/0', 80], ['10.0.0.0/8', 443], ['10.0.0.0/8', 80]]);
    expect(fromCidr.every((r) => String(r.security_group_id).includes('aws_security_group.load_balancer_sg'))).toBe(true);
    const cache = ingress.filter((r) => String(r.security_group_id).includes('aws_security_group.cache_sg'));
    expect(cache.map((r) => r.from_port)).toEqual([6379, 6379]);
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_ALLOWED_CIDRS: '10.0.0.0/33' })).toThrow('HBS_PROD_ALLOWED_CIDRS: "10.0.0.0/33" is not an IPv4 CIDR (e.g. 10.0.0.0/8)');
    const many = (n: number) => Array.from({ length: n }, (_, i) => `10.${i}.0.0/16`).join(',');
    expect(loadEnvironmentConfig('prod', { HBS_PROD_ALLOWED_CIDRS: many(17) }).mirrorService.allowedCidrs).toHaveLength(17);
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_ALLOWED_CIDRS: many(18) })).toThrow(/18 CIDRs; at most 17 fit the ALB's security group/);
  });
});

describe('per-client byte budget (#25 fault 12)', () => {
  const budgetOf = (json: any): string =>
    JSON.parse(json.resource.aws_ecs_task_definition.mirror_task_task.container_definitions)[0].environment.find((e: any) => e.name === BYTE_BUDGET_ENV)?.value;

  test('every environment\'s mirror tasks get the default budget, and HBS_<ENV>_BYTE_BUDGET_PER_HOUR changes it', () => {
    for (const name of ['dev', 'staging', 'prod'] as const) expect([name, budgetOf(parsed(name))]).toEqual([name, String(20 * 1024 ** 3)]);
    const raised = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('prod', { HBS_PROD_BYTE_BUDGET_PER_HOUR: '200G' }))));
    expect(budgetOf(raised)).toBe(String(200 * 1024 ** 3));
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_BYTE_BUDGET_PER_HOUR: 'lots' })).toThrow('HBS_PROD_BYTE_BUDGET_PER_HOUR: "lots" is not a size (e.g. 50G)');
  });

  test('the budget\'s keys sit under the prefix the mirror\'s cache user may touch', () => {
    const users = parsed('prod').resource.aws_elasticache_user;
    expect(users.cache_user_mirror.access_string).toBe(`on ~${CACHE_KEY_PREFIXES.rateLimit}* +@all -@dangerous`);
    expect(CACHE_KEY_PREFIXES.byteBudget.startsWith(CACHE_KEY_PREFIXES.rateLimit)).toBe(true);
  });
});

describe('pull-through (issue #24)', () => {
  const pulling = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('prod', { HBS_PROD_PULL_THROUGH: 'true' }))));
  const envOf = (json: any) =>
    Object.fromEntries(JSON.parse(json.resource.aws_ecs_task_definition.mirror_task_task.container_definitions)[0].environment.map((e: any) => [e.name, e.value]));
  const statements = (json: any) => json.data.aws_iam_policy_document.mirror_task_task_role_permissions.statement as { sid: string; actions: string[]; resources: string[] }[];

  test('off by default: no setting reaches the tasks and the role writes nothing', () => {
    for (const name of ['dev', 'staging', 'prod'] as const) {
      expect(envOf(parsed(name))).not.toHaveProperty(PULL_THROUGH_ENV.enabled);
      expect(statements(parsed(name)).flatMap((s) => s.actions).filter((a) => !/^(s3:GetObject|s3:ListBucket|dynamodb:GetItem|kms:Decrypt|kms:DescribeKey|elasticache:Connect)$/.test(a))).toEqual([]);
    }
  });

  test('HBS_<ENV>_PULL_THROUGH=true: the tasks pull from ghcr.io and may write only blobs/ and manifests/', () => {
    expect(envOf(pulling)).toMatchObject({ [PULL_THROUGH_ENV.enabled]: 'true', [PULL_THROUGH_ENV.registryUrl]: 'https://ghcr.io' });
    const writes = statements(pulling).filter((s) => s.actions.some((a) => a.startsWith('s3:') && a !== 's3:GetObject' && a !== 's3:ListBucket'));
    expect(writes.map((s) => [s.sid, s.actions, s.resources.map((r) => r.replace(/^.*\}\//, ''))])).toEqual([
      ['KeepPulledObjects', ['s3:PutObject'], ['blobs/sha256/*', 'manifests/*']],
      ['AbortPulledUploads', ['s3:AbortMultipartUpload'], ['blobs/sha256/*']],
    ]);
    // SSE-KMS writes need the data key's GenerateDataKey as well.
    expect(statements(pulling).find((s) => s.sid === 'UseDataKey')!.actions).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_PULL_THROUGH: 'yes' })).toThrow('HBS_PROD_PULL_THROUGH="yes" must be true or false');
  });

  const mirrorEgress = (json: any) =>
    Object.values(json.resource.aws_vpc_security_group_egress_rule as Record<string, any>)
      .filter((r) => r.security_group_id === '${aws_security_group.mirror_sg.id}')
      .map((r) => [r.from_port, r.cidr_ipv4 ?? r.prefix_list_id ?? r.referenced_security_group_id, r.description])
      .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
  const throughEndpoints = [
    [6379, '${aws_security_group.cache_sg.id}', 'Mirror to Valkey (TLS)'],
    [443, '${aws_security_group.network_aws_apis_sg.id}', 'ECR and CloudWatch Logs through their interface endpoints'],
    [443, '${aws_vpc_endpoint.network_dynamodb_endpoint.prefix_list_id}', 'DynamoDB gateway endpoint: the state table'],
    [443, '${aws_vpc_endpoint.network_s3_endpoint.prefix_list_id}', "S3 gateway endpoint: the store, and ECR's image layers"],
  ];

  test("off: the mirror tasks' only ways out are AWS's endpoints and the cache, never 0.0.0.0/0", () => {
    for (const name of ['dev', 'staging', 'prod'] as const) expect(mirrorEgress(parsed(name))).toEqual(throughEndpoints);
  });

  test('on: one more rule, 443 to anywhere, for the registry (its checks at start: aws-wiring.test.ts)', () => {
    expect(mirrorEgress(pulling)).toEqual([...throughEndpoints, [443, '0.0.0.0/0', 'Registry over HTTPS (pull-through on)']]);
  });

  test("the breaker's keys sit under the prefix the mirror's cache user may touch", () => {
    expect(CACHE_KEY_PREFIXES.pullBreaker.startsWith(CACHE_KEY_PREFIXES.rateLimit)).toBe(true);
  });
});

describe('an import-fed environment (issue #23)', () => {
  const fed = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('prod', { HBS_PROD_IMPORT_FED: 'true' }))));
  const of = (json: any, type: string): Record<string, any> => json.resource[type] ?? {};

  test('has no weekly sync, only the hourly freshness report', () => {
    expect(Object.values(of(fed, 'aws_cloudwatch_event_rule')).map((r: any) => r.name)).not.toContain('prod-brew-weekly-sync');
    expect(Object.values(of(fed, 'aws_cloudwatch_event_rule')).map((r: any) => r.name)).toContain('prod-brew-freshness-report');
    expect(Object.values(resources('prod', 'aws_cloudwatch_event_rule')).map((r: any) => r.name)).toContain('prod-brew-weekly-sync');
  });

  test("the sync's workloads reach only the S3 and DynamoDB gateway endpoints (and the cache): no route out", () => {
    const syncEgress = (json: any) =>
      Object.values(of(json, 'aws_vpc_security_group_egress_rule')).filter((r: any) => String(r.security_group_id).includes('aws_security_group.sync_sg'));
    expect(syncEgress(fed).map((r: any) => r.cidr_ipv4 ?? r.prefix_list_id ?? 'cache').sort()).toEqual([
      '${aws_vpc_endpoint.network_dynamodb_endpoint.prefix_list_id}',
      '${aws_vpc_endpoint.network_s3_endpoint.prefix_list_id}',
      'cache',
    ]);
    expect(syncEgress(fed).some((r: any) => r.cidr_ipv4 === '0.0.0.0/0')).toBe(false);
    expect(syncEgress(parsed('prod')).some((r: any) => r.cidr_ipv4 === '0.0.0.0/0')).toBe(true);
  });

  test('nothing changes for the mirror service', () => {
    const mirrorParts = (json: any) =>
      JSON.stringify(
        ['aws_ecs_service', 'aws_ecs_task_definition', 'aws_lb', 'aws_lb_listener', 'aws_wafv2_web_acl'].map((type) => of(json, type)),
      );
    expect(mirrorParts(fed)).toBe(mirrorParts(parsed('prod')));
    const mirrorRules = (json: any) =>
      Object.values(of(json, 'aws_vpc_security_group_egress_rule')).filter((r: any) => String(r.security_group_id).includes('mirror'));
    expect(mirrorRules(fed)).toEqual(mirrorRules(parsed('prod')));
  });
});

describe('bottle store', () => {
  test('lifecycle: abort multipart after 7 days, noncurrent after 90, orphans after 90', () => {
    const rules = resources('prod', 'aws_s3_bucket_lifecycle_configuration').bottle_store_store_lifecycle.rule;
    const byId = Object.fromEntries(rules.map((r: any) => [r.id, r]));
    expect(byId['abort-incomplete-multipart-uploads'].abort_incomplete_multipart_upload[0].days_after_initiation).toBe(7);
    expect(byId['expire-noncurrent-versions'].noncurrent_version_expiration[0].noncurrent_days).toBe(90);
    expect(byId['expire-orphaned-bottles']).toMatchObject({
      filter: [{ tag: [{ key: 'homebrew-mirror:orphaned', value: 'true' }] }],
      expiration: [{ days: 90 }],
    });
    expect(stacks.prod).toHaveResourceWithProperties(S3BucketLifecycleConfiguration, {});
  });

  test('SSE-KMS with the data key, access logs to the log bucket', () => {
    const sse = resources('prod', 'aws_s3_bucket_server_side_encryption_configuration').bottle_store_store_encryption;
    expect(sse.rule[0].apply_server_side_encryption_by_default).toEqual({
      sse_algorithm: 'aws:kms',
      kms_master_key_id: '${aws_kms_key.data_key_key.arn}',
    });
    expect(resources('prod', 'aws_s3_bucket_logging').bottle_store_store_logging.target_bucket).toBe(
      '${aws_s3_bucket.log_archive_logs_bucket.bucket}',
    );
  });

  test('every DR replica expires what its source expires: S3 does not replicate the deletes lifecycle rules make (#25)', () => {
    const json = parsed('prod');
    const lifecycleOf = (bucketRef: string) => {
      const name = /aws_s3_bucket\.([a-z0-9_]+)\./.exec(bucketRef)![1];
      const [, config] = Object.entries(json.resource.aws_s3_bucket_lifecycle_configuration as Record<string, any>).find(([, c]) => c.bucket.includes(`aws_s3_bucket.${name}.`))!;
      return config.rule;
    };
    const replications = Object.values(json.resource.aws_s3_bucket_replication_configuration as Record<string, any>);
    expect(replications).toHaveLength(3); // the bottle store (prod has a standby), the trail bucket, the log archive
    for (const replication of replications) {
      expect([replication.bucket, lifecycleOf(replication.rule[0].destination.bucket)]).toEqual([replication.bucket, lifecycleOf(replication.bucket)]);
    }
  });

  test('replication to the DR region follows the standby: prod replicates; dev and staging, without a standby, pay for no copy (#25)', () => {
    const replicated = (json: any) => Object.keys(json.resource.aws_s3_bucket_replication_configuration ?? {}).filter((name) => name.startsWith('bottle_store'));
    const replicaBuckets = (json: any) => Object.keys(json.resource.aws_s3_bucket ?? {}).filter((name) => name.startsWith('bottle_store_replica'));
    const storeAlarms = (json: any) => Object.keys(json.resource.aws_cloudwatch_metric_alarm).filter((name) => name.includes('store_replication'));
    expect(replicated(parsed('prod'))).toEqual(['bottle_store_replica_replication']);
    expect(storeAlarms(parsed('prod')).sort()).toEqual(['monitoring_alarm_store_replication_failed', 'monitoring_alarm_store_replication_latency']);
    for (const name of ['dev', 'staging'] as const) {
      expect([name, replicated(parsed(name)), replicaBuckets(parsed(name)), storeAlarms(parsed(name))]).toEqual([name, [], [], []]);
    }
    // A standby turned on for staging brings the copy with it.
    const withStandby = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('staging', { HBS_STAGING_STANDBY: 'true' }))));
    expect(replicated(withStandby)).toEqual(['bottle_store_replica_replication']);
  });

  test.each([
    ['prod', 200],
    ['staging', 20],
    ['dev', 20],
  ] as const)('%s: request metrics on blobs/ and an alarm on the bytes clients download per hour (#25 fault 12)', (name, gib) => {
    const json = parsed(name);
    const [metric] = Object.values(json.resource.aws_s3_bucket_metric as Record<string, any>);
    expect(metric).toEqual({ bucket: '${aws_s3_bucket.bottle_store_store_bucket.bucket}', name: 'blob-downloads', filter: { prefix: 'blobs/sha256/' } });
    expect(alarm(name, 'store_egress')).toMatchObject({
      namespace: 'AWS/S3',
      metric_name: 'BytesDownloaded',
      dimensions: { BucketName: '${aws_s3_bucket.bottle_store_store_bucket.bucket}', FilterId: metric.name },
      statistic: 'Sum',
      period: 3600,
      comparison_operator: 'GreaterThanThreshold',
      threshold: gib * 1024 ** 3,
      alarm_description: expect.stringMatching(/Runbook: docs\/operations\.md#store-egress-alarm$/),
    });
  });
});

describe('state table', () => {
  test('PITR, deletion protection, CMK, stream, TTL and a DR replica with its own key', () => {
    expect(stacks.prod).toHaveResourceWithProperties(DynamodbTable, {
      billing_mode: 'PAY_PER_REQUEST',
      point_in_time_recovery: { enabled: true },
      deletion_protection_enabled: true,
      stream_enabled: true,
      ttl: { attribute_name: 'expiresAt', enabled: true },
      server_side_encryption: { enabled: true, kms_key_arn: '${aws_kms_key.data_key_key.arn}' },
      replica: [{ region_name: 'us-west-2', kms_key_arn: '${aws_kms_key.dr_data_key_key.arn}', point_in_time_recovery: true, propagate_tags: true }],
    });
    expect(resources('prod', 'aws_kms_key').dr_data_key_key.provider).toBe('aws.dr');
  });
});

describe('cache', () => {
  test('Multi-AZ failover, CMK at rest, TLS in transit, IAM users, 7-day snapshots, slow log', () => {
    expect(stacks.prod).toHaveResourceWithProperties(ElasticacheReplicationGroup, {
      multi_az_enabled: true,
      automatic_failover_enabled: true,
      num_cache_clusters: 3,
      at_rest_encryption_enabled: 'true',
      kms_key_id: '${aws_kms_key.data_key_key.arn}',
      transit_encryption_enabled: true,
      snapshot_retention_limit: 7,
      maintenance_window: 'sun:06:00-sun:07:00',
    });
    const group = resources('prod', 'aws_elasticache_replication_group').cache_group;
    expect(group.log_delivery_configuration.map((l: any) => l.log_type)).toContain('slow-log');
    expect(group.auth_token).toBeUndefined();
    expect(stacks.staging).toHaveResourceWithProperties(ElasticacheReplicationGroup, { num_cache_clusters: 2, multi_az_enabled: true });
  });

  test('the default user is switched off and workloads use IAM authentication', () => {
    expect(stacks.prod).toHaveResourceWithProperties(ElasticacheUser, { user_name: 'default', access_string: 'off -@all' });
    const users = Object.values(resources('prod', 'aws_elasticache_user')).filter((u) => u.user_name !== 'default');
    expect(users).toHaveLength(2);
    expect(users.every((u) => u.authentication_mode.type === 'iam' && u.user_name === u.user_id)).toBe(true);
    // The only password is the disabled default user's, generated at apply time (see first-deploy.test.ts).
    expect(stacks.prod.match(/"passwords"/g)).toHaveLength(1);
  });

  test('each workload’s cache user reaches only its own keys: the sync its breaker, the mirror its rate limits', () => {
    const users = resources('prod', 'aws_elasticache_user');
    expect(users.cache_user_sync.access_string).toBe(`on ~${CACHE_KEY_PREFIXES.breaker}* +@all -@dangerous`);
    expect(users.cache_user_mirror.access_string).toBe(`on ~${CACHE_KEY_PREFIXES.rateLimit}* +@all -@dangerous`);
    // Each role may connect as its own user only.
    const connect = (doc: string) =>
      parsed('prod').data.aws_iam_policy_document[doc].statement.find((s: any) => s.actions.includes('elasticache:Connect')).resources;
    expect(connect('sync_worker_role_permissions')).toEqual(['${aws_elasticache_replication_group.cache_group.arn}', '${aws_elasticache_user.cache_user_sync.arn}']);
    expect(connect('mirror_task_task_role_permissions')).toEqual(['${aws_elasticache_replication_group.cache_group.arn}', '${aws_elasticache_user.cache_user_mirror.arn}']);
  });
});

describe('sync compute', () => {
  test('orchestrator 512 MB and worker 3008 MB, nodejs22.x on arm64, in the VPC, traced, JSON logs, DLQ, reserved concurrency', () => {
    for (const [name, memory] of [['orchestrator_function', 512], ['sync_worker_function', 3008]] as const) {
      const fn = resources('prod', 'aws_lambda_function')[name];
      expect(fn).toMatchObject({
        memory_size: memory,
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        tracing_config: { mode: 'Active' },
        logging_config: { log_format: 'JSON' },
      });
      expect(fn.vpc_config.subnet_ids).toHaveLength(3);
      expect(fn.dead_letter_config.target_arn).toMatch(/aws_sqs_queue\./);
      expect(fn.reserved_concurrent_executions).toBeGreaterThan(0);
      // Deployed from the signed copy of the bundle, under the environment's code-signing config.
      expect(fn.filename).toBeUndefined();
      expect(fn.s3_key).toBe(`\${aws_signer_signing_job.${name.replace('_function', '')}_code_signing.signed_object[0].s3[0].key}`);
      expect(fn.code_signing_config_arn).toBe('${aws_lambda_code_signing_config.code_signing_config.arn}');
    }
    expect(resources('prod', 'aws_sqs_queue').orchestrator_dlq.kms_master_key_id).toBe('${aws_kms_key.data_key_key.arn}');
  });

  test('hourly freshness report to the orchestrator, covered by the same DLQ', () => {
    expect(stacks.prod).toHaveResourceWithProperties(CloudwatchEventRule, { schedule_expression: 'rate(1 hour)' });
    const target = resources('prod', 'aws_cloudwatch_event_target').schedule_freshness_target;
    expect(JSON.parse(target.input)).toEqual({ action: 'report-freshness' });
    expect(target.arn).toBe('${aws_lambda_function.orchestrator_function.arn}');
    const dlqPolicy = parsed('prod').data.aws_iam_policy_document.schedule_dlq_policy.statement[0];
    expect(dlqPolicy.condition[0].values).toEqual(['${aws_cloudwatch_event_rule.schedule_rule.arn}', '${aws_cloudwatch_event_rule.schedule_freshness_rule.arn}']);
  });

  test('weekly schedule with retries and a dead-letter queue', () => {
    expect(stacks.prod).toHaveResourceWithProperties(CloudwatchEventRule, { schedule_expression: 'cron(0 3 ? * SUN *)' });
    const target = resources('prod', 'aws_cloudwatch_event_target').schedule_target;
    expect(target.retry_policy.maximum_retry_attempts).toBeGreaterThan(0);
    expect(target.dead_letter_config.arn).toBe('${aws_sqs_queue.schedule_dlq.arn}');
  });

  test('the Fargate sync task: 2048 CPU, 8192 MB, read-only root, non-root, awslogs', () => {
    const task = resources('prod', 'aws_ecs_task_definition').sync_task_task;
    expect(task).toMatchObject({ cpu: '2048', memory: '8192', requires_compatibilities: ['FARGATE'] });
    const [container] = JSON.parse(task.container_definitions);
    expect(container).toMatchObject({ readonlyRootFilesystem: true, privileged: false, user: '10001:10001' });
    expect(container.logConfiguration.logDriver).toBe('awslogs');
    expect(task.task_role_arn).not.toBe(task.execution_role_arn);
    expect(container.command).toBeUndefined(); // the image's CMD
  });

  test('the mirror container runs node with the mirror’s V8 flags (single-threaded GC on its one vCPU)', () => {
    const [container] = JSON.parse(resources('prod', 'aws_ecs_task_definition').mirror_task_task.container_definitions);
    expect(container.command).toEqual(['node', '--max-semi-space-size=4', '--single-threaded-gc', 'main.js']);
  });

  test('Container Insights everywhere; Spot only outside prod', () => {
    expect(stacks.prod).toHaveResourceWithProperties(EcsCluster, { setting: [{ name: 'containerInsights', value: 'enhanced' }] });
    expect(stacks.prod).toHaveResourceWithProperties(EcsClusterCapacityProviders, { capacity_providers: ['FARGATE'] });
    expect(stacks.staging).toHaveResourceWithProperties(EcsClusterCapacityProviders, { capacity_providers: ['FARGATE', 'FARGATE_SPOT'] });
    expect(stacks.prod).not.toMatch(/FARGATE_SPOT/);
  });

  test('the orchestrator and the sync task (handing off to a successor) may start only the sync task on its cluster', () => {
    const family = resources('prod', 'aws_ecs_task_definition').sync_task_task.family;
    expect(family).toBe('prod-brew-sync-task');
    // ARNs are spelled with the partition (GovCloud regions are accepted), never a literal `arn:aws:`.
    const partition = '${data.aws_partition.partition.partition}';
    const account = '${data.aws_caller_identity.account.account_id}';
    const taskDefinitionArn = `arn:${partition}:ecs:us-east-1:${account}:task-definition/${family}`;
    const taskEnv = Object.fromEntries(
      JSON.parse(resources('prod', 'aws_ecs_task_definition').sync_task_task.container_definitions)[0].environment.map((e: any) => [e.name, e.value]),
    );
    // RunTask gets the family (latest ACTIVE revision): a task-definition ARN without `:<revision>` is refused.
    expect(taskEnv.HBS_SYNC_TASK_FAMILY).toBe(family);
    expect(resources('prod', 'aws_lambda_function').orchestrator_function.environment.variables.HBS_SYNC_TASK_FAMILY).toBe(family);
    for (const role of ['orchestrator_role_permissions', 'sync_task_task_role_permissions']) {
      const statements = parsed('prod').data.aws_iam_policy_document[role].statement;
      const runTask = statements.find((s: any) => s.sid === 'RunSyncTask');
      expect(runTask).toMatchObject({ actions: ['ecs:RunTask'], resources: [`${taskDefinitionArn}:*`] });
      expect(runTask.condition[0]).toMatchObject({ test: 'ArnEquals', variable: 'ecs:cluster', values: ['${aws_ecs_cluster.cluster_cluster.arn}'] });
      const passRole = statements.find((s: any) => s.sid === 'PassSyncTaskRoles');
      expect(passRole.resources).toEqual([`arn:${partition}:iam::${account}:role/prod-brew-sync-task-task`, `arn:${partition}:iam::${account}:role/prod-brew-sync-task-execution`]);
      // Nothing sends DescribeTasks: the grant was dropped with the drift.
      expect(statements.flatMap((s: any) => s.actions)).not.toContain('ecs:DescribeTasks');
    }
    expect(resources('prod', 'aws_iam_role').sync_task_task_role_role.name).toBe('prod-brew-sync-task-task');
    expect(resources('prod', 'aws_iam_role').sync_task_execution_role_role.name).toBe('prod-brew-sync-task-execution');
    const doc = parsed('prod').data.aws_iam_policy_document.orchestrator_role_permissions;
    const invoke = doc.statement.find((s: any) => s.sid === 'InvokeSyncWorker');
    expect(invoke.resources).toEqual(['${aws_lambda_function.sync_worker_function.arn}']);
  });

  test('a worker may re-invoke only itself, to hand back unfinished bottles', () => {
    const doc = parsed('prod').data.aws_iam_policy_document.sync_worker_role_permissions;
    const self = doc.statement.find((s: any) => s.sid === 'HandBackToSelf');
    expect(self).toMatchObject({
      actions: ['lambda:InvokeFunction'],
      resources: ['arn:${data.aws_partition.partition.partition}:lambda:us-east-1:${data.aws_caller_identity.account.account_id}:function:prod-brew-sync-worker'],
    });
    expect(resources('prod', 'aws_lambda_function').sync_worker_function.function_name).toBe('prod-brew-sync-worker');
  });
});

describe('mirror service', () => {
  test('HTTPS with the TLS 1.3 policy, HTTP redirected, invalid headers dropped, logs, deletion protection', () => {
    expect(stacks.prod).toHaveResourceWithProperties(LbListener, { protocol: 'HTTPS', ssl_policy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' });
    expect(stacks.prod).toHaveResourceWithProperties(LbListener, {
      protocol: 'HTTP',
      default_action: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', status_code: 'HTTP_301' } }],
    });
    expect(stacks.prod).toHaveResourceWithProperties(Lb, { internal: false, drop_invalid_header_fields: true, enable_deletion_protection: true });
    expect(resources('prod', 'aws_lb').load_balancer_alb.access_logs).toMatchObject({ enabled: true, prefix: 'alb' });
    expect(stacks.dev).toHaveResourceWithProperties(Lb, { internal: true });
  });

  test('the ALB appends the client address to X-Forwarded-For and drops idle connections before the mirror does', () => {
    const alb = resources('prod', 'aws_lb').load_balancer_alb;
    expect(alb.xff_header_processing_mode).toBe('append');
    expect(alb.idle_timeout * 1000).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS);
  });

  test('WAF: per-IP rate limit plus the AWS common rule set', () => {
    const acl = resources('prod', 'aws_wafv2_web_acl').load_balancer_waf;
    const names = acl.rule.map((r: any) => r.name);
    expect(names).toEqual(['per-ip-rate-limit', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet']);
    expect(acl.rule[0].statement.rate_based_statement).toEqual({ limit: 20000, aggregate_key_type: 'IP' });
  });

  test('at least 2 tasks without public IPs, scaling on CPU and requests per target', () => {
    const service = resources('prod', 'aws_ecs_service').mirror_service_service;
    expect(service.desired_count).toBeGreaterThanOrEqual(2);
    expect(service.network_configuration.assign_public_ip).toBe(false);
    const policies = Object.values(resources('prod', 'aws_appautoscaling_policy')).map(
      (p) => p.target_tracking_scaling_policy_configuration.predefined_metric_specification.predefined_metric_type,
    );
    expect(policies.sort()).toEqual(['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']);
    expect(resources('prod', 'aws_lb_target_group').load_balancer_targets.health_check.path).toBe('/health');
  });
});

describe('backup', () => {
  test('daily 05:00 UTC, cold after 30, delete after 120, copy to DR in prod only', () => {
    expect(stacks.prod).toHaveResourceWithProperties(BackupPlan, { name: 'prod-brew-daily-backup' });
    expect(resources('prod', 'aws_backup_plan').backup_plan.rule).toMatchObject([
      { schedule: 'cron(0 5 * * ? *)', lifecycle: { cold_storage_after: 30, delete_after: 120 } },
    ]);
    expect(resources('prod', 'aws_backup_plan').backup_plan.rule[0].copy_action).toHaveLength(1);
    expect(resources('staging', 'aws_backup_plan').backup_plan.rule[0].copy_action).toBeUndefined();
    // The bottle store is replicated to the DR region instead (issue #15); the state table keeps every recovery point.
    expect(resources('prod', 'aws_backup_selection').backup_selection.resources).toEqual(['${aws_dynamodb_table.state_table_table.arn}']);
  });
});

describe('monitoring', () => {
  test('orchestrator error and duration alarms are stricter in prod than staging', () => {
    expect(alarm('prod', 'orchestrator_errors')).toMatchObject({ threshold: 3, comparison_operator: 'GreaterThanOrEqualToThreshold' });
    expect(alarm('staging', 'orchestrator_errors').threshold).toBeGreaterThan(3);
    expect(alarm('prod', 'orchestrator_duration')).toMatchObject({ threshold: 180000, statistic: 'Maximum' });
    expect(alarm('staging', 'orchestrator_duration').threshold).toBeGreaterThan(180000);
  });

  test('freshness fires after 8 days without a publish, never between weekly runs', () => {
    const freshness = alarm('prod', 'sync_freshness');
    expect(freshness.threshold).toBe(8 * 86400);
    expect(freshness.threshold).toBeGreaterThan(7 * 86400 + 3600); // a week plus a slow run stays green
    expect(freshness).toMatchObject({ namespace: 'HomebrewMirror', metric_name: 'PublishedGenerationAgeSeconds', statistic: 'Maximum' });
  });

  test('cost alarm reads EstimatedCharges in us-east-1 at $1200 (prod and its standby)', () => {
    const cost = alarm('prod', 'monthly_cost');
    expect(cost).toMatchObject({ namespace: 'AWS/Billing', metric_name: 'EstimatedCharges', threshold: 1200, provider: 'aws.billing' });
    expect(cost.alarm_actions).toEqual(['${aws_sns_topic.monitoring_billing_topic.arn}']);
    expect(parsed('prod').provider.aws.find((p: any) => p.alias === 'billing').region).toBe('us-east-1');
  });

  test('every failure mode has an alarm that notifies the topic on ALARM and OK', () => {
    const names = Object.values(resources('prod', 'aws_cloudwatch_metric_alarm')).map((a) => a.alarm_name);
    expect(names.sort()).toEqual(
      [
        'alb-5xx-rate', 'alb-p99-latency', 'alb-unhealthy-targets',
        'cache-cpu', 'cache-evictions', 'cache-memory', 'cache-replication-lag',
        'ecs-task-failures', 'endpoint-unhealthy', 'monthly-cost', 'orchestrator-dlq-depth', 'orchestrator-duration', 'orchestrator-errors',
        'store-egress', 'store-replication-failed', 'store-replication-latency',
        'sync-freshness', 'sync-worker-dlq-depth', 'table-replication-latency', 'table-system-errors', 'table-throttles',
        'weekly-sync-dlq-depth', 'worker-errors', 'worker-throttles',
      ].map((n) => `prod-brew-${n}`).sort(),
    );
    for (const a of Object.values(resources('prod', 'aws_cloudwatch_metric_alarm'))) {
      expect(a.ok_actions).toEqual(a.alarm_actions);
    }
    expect(alarm('prod', 'alb_p99_latency')).toMatchObject({ extended_statistic: 'p99', threshold: 0.5 });
  });

  test('the dashboard shows every alarm', () => {
    const body = resources('prod', 'aws_cloudwatch_dashboard').monitoring_dashboard.dashboard_body;
    for (const name of Object.keys(resources('prod', 'aws_cloudwatch_metric_alarm'))) {
      expect(body).toContain(`aws_cloudwatch_metric_alarm.${name}.arn`);
    }
  });

  test('the cache alarms watch every node', () => {
    const queries = alarm('prod', 'cache_cpu').metric_query;
    expect(queries.filter((q: any) => q.metric).map((q: any) => q.metric.dimensions.CacheClusterId)).toEqual([
      'prod-brew-cache-001',
      'prod-brew-cache-002',
      'prod-brew-cache-003',
    ]);
  });
});

describe('stack-wide', () => {
  test('providers tag Project, Environment and ManagedBy; names carry the environment', () => {
    for (const env of ['dev', 'staging', 'prod'] as const) {
      for (const provider of parsed(env).provider.aws) {
        expect(provider.default_tags[0].tags).toEqual({ Project: 'homebrew-bottles-sync', Environment: env, ManagedBy: 'cdktf' });
      }
      const named = Object.values(resources(env, 'aws_lambda_function')).map((f) => f.function_name);
      expect(named.every((n) => n.startsWith(`${env}-`))).toBe(true);
      expect(resources(env, 'aws_dynamodb_table').state_table_table.name).toBe(`${env}-brew-state`);
    }
  });

  test('every required output is present', () => {
    expect(Object.keys(parsed('prod').output).sort()).toEqual(
      [
        'alb_dns_name', 'availability_alarm_name', 'backup_plan_name', 'backup_vault_name', 'dashboard_url', 'duration_alarm_name',
        'environment_config', 'error_alarm_name', 'mirror_url', 'security_config',
      ].sort(),
    );
    expect(parsed('prod').output.mirror_url.value).toBe('https://bottles.example.com');
  });

  test('a local backend without remote-state settings; S3 with S3-native locking (no deprecated dynamodb_table) with them', () => {
    expect(parsed('prod').terraform.backend.local.path).toBe('terraform.prod.tfstate');
    const config = loadEnvironmentConfig('prod', { HBS_PROD_STATE_BUCKET: 'acme-tfstate' });
    const json = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), config)));
    expect(json.terraform.backend.s3).toEqual({
      bucket: 'acme-tfstate',
      key: 'homebrew-bottles-sync/prod/terraform.tfstate',
      region: 'us-east-1',
      encrypt: true,
      use_lockfile: true,
    });
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_STATE_BUCKET: 'acme-tfstate', HBS_PROD_STATE_LOCK_TABLE: 'acme-tflock' })).toThrow(
      /HBS_PROD_STATE_LOCK_TABLE is no longer used: the state is locked with S3-native lock files/,
    );
  });

  test('ARNs are spelled with the partition, never a literal arn:aws: (GovCloud regions are accepted)', () => {
    for (const env of ['dev', 'staging', 'prod'] as const) {
      const certificate = loadEnvironmentConfig(env, {}).certificateArn; // configuration, not code
      const literals = stacks[env].match(/arn:aws:[^"]*/g) ?? [];
      expect(literals.filter((arn) => arn !== certificate)).toEqual([]);
      expect(parsed(env).data.aws_partition).toBeDefined();
    }
  });

  test('no IAM statement anywhere allows a bare "*" action', () => {
    for (const doc of Object.values(parsed('prod').data.aws_iam_policy_document) as any[]) {
      for (const s of doc.statement) expect(s.actions).not.toContain('*');
    }
  });

  test('alarm resources are CloudwatchMetricAlarm', () => {
    expect(stacks.prod).toHaveResource(CloudwatchMetricAlarm);
    expect(stacks.prod).toHaveResource(LambdaFunction);
  });
});
