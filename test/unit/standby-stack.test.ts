import { Testing } from 'cdktf';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { BYTE_BUDGET_ENV, PROMOTED_SYNC_TASK_ENV, STANDBY_MIRROR_SERVICE_ENV } from '../../engine/runtime-config';
import { SERVE_DEFAULTS } from '../../engine/defaults';
import { buildApp } from '../../main';
import { MirrorStack } from '../../stacks/mirror-stack';
import { StandbyStack } from '../../stacks/standby-stack';
import { STANDBY_ALARM_SUFFIXES } from '../../stacks/standby-names';
import { synthAll } from '../synth';

/* eslint-disable @typescript-eslint/no-explicit-any */
// The warm standby in the DR region (issue #15): its own stack, reading the replicas the primary hands over.
const stacks = synthAll() as Record<string, any>;
const standby = stacks['prod-standby'];
const prod = stacks.prod;
const resources = (json: any, type: string): Record<string, any> => json.resource[type] ?? {};
const container = (json: any) => JSON.parse(json.resource.aws_ecs_task_definition.mirror_task_task.container_definitions)[0];
const env = (json: any): Record<string, string> => Object.fromEntries(container(json).environment.map((e: any) => [e.name, e.value]));
const HANDOFF = 'jsondecode(data.aws_ssm_parameter.replicas_handoff.insecure_value)';

describe('which environments have a standby', () => {
  test('prod by default: four stacks, the fourth prod-standby', () => {
    expect(Object.keys(stacks)).toEqual(['dev', 'prod', 'prod-standby', 'staging']);
  });

  test('HBS_<ENV>_STANDBY switches it per environment', () => {
    const app = buildApp(undefined, { HBS_PROD_STANDBY: 'false', HBS_STAGING_STANDBY: 'true' });
    expect(app.node.children.map((c) => c.node.id).sort()).toEqual(['dev', 'prod', 'staging', 'staging-standby']);
  });

  test('a stack without a standby writes no handoff parameter; prod writes it in the DR region', () => {
    expect(resources(stacks.staging, 'aws_ssm_parameter')).toEqual({});
    const parameter = resources(prod, 'aws_ssm_parameter').standby_handoff_parameter;
    expect(parameter).toMatchObject({ name: '/prod-brew/standby/replicas', type: 'String', provider: 'aws.dr' });
    expect(parameter.insecure_value).toContain('aws_s3_bucket.bottle_store_replica_bucket_bucket.bucket');
    expect(parameter.insecure_value).toContain('aws_kms_key.dr_data_key_key.arn');
    expect(parameter.insecure_value).toContain('aws_ecr_repository.sync_repo_repo.name'); // for a promoted sync
  });
});

