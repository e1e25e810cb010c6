import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdktf';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { MirrorStack } from '../../stacks/mirror-stack';
import { synthAll } from '../synth';

/*
 * Faults a first `terraform apply` into a real account would hit, read from
 * AWS's documentation and the provider's behaviour (issue #10). Each test
 * pins one fix so the fault cannot come back.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
const stacks = synthAll();
const prod = stacks.prod as any;
const doc = (env: 'dev' | 'staging' | 'prod', name: string) => (stacks[env] as any).data.aws_iam_policy_document[name];
const statement = (env: 'dev' | 'staging' | 'prod', name: string, sid: string) => doc(env, name).statement.find((s: any) => s.sid === sid);

describe('apply would fail', () => {
  test('1. the Valkey default user authenticates by a password AWS accepts (never "no-password-required"), stays off, and keeps its first password', () => {
    const user = prod.resource.aws_elasticache_user.cache_default_user;
    expect(user).toMatchObject({ user_name: 'default', access_string: 'off -@all', authentication_mode: { type: 'password' } });
    // The password comes from the AWS provider's own random-password data source: no literal in the JSON.
    expect(user.authentication_mode.passwords).toEqual(['${data.aws_secretsmanager_random_password.cache_default_user_password.random_password}']);
    expect(prod.data.aws_secretsmanager_random_password.cache_default_user_password).toMatchObject({ password_length: 64, exclude_punctuation: true });
    // The data source draws a new value on every read; without this every plan would rotate it.
    expect(user.lifecycle.ignore_changes).toEqual(['authentication_mode']);
    expect(JSON.stringify(prod)).not.toMatch(/no-password-required/);
  });

  test('2. CloudTrail may describe the logs key and decrypt for the S3 Bucket Key without the encryption context it does not send', () => {
    const trails = ['arn:${data.aws_partition.partition.partition}:cloudtrail:us-east-1:${data.aws_caller_identity.account.account_id}:trail/*'];
    const encrypt = statement('prod', 'logs_key_policy', 'CloudTrailEncryptsLogs');
    expect(encrypt.actions).toEqual(['kms:GenerateDataKey*']);
    expect(encrypt.condition.map((c: any) => c.variable).sort()).toEqual(['aws:SourceArn', 'kms:EncryptionContext:aws:cloudtrail:arn']);
    for (const [sid, action] of [['CloudTrailDescribesKey', 'kms:DescribeKey'], ['CloudTrailBucketKeyDecrypt', 'kms:Decrypt']]) {
      const s = statement('prod', 'logs_key_policy', sid);
      expect(s.actions).toEqual([action]);
      expect(s.condition).toEqual([{ test: 'ArnLike', variable: 'aws:SourceArn', values: trails }]);
    }
  });

  test('3. the mirror service waits for the HTTPS listener, the capacity-provider association and its task role policy', () => {
    const service = prod.resource.aws_ecs_service.mirror_service_service;
    expect(service.depends_on).toEqual(
      expect.arrayContaining(['aws_lb_listener.load_balancer_https', 'aws_ecs_cluster_capacity_providers.cluster_capacity', 'aws_iam_role_policy.mirror_task_task_role_policy']),
    );
  });
});

describe('deployed but broken', () => {
  test('6. EventBridge can create its log stream: the SourceArn condition sits on PutLogEvents only', () => {
    const create = statement('prod', 'monitoring_task_failure_delivery', 'EventBridgeCreatesStreams');
    expect(create.actions).toEqual(['logs:CreateLogStream']);
    expect(create.condition).toBeUndefined();
    const put = statement('prod', 'monitoring_task_failure_delivery', 'EventBridgeWritesTaskFailures');
    expect(put.actions).toEqual(['logs:PutLogEvents']);
    expect(put.condition).toEqual([{ test: 'ArnEquals', variable: 'aws:SourceArn', values: ['${aws_cloudwatch_event_rule.monitoring_task_failure_rule.arn}'] }]);
  });

  test('7. RunTask gets the task family, never a task-definition ARN without its revision', () => {
    const env = prod.resource.aws_lambda_function.orchestrator_function.environment.variables;
    expect(env.HBS_SYNC_TASK_FAMILY).toBe('prod-brew-sync-task');
    expect(JSON.stringify(prod)).not.toMatch(/HBS_SYNC_TASK_DEFINITION_ARN/);
  });

  test('8. alarms may use the topic keys as AWS documents it: cloudwatch.amazonaws.com scoped to this account’s alarms, not by aws:SourceAccount', () => {
    for (const key of ['alerts_key_policy', 'billing_key_policy']) {
      const s = statement('prod', key, 'CloudwatchUsesKey');
      expect(s.principals).toEqual([{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }]);
      expect(s.condition).toHaveLength(1);
      expect(s.condition[0]).toMatchObject({ test: 'ArnLike', variable: 'aws:SourceArn' });
      expect(s.condition[0].values[0]).toMatch(/^arn:\$\{data\.aws_partition\.partition\.partition\}:cloudwatch:us-east-1:\$\{data\.aws_caller_identity\.account\.account_id\}:alarm:\*$/);
    }
  });
});

describe('hardening', () => {
  test('11. the account may retire grants on every key (ECR repositories and Backup vaults replaced or deleted)', () => {
    const keyPolicies = Object.keys(prod.data.aws_iam_policy_document).filter((n) => n.endsWith('_key_policy'));
    expect(keyPolicies.length).toBeGreaterThanOrEqual(6);
    for (const name of keyPolicies) expect(statement('prod', name, 'AccountAdministersKey').actions).toEqual(expect.arrayContaining(['kms:CreateGrant', 'kms:RetireGrant', 'kms:Revoke*', 'kms:List*']));
  });

  test('12. AWS Backup Region settings (DynamoDB advanced features) are managed in both regions by prod only', () => {
    const settings = prod.resource.aws_backup_region_settings;
    expect(Object.values(settings)).toHaveLength(2);
    // The provider reads back every resource type AWS lists: a partial map would never plan clean (#25).
    const types = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../fixtures/backup-resource-types.json'), 'utf8'));
    for (const s of Object.values(settings) as any[]) {
      expect(Object.keys(s.resource_type_opt_in_preference).sort()).toEqual([...types.optIn].sort());
      expect(Object.keys(s.resource_type_management_preference).sort()).toEqual([...types.management].sort());
      expect(s.resource_type_opt_in_preference).toMatchObject({ DynamoDB: true, S3: true });
      expect(s.resource_type_management_preference).toMatchObject({ DynamoDB: true });
    }
    expect(settings.backup_region_settings_1.provider).toBe('aws.dr');
    // Account-wide per Region: dev and staging share the account by default and leave them to prod.
    expect((stacks.dev as any).resource.aws_backup_region_settings).toBeUndefined();
    expect((stacks.staging as any).resource.aws_backup_region_settings).toBeUndefined();
  });
});

describe('DNS and TLS', () => {
  const synth = (env: Record<string, string>) => JSON.parse(Testing.synth(new MirrorStack(Testing.app(), loadEnvironmentConfig('prod', env)))) as any;

  test('without a hosted zone: no DNS resources, and the ALB DNS name is an output to point the domain at', () => {
    expect(prod.resource.aws_route53_record).toBeUndefined();
    expect(prod.resource.aws_acm_certificate).toBeUndefined();
    expect(prod.output.alb_dns_name.value).toBe('${aws_lb.load_balancer_alb.dns_name}');
    expect(prod.output.alb_dns_name.description).toMatch(/point bottles\.example\.com at it/);
  });

  test('a hosted zone and no certificate: ACM issues one validated through DNS, the listener waits for it, and the domain is an alias to the ALB', () => {
    const json = synth({ HBS_PROD_DOMAIN_NAME: 'bottles.acme.dev', HBS_PROD_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ' });
    expect(json.resource.aws_acm_certificate.certificate_certificate).toMatchObject({ domain_name: 'bottles.acme.dev', validation_method: 'DNS' });
    expect(json.resource.aws_route53_record.certificate_validation).toMatchObject({ zone_id: 'Z0123456789ABCDEFGHIJ' });
    expect(json.resource.aws_acm_certificate_validation.certificate_validated.validation_record_fqdns).toEqual(['${aws_route53_record.certificate_validation.fqdn}']);
    expect(json.resource.aws_lb_listener.load_balancer_https.certificate_arn).toBe('${aws_acm_certificate_validation.certificate_validated.certificate_arn}');
    expect(json.resource.aws_route53_record.dns_a).toMatchObject({
      name: 'bottles.acme.dev',
      type: 'A',
      zone_id: 'Z0123456789ABCDEFGHIJ',
      alias: { name: '${aws_lb.load_balancer_alb.dns_name}', zone_id: '${aws_lb.load_balancer_alb.zone_id}', evaluate_target_health: true },
    });
  });

  test('a hosted zone and a certificate: the given certificate, and the alias record', () => {
    const certificate = 'arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
    const json = synth({ HBS_PROD_DOMAIN_NAME: 'bottles.acme.dev', HBS_PROD_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ', HBS_PROD_CERTIFICATE_ARN: certificate });
    expect(json.resource.aws_acm_certificate).toBeUndefined();
    expect(json.resource.aws_lb_listener.load_balancer_https.certificate_arn).toBe(certificate);
    expect(json.resource.aws_route53_record.dns_a.alias.name).toBe('${aws_lb.load_balancer_alb.dns_name}');
  });

  test('a malformed hosted zone id is a configuration error naming the variable', () => {
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_HOSTED_ZONE_ID: 'zone-1' })).toThrow(/HBS_PROD_HOSTED_ZONE_ID="zone-1" is not a valid Route 53 hosted zone id/);
  });
});