describe('the standby stack', () => {
  test('lives in the DR region, with its own state, and reads nothing from the primary region', () => {
    expect(standby.provider.aws).toEqual([expect.objectContaining({ region: 'us-west-2' })]);
    expect(standby.provider.aws).toHaveLength(1);
    expect(standby.terraform.backend).toEqual({ local: { path: 'terraform.prod-standby.tfstate' } });
    const remote = loadEnvironmentConfig('prod', { HBS_PROD_DR_STATE_BUCKET: 'acme-tfstate-dr' });
    const json = JSON.parse(Testing.synth(new StandbyStack(Testing.app(), remote)));
    expect(json.terraform.backend.s3).toMatchObject({ bucket: 'acme-tfstate-dr', region: 'us-west-2', key: 'homebrew-bottles-sync/prod/standby.tfstate', use_lockfile: true });
  });

  test('serves, never writes: no Lambda, no schedule, no cache, no sync task', () => {
    for (const type of ['aws_lambda_function', 'aws_elasticache_replication_group', 'aws_dynamodb_table', 'aws_scheduler_schedule']) {
      expect([type, resources(standby, type)]).toEqual([type, {}]);
    }
    // Its one EventBridge rule matches task failures; nothing runs on a schedule.
    expect(Object.values(resources(standby, 'aws_cloudwatch_event_rule')).map((r: any) => r.schedule_expression)).toEqual([undefined]);
    expect(Object.keys(resources(standby, 'aws_ecs_task_definition'))).toEqual(['mirror_task_task']);
    expect(Object.keys(resources(standby, 'aws_ecs_service'))).toEqual(['mirror_service_service']);
    const granted = JSON.stringify(standby.data.aws_iam_policy_document.mirror_task_task_role_permissions.statement);
    for (const write of ['s3:PutObject', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'elasticache:Connect']) expect(granted).not.toContain(write);
  });

  test("the standby's tasks reach only AWS's endpoints in its VPC, with pull-through on in the primary or not (issue #24)", () => {
    const pulling = JSON.parse(Testing.synth(new StandbyStack(Testing.app(), loadEnvironmentConfig('prod', { HBS_PROD_PULL_THROUGH: 'true' }))));
    for (const json of [standby, pulling]) {
      const egress = Object.values(resources(json, 'aws_vpc_security_group_egress_rule')).filter((r: any) => r.security_group_id === '${aws_security_group.mirror_sg.id}');
      expect(egress.map((r: any) => r.cidr_ipv4 ?? r.prefix_list_id ?? r.referenced_security_group_id).sort()).toEqual([
        '${aws_security_group.network_aws_apis_sg.id}',
        '${aws_vpc_endpoint.network_dynamodb_endpoint.prefix_list_id}',
        '${aws_vpc_endpoint.network_s3_endpoint.prefix_list_id}',
      ]);
      const interfaces = Object.values(resources(json, 'aws_vpc_endpoint')).filter((e: any) => e.vpc_endpoint_type === 'Interface');
      expect(interfaces.map((e: any) => e.service_name).sort()).toEqual(['com.amazonaws.us-west-2.ecr.api', 'com.amazonaws.us-west-2.ecr.dkr', 'com.amazonaws.us-west-2.logs']);
    }
  });

  test('the mirror reads the bucket replica and the table replica named in the handoff, and decrypts with the DR key', () => {
    expect(env(standby)).toEqual({
      [STANDBY_MIRROR_SERVICE_ENV.environment]: 'prod',
      [STANDBY_MIRROR_SERVICE_ENV.bottleBucket]: `\${${HANDOFF}.bucket}`,
      [STANDBY_MIRROR_SERVICE_ENV.stateTable]: `\${${HANDOFF}.table}`,
      [STANDBY_MIRROR_SERVICE_ENV.standby]: 'true',
      [STANDBY_MIRROR_SERVICE_ENV.metricsNamespace]: 'HomebrewMirror',
      [STANDBY_MIRROR_SERVICE_ENV.port]: '8080',
      [STANDBY_MIRROR_SERVICE_ENV.mode]: 'redirect',
      // The primary's domain: after a failover clients reach the standby by the same name.
      [STANDBY_MIRROR_SERVICE_ENV.publicUrl]: 'https://bottles.example.com',
      [BYTE_BUDGET_ENV]: String(SERVE_DEFAULTS.byteBudgetPerHour),
    });
    const statements = standby.data.aws_iam_policy_document.mirror_task_task_role_permissions.statement;
    expect(statements).toEqual([
      { sid: 'ListBottleStore', actions: ['s3:ListBucket'], resources: [`\${${HANDOFF}.bucket_arn}`] },
      {
        sid: 'ReadServedObjects',
        actions: ['s3:GetObject'],
        resources: ['blobs/sha256/*', 'manifests/*', 'api/generations/*'].map((prefix) => `\${${HANDOFF}.bucket_arn}/${prefix}`),
      },
      {
        sid: 'ReadState',
        actions: ['dynamodb:GetItem'],
        resources: [`arn:\${data.aws_partition.partition.partition}:dynamodb:us-west-2:\${data.aws_caller_identity.account.account_id}:table/\${${HANDOFF}.table}`],
      },
      { sid: 'UseDrDataKey', actions: ['kms:Decrypt', 'kms:DescribeKey'], resources: [`\${${HANDOFF}.key_arn}`] },
    ]);
  });

  test('runs the replicated image of the primary repository, by digest, logging in the DR region', () => {
    expect(standby.data.aws_ecr_repository.replicas_mirror_images.name).toBe(`\${${HANDOFF}.mirror_repository}`);
    expect(container(standby).image).toBe('${data.aws_ecr_repository.replicas_mirror_images.repository_url}@${data.aws_ecr_image.mirror_task_image.image_digest}');
    expect(container(standby).logConfiguration.options['awslogs-region']).toBe('us-west-2');
    // The same command as the primary's: the memory flags and single-threaded GC.
    expect(container(standby).command).toEqual(container(prod).command);
  });

  test('ALB with the primary TLS policy, WAF, access logs, and the primary task size', () => {
    const listener = resources(standby, 'aws_lb_listener').load_balancer_https;
    expect(listener.ssl_policy).toBe(resources(prod, 'aws_lb_listener').load_balancer_https.ssl_policy);
    expect(listener.certificate_arn).toBe(loadEnvironmentConfig('prod', {}).standby!.certificateArn);
    expect(resources(standby, 'aws_wafv2_web_acl_association').load_balancer_waf_association.web_acl_arn).toBe('${aws_wafv2_web_acl.load_balancer_waf.arn}');
    expect(resources(standby, 'aws_lb').load_balancer_alb.access_logs).toMatchObject({ bucket: '${aws_s3_bucket.alb_log_archive_logs_bucket.bucket}', enabled: true });
    const task = resources(standby, 'aws_ecs_task_definition').mirror_task_task;
    const primaryTask = resources(prod, 'aws_ecs_task_definition').mirror_task_task;
    expect([task.cpu, task.memory]).toEqual([primaryTask.cpu, primaryTask.memory]);
  });

  test('warm at two tasks, scaling to the primary maximum, and names distinct from the primary (IAM is global)', () => {
    expect(resources(standby, 'aws_appautoscaling_target').mirror_service_scaling).toMatchObject({ min_capacity: 2, max_capacity: 12 });
    const roles = Object.values(resources(standby, 'aws_iam_role')).map((r: any) => r.name);
    const primaryRoles = new Set(Object.values(resources(prod, 'aws_iam_role')).map((r: any) => r.name));
    expect(roles.length).toBeGreaterThan(0);
    expect(roles.filter((name) => primaryRoles.has(name))).toEqual([]);
    expect(roles.every((name) => name.startsWith('prod-brew-standby-'))).toBe(true);
    // The primary owns alias/prod-brew-dr-* in this region; the standby's aliases must not collide.
    expect(Object.values(resources(standby, 'aws_kms_alias')).map((a: any) => a.name).sort()).toEqual(['alias/prod-brew-standby-alerts', 'alias/prod-brew-standby-logs']);
  });

  test('alarms: failover traffic, the serving alarms and task failures, all on the standby topic', () => {
    const alarms = resources(standby, 'aws_cloudwatch_metric_alarm');
    expect(Object.keys(alarms).sort()).toEqual(['alarm_alb_5xx_rate', 'alarm_alb_p99_latency', 'alarm_alb_unhealthy_targets', 'alarm_ecs_task_failures', 'alarm_serving_clients']);
    expect(alarms.alarm_serving_clients).toMatchObject({
      alarm_name: 'prod-brew-standby-serving-clients',
      metric_name: 'RequestCount',
      threshold: 2000,
      dimensions: { LoadBalancer: '${aws_lb.load_balancer_alb.arn_suffix}' },
    });
    expect(alarms.alarm_serving_clients.alarm_description).toMatch(/clients have failed over from us-east-1\. Runbook: docs\/operations\.md#standby-serving-clients$/);
    expect(Object.values(alarms).every((a: any) => a.alarm_actions[0] === '${aws_sns_topic.topic.arn}')).toBe(true);
  });
});

describe('issue #25 fault 4: the registry replication configuration (one per account and region) has one writer', () => {
  test('only an environment with a standby writes it, naming only its own repositories; dev and staging write none', () => {
    expect(Object.keys(resources(stacks.dev, 'aws_ecr_replication_configuration'))).toEqual([]);
    expect(Object.keys(resources(stacks.staging, 'aws_ecr_replication_configuration'))).toEqual([]);
    expect(Object.keys(resources(stacks.dev, 'aws_ecr_repository_creation_template'))).toEqual([]);
    const [rule] = resources(prod, 'aws_ecr_replication_configuration').image_replication.replication_configuration.rule;
    expect(rule.repository_filter).toEqual([{ filter: 'prod-brew/', filter_type: 'PREFIX_MATCH' }]);
    // A staging with its own standby writes its own, so the two must then live in different accounts (preflight checks).
    const stagingWithStandby = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('staging', { HBS_STAGING_STANDBY: 'true' }))));
    expect(resources(stagingWithStandby, 'aws_ecr_replication_configuration').image_replication.replication_configuration.rule[0].repository_filter[0].filter).toBe('staging-brew/');
  });
});

describe('issue #25 fault 5: the image repositories replication creates in the DR region', () => {
  test('get the sources\' settings from a creation template: immutable tags, the DR data key, the same lifecycle', () => {
    const [source] = Object.values(resources(prod, 'aws_ecr_repository')) as any[];
    const template = resources(prod, 'aws_ecr_repository_creation_template').replica_repository_template_template;
    expect(template).toMatchObject({
      provider: 'aws.dr',
      prefix: 'prod-brew',
      applied_for: ['REPLICATION'],
      image_tag_mutability: source.image_tag_mutability,
      encryption_configuration: [{ encryption_type: 'KMS', kms_key: '${aws_kms_key.dr_data_key_key.arn}' }],
      custom_role_arn: '${aws_iam_role.replica_repository_template_role_role.arn}',
    });
    expect(source.image_tag_mutability).toBe('IMMUTABLE');
    expect(JSON.parse(template.lifecycle_policy)).toEqual(JSON.parse(resources(prod, 'aws_ecr_lifecycle_policy').sync_repo_lifecycle.policy));
    // The replication rule's filter and the template's prefix name the same namespace.
    const rule = resources(prod, 'aws_ecr_replication_configuration').image_replication.replication_configuration.rule[0];
    expect(rule.repository_filter[0].filter).toBe(`${template.prefix}/`);
    // The role ECR assumes may create only this environment's replicas, and use only the DR data key.
    const role = resources(prod, 'aws_iam_role').replica_repository_template_role_role;
    expect(JSON.stringify(prod.data.aws_iam_policy_document[role.assume_role_policy.replace(/^\$\{data\.aws_iam_policy_document\.(.+)\.json\}$/, '$1')].statement)).toContain('ecr.amazonaws.com');
    const granted = prod.data.aws_iam_policy_document.replica_repository_template_role_permissions.statement;
    expect(granted.find((st: any) => st.sid === 'CreateReplicaRepositories')).toEqual({
      sid: 'CreateReplicaRepositories',
      actions: ['ecr:CreateRepository', 'ecr:ReplicateImage', 'ecr:TagResource'],
      resources: [expect.stringMatching(/^arn:\$\{data\.aws_partition\.partition\.partition\}:ecr:us-west-2:\$\{data\.aws_caller_identity\.account\.account_id\}:repository\/prod-brew\/\*$/)],
    });
    expect(granted.filter((st: any) => st.actions.some((a: string) => a.startsWith('kms:'))).flatMap((st: any) => st.resources)).toEqual(['${aws_kms_key.dr_data_key_key.arn}']);
  });
});

describe('the standby dashboard (in the DR region: the primary one is in the failed region)', () => {
  const body = (json: any) => JSON.parse(resources(json, 'aws_cloudwatch_dashboard').dashboard.dashboard_body);

  test('every standby alarm, the traffic it takes, its tasks, WAF, the replica, all graphed in the DR region; the URL is an output', () => {
    const widgets = body(standby).widgets;
    const status = widgets.find((w: any) => w.type === 'alarm');
    expect(status.properties.alarms.sort()).toEqual(Object.keys(resources(standby, 'aws_cloudwatch_metric_alarm')).map((a) => `\${aws_cloudwatch_metric_alarm.${a}.arn}`).sort());
    const graphs = widgets.filter((w: any) => w.type === 'metric');
    expect(graphs.every((w: any) => w.properties.region === 'us-west-2')).toBe(true);
    expect(graphs.map((w: any) => w.properties.title)).toEqual([
      'Requests, 4xx and 5xx', 'Latency (s)', 'Tasks: running, healthy, unhealthy', 'Tasks: CPU and memory (%)',
      'WAF blocked requests', 'Mirror service: requests and 5xx (all tasks)', 'Bottle store replica: objects',
    ]);
    expect(JSON.stringify(graphs.at(-1).properties.metrics)).toContain(`\${${HANDOFF}.bucket}`);
    expect(standby.output.dashboard_url.value).toBe('https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#dashboards:name=${aws_cloudwatch_dashboard.dashboard.dashboard_name}');
  });

  test('a promoted standby also graphs its syncs', () => {
    const promoted = JSON.parse(Testing.synth(new StandbyStack(Testing.app(), loadEnvironmentConfig('prod', { HBS_PROD_STANDBY_WRITER: 'true' }))));
    const titles = body(promoted).widgets.map((w: any) => w.properties.title);
    expect(titles.slice(-3)).toEqual(['Promoted sync: runs', 'Promoted sync: bottles per run', 'Promoted sync tasks running']);
    expect(JSON.stringify(body(promoted))).toContain('"TaskDefinitionFamily","prod-brew-standby-sync-task"');
  });
});

describe('what on-call sees of the standby from the primary', () => {
  test("the primary dashboard shows each standby alarm, by the name the standby stack gives it, in the DR region", () => {
    const standbyAlarmNames = Object.values(resources(standby, 'aws_cloudwatch_metric_alarm')).map((a: any) => a.alarm_name).sort();
    expect(standbyAlarmNames).toEqual(STANDBY_ALARM_SUFFIXES.map((suffix) => `prod-brew-standby-${suffix}`).sort());
    const widgets = JSON.parse(resources(prod, 'aws_cloudwatch_dashboard').monitoring_dashboard.dashboard_body).widgets;
    const remote = widgets.filter((w: any) => w.properties.region === 'us-west-2').map((w: any) => w.properties.annotations.alarms[0]);
    expect(remote.sort()).toEqual(
      standbyAlarmNames.map((name: string) => `arn:\${data.aws_partition.partition.partition}:cloudwatch:us-west-2:\${data.aws_caller_identity.account.account_id}:alarm:${name}`),
    );
    // Without a standby, no such row.
    const stagingWidgets = JSON.parse(resources(stacks.staging, 'aws_cloudwatch_dashboard').monitoring_dashboard.dashboard_body).widgets;
    expect(stagingWidgets.filter((w: any) => w.properties.region === 'us-west-2')).toEqual([]);
  });

  test('the primary alarms when bottle-store objects replicate slower than the RPO budget, or fail to', () => {
    const alarms = resources(prod, 'aws_cloudwatch_metric_alarm');
    const dimensions = {
      SourceBucket: '${aws_s3_bucket.bottle_store_store_bucket.bucket}',
      DestinationBucket: '${aws_s3_bucket.bottle_store_replica_bucket_bucket.bucket}',
      RuleId: 'to-replica-region',
    };
    expect(alarms.monitoring_alarm_store_replication_latency).toMatchObject({ namespace: 'AWS/S3', metric_name: 'ReplicationLatency', statistic: 'Maximum', threshold: 300, dimensions });
    expect(alarms.monitoring_alarm_store_replication_failed).toMatchObject({ namespace: 'AWS/S3', metric_name: 'OperationsFailedReplication', threshold: 0, dimensions });
    const rule = resources(prod, 'aws_s3_bucket_replication_configuration').bottle_store_replica_replication.rule[0];
    expect(rule.id).toBe(dimensions.RuleId);
    expect(rule.destination.metrics.status).toBe('Enabled'); // without replication metrics, both alarms would have no data
  });
});

describe('failover records (with a Route 53 zone)', () => {
  const zoned = { HBS_PROD_DOMAIN_NAME: 'bottles.acme.dev', HBS_PROD_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ' };
  const config = loadEnvironmentConfig('prod', zoned);
  const primary = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), config)));
  const secondary = JSON.parse(Testing.synth(new StandbyStack(Testing.app(), config)));

  test.each([
    ['primary', 'PRIMARY'],
    ['standby', 'SECONDARY'],
  ])('the %s ALB is the %s record, behind a health check on its own /health', (name, role) => {
    const json = name === 'primary' ? primary : secondary;
    const record = resources(json, 'aws_route53_record').dns_a;
    expect(record).toMatchObject({
      name: 'bottles.acme.dev',
      type: 'A',
      zone_id: 'Z0123456789ABCDEFGHIJ',
      set_identifier: `bottles.acme.dev-${role.toLowerCase()}`,
      failover_routing_policy: { type: role },
      health_check_id: '${aws_route53_health_check.endpoint_health_check.id}',
      alias: { name: '${aws_lb.load_balancer_alb.dns_name}', zone_id: '${aws_lb.load_balancer_alb.zone_id}', evaluate_target_health: true },
    });
    expect(resources(json, 'aws_route53_health_check').endpoint_health_check).toMatchObject({
      type: 'HTTPS',
      fqdn: '${aws_lb.load_balancer_alb.dns_name}',
      port: 443,
      resource_path: '/health',
      request_interval: 10,
      failure_threshold: 3,
    });
  });

  test('each region has its own certificate (ACM certificates are regional), but only the primary owns the one validation record (#25)', () => {
    // ACM uses one validation CNAME per domain and account, in every region: two owners would delete
    // each other's record on destroy or replace, and the survivor's certificate could no longer renew.
    for (const json of [primary, secondary]) {
      expect(resources(json, 'aws_acm_certificate').certificate_certificate).toMatchObject({ domain_name: 'bottles.acme.dev', validation_method: 'DNS' });
    }
    expect(resources(primary, 'aws_route53_record').certificate_validation).toMatchObject({ zone_id: 'Z0123456789ABCDEFGHIJ', allow_overwrite: true });
    expect(resources(secondary, 'aws_route53_record').certificate_validation).toBeUndefined();
    // The standby still waits for its certificate to be issued (by the primary's record) before its listener uses it.
    const validation = resources(secondary, 'aws_acm_certificate_validation').certificate_validated;
    expect(validation).toMatchObject({ certificate_arn: '${aws_acm_certificate.certificate_certificate.arn}' });
    expect(validation.validation_record_fqdns).toBeUndefined();
    expect(resources(secondary, 'aws_lb_listener').load_balancer_https.certificate_arn).toBe('${aws_acm_certificate_validation.certificate_validated.certificate_arn}');
  });

  test('without a zone, the primary ALB is still checked (the endpoint alarm needs it); the standby is not (nothing routes on it)', () => {
    expect(Object.keys(resources(prod, 'aws_route53_health_check'))).toEqual(['endpoint_health_check']);
    expect(resources(standby, 'aws_route53_health_check')).toEqual({});
    expect(resources(prod, 'aws_route53_record')).toEqual({});
  });

  test('the endpoint alarm watches the primary check from us-east-1, where Route 53 publishes, on the us-east-1 topic', () => {
    const endpoint = resources(prod, 'aws_cloudwatch_metric_alarm').monitoring_alarm_endpoint_unhealthy;
    expect(endpoint).toMatchObject({
      alarm_name: 'prod-brew-endpoint-unhealthy',
      namespace: 'AWS/Route53',
      metric_name: 'HealthCheckStatus',
      dimensions: { HealthCheckId: '${aws_route53_health_check.endpoint_health_check.id}' },
      comparison_operator: 'LessThanThreshold',
      threshold: 1,
      provider: 'aws.billing',
      alarm_actions: ['${aws_sns_topic.monitoring_billing_topic.arn}'],
    });
    expect(endpoint.alarm_description).toMatch(/Runbook: docs\/operations\.md#endpoint-unhealthy$/);
    expect(resources(stacks.staging, 'aws_cloudwatch_metric_alarm').monitoring_alarm_endpoint_unhealthy).toBeUndefined();
  });

  test('without a standby, the domain stays a plain alias with no health check', () => {
    const alone = JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('prod', { ...zoned, HBS_PROD_STANDBY: 'false' }))));
    expect(resources(alone, 'aws_route53_record').dns_a.failover_routing_policy).toBeUndefined();
    expect(resources(alone, 'aws_route53_health_check')).toEqual({});
  });
});

describe('promoted to writer (HBS_<ENV>_STANDBY_WRITER=true)', () => {
  const promoted = JSON.parse(Testing.synth(new StandbyStack(Testing.app(), loadEnvironmentConfig('prod', { HBS_PROD_STANDBY_WRITER: 'true' }))));

  test('off by default: the standby has no sync task and no schedule', () => {
    expect(Object.keys(resources(standby, 'aws_ecs_task_definition'))).toEqual(['mirror_task_task']);
    expect(standby.data.aws_ecr_repository.replicas_sync_images).toBeUndefined();
  });

  test('the promoted sync task: the replicated sync image, the promoted role, the replicas, the primary task size', () => {
    const task = resources(promoted, 'aws_ecs_task_definition').promoted_sync_task_task;
    const definition = JSON.parse(task.container_definitions)[0];
    expect(promoted.data.aws_ecr_repository.replicas_sync_images.name).toBe(`\${${HANDOFF}.sync_repository}`);
    expect(definition.image).toBe('${data.aws_ecr_repository.replicas_sync_images.repository_url}@${data.aws_ecr_image.promoted_sync_task_image.image_digest}');
    expect(Object.fromEntries(definition.environment.map((e: any) => [e.name, e.value]))).toEqual({
      [PROMOTED_SYNC_TASK_ENV.environment]: 'prod',
      [PROMOTED_SYNC_TASK_ENV.bottleBucket]: `\${${HANDOFF}.bucket}`,
      [PROMOTED_SYNC_TASK_ENV.stateTable]: `\${${HANDOFF}.table}`,
      [PROMOTED_SYNC_TASK_ENV.metricsNamespace]: 'HomebrewMirror',
      [PROMOTED_SYNC_TASK_ENV.writerRole]: 'promoted',
      // It mirrors brew as the primary's sync does (issue #22).
      [PROMOTED_SYNC_TASK_ENV.mirrorBrew]: 'true',
      [PROMOTED_SYNC_TASK_ENV.brewReleases]: '3',
    });
    const primaryTask = resources(prod, 'aws_ecs_task_definition').sync_task_task;
    expect([task.cpu, task.memory]).toEqual([primaryTask.cpu, primaryTask.memory]);
  });

  test('it may write the replicas exactly as the primary sync writes its store, and nothing else', () => {
    const statements = promoted.data.aws_iam_policy_document.promoted_sync_task_task_role_permissions.statement;
    const primary = prod.data.aws_iam_policy_document.sync_task_task_role_permissions.statement;
    const data = ['ListBottleStore', 'ReadWriteBottleStore', 'StageApiGenerations', 'ManageBlobUploadsAndOrphanTags', 'StateStore'];
    const normalized = (list: any[], bucketArn: string, tableArn: string) =>
      list.filter((st) => data.includes(st.sid)).map((st) => ({ ...st, resources: st.resources.map((r: string) => r.replace(bucketArn, 'BUCKET').replace(tableArn, 'TABLE')) }));
    const replicaTable = `arn:\${data.aws_partition.partition.partition}:dynamodb:us-west-2:\${data.aws_caller_identity.account.account_id}:table/\${${HANDOFF}.table}`;
    expect(normalized(statements, `\${${HANDOFF}.bucket_arn}`, replicaTable)).toEqual(
      normalized(primary, '${aws_s3_bucket.bottle_store_store_bucket.arn}', '${aws_dynamodb_table.state_table_table.arn}'),
    );
    expect(statements.map((st: any) => st.sid)).toEqual([...data, 'UseDrDataKey']);
    expect(statements.find((st: any) => st.sid === 'UseDrDataKey').actions.sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
  });

  test('weekly, Sunday 03:00 UTC as the primary, started by EventBridge on the standby cluster with a role that may run only this task', () => {
    expect(resources(promoted, 'aws_cloudwatch_event_rule').promoted_sync_schedule.schedule_expression).toBe('cron(0 3 ? * SUN *)');
    expect(resources(promoted, 'aws_cloudwatch_event_target').promoted_sync_target).toMatchObject({
      arn: '${aws_ecs_cluster.cluster_cluster.arn}',
      role_arn: '${aws_iam_role.promoted_sync_events_role_role.arn}',
      ecs_target: {
        task_definition_arn: '${aws_ecs_task_definition.promoted_sync_task_task.arn}',
        launch_type: 'FARGATE',
        task_count: 1,
        network_configuration: { assign_public_ip: false },
      },
    });
    const events = promoted.data.aws_iam_policy_document.promoted_sync_events_role_permissions.statement;
    expect(events.map((st: any) => st.sid)).toEqual(['RunSyncTask', 'PassSyncTaskRoles']);
    expect(events[0].resources[0]).toMatch(/:task-definition\/prod-brew-standby-sync-task:\*$/);
  });
});

