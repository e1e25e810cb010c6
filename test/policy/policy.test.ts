import * as fs from 'fs';
import * as path from 'path';
import { CHECKS, EXCEPTIONS, TerraformJson, evaluate, exceptionsTable } from './checks';
import { synthAll } from '../synth';

const stacks = synthAll();
const clone = (json: TerraformJson): TerraformJson => JSON.parse(JSON.stringify(json));

describe.each(Object.entries(stacks))('policy suite: %s', (_name, json) => {
  const report = evaluate(json);

  test.each(CHECKS.map((c) => [c.id, c.title]))('%s %s', (id) => {
    expect(report.violations.filter((v) => v.check === id)).toEqual([]);
  });

});

test('the optional shapes pass too: prod with a hosted zone (failover records) and its standby promoted to writer', () => {
  const variant = synthAll({ HBS_PROD_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ', HBS_PROD_STANDBY_WRITER: 'true' });
  expect(Object.keys(variant.prod.resource!.aws_route53_record ?? {})).toContain('dns_a');
  expect(Object.keys(variant['prod-standby'].resource!.aws_ecs_task_definition)).toContain('promoted_sync_task_task');
  for (const [name, json] of Object.entries(variant)) {
    expect([name, evaluate(json).violations]).toEqual([name, []]);
  }
});

test('every named exception still matches a real finding in some environment (no stale exceptions)', () => {
  // Some apply only where the environment has the finding: every shipped environment is closed (issue #25), so
  // port 80 open to the world exists only with HBS_<ENV>_ALLOWED_CIDRS=0.0.0.0/0, which is synthesized for it.
  const applied = new Set(Object.values(stacks).flatMap((json) => evaluate(json).appliedExceptions));
  for (const e of EXCEPTIONS.filter((x) => x.onlyWith)) {
    expect(applied.has(e)).toBe(false);
    const variant = synthAll(e.onlyWith);
    expect([e.check, Object.values(variant).some((json) => evaluate(json).appliedExceptions.includes(e))]).toEqual([e.check, true]);
    for (const [name, json] of Object.entries(variant)) expect([name, evaluate(json).violations]).toEqual([name, []]);
    applied.add(e);
  }
  expect(EXCEPTIONS.filter((e) => !applied.has(e))).toEqual([]);
});

describe('the policy suite catches breaches', () => {
  const prod = stacks.prod;
  const mutate = (change: (json: TerraformJson) => void): string[] => {
    const json = clone(prod);
    change(json);
    return evaluate(json).violations.map((v) => `${v.check} ${v.address}`);
  };

  test('an SSM parameter stored as plain String (CKV2_AWS_34), other than the named hand-off', () => {
    const found = mutate((j) => {
      j.resource!.aws_ssm_parameter.leaked = { name: '/prod/brew/token', type: 'String', insecure_value: 'x' };
    });
    expect(found).toContain('CKV2_AWS_34 aws_ssm_parameter.leaked');
    expect(found).not.toContain('CKV2_AWS_34 aws_ssm_parameter.standby_handoff_parameter');
  });

  test('PITR switched off', () => {
    expect(mutate((j) => (j.resource!.aws_dynamodb_table.state_table_table.point_in_time_recovery.enabled = false))).toContain(
      'CKV_AWS_28 aws_dynamodb_table.state_table_table',
    );
  });

  test('a privileged, writable container', () => {
    const found = mutate((j) => {
      const task = j.resource!.aws_ecs_task_definition.sync_task_task;
      const defs = JSON.parse(task.container_definitions);
      defs[0].privileged = true;
      defs[0].readonlyRootFilesystem = false;
      defs[0].user = 'root';
      task.container_definitions = JSON.stringify(defs);
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'CKV_AWS_334 aws_ecs_task_definition.sync_task_task',
        'CKV_AWS_336 aws_ecs_task_definition.sync_task_task',
        'BOTTLES_ECS_NON_ROOT aws_ecs_task_definition.sync_task_task',
      ]),
    );
  });

  test('a "*" resource on a scopable action and a "*" action', () => {
    const found = mutate((j) => {
      const doc = j.data!.aws_iam_policy_document.orchestrator_role_permissions;
      doc.statement.push({ sid: 'TooBroad', actions: ['s3:GetObject', '*'], resources: ['*'] });
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'CKV_AWS_355 data.aws_iam_policy_document.orchestrator_role_permissions',
        'CKV_AWS_63 data.aws_iam_policy_document.orchestrator_role_permissions',
        'CKV_AWS_62 data.aws_iam_policy_document.orchestrator_role_permissions',
      ]),
    );
  });

  test('an HTTP listener that forwards instead of redirecting, and a missing WAF', () => {
    const found = mutate((j) => {
      j.resource!.aws_lb_listener.load_balancer_http_redirect.default_action = [{ type: 'forward', target_group_arn: 'x' }];
      delete j.resource!.aws_wafv2_web_acl_association;
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'CKV_AWS_2 aws_lb_listener.load_balancer_http_redirect',
        'CKV2_AWS_20 aws_lb.load_balancer_alb',
        'CKV2_AWS_28 aws_lb.load_balancer_alb',
      ]),
    );
  });

  test('a cache password, an unencrypted topic and an alarm without OK action', () => {
    const found = mutate((j) => {
      j.resource!.aws_elasticache_replication_group.cache_group.auth_token = 'hunter2hunter2hunter2';
      j.resource!.aws_elasticache_user.cache_default_user.authentication_mode.passwords = ['${data.x.y.z}', 'literal-among-references'];
      delete j.resource!.aws_sns_topic.monitoring_topic.kms_master_key_id;
      delete j.resource!.aws_cloudwatch_metric_alarm.monitoring_alarm_sync_freshness.ok_actions;
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'BOTTLES_NO_SECRETS resource.aws_elasticache_replication_group.cache_group',
        'BOTTLES_NO_SECRETS resource.aws_elasticache_user.cache_default_user.authentication_mode',
        'CKV_AWS_26 aws_sns_topic.monitoring_topic',
        'BOTTLES_ALARM_ACTIONS aws_cloudwatch_metric_alarm.monitoring_alarm_sync_freshness',
      ]),
    );
  });

  test('an unversioned bucket without public-access block or logging', () => {
    const found = mutate((j) => {
      delete j.resource!.aws_s3_bucket_versioning.bottle_store_store_versioning;
      delete j.resource!.aws_s3_bucket_public_access_block.bottle_store_store_public_access_block;
      delete j.resource!.aws_s3_bucket_logging.bottle_store_store_logging;
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'CKV_AWS_21 aws_s3_bucket.bottle_store_store_bucket',
        'CKV2_AWS_6 aws_s3_bucket.bottle_store_store_bucket',
        'CKV_AWS_18 aws_s3_bucket.bottle_store_store_bucket',
      ]),
    );
  });

  test('a key policy open to every principal', () => {
    const found = mutate((j) => {
      j.data!.aws_iam_policy_document.data_key_policy.statement.push({
        sid: 'Anyone',
        actions: ['kms:Decrypt'],
        resources: ['*'],
        principals: [{ type: 'AWS', identifiers: ['*'] }],
      });
    });
    expect(found).toContain('CKV_AWS_33 data.aws_iam_policy_document.data_key_policy');
  });

  test('ENI actions back on "*" (CKV_AWS_111/356), and a permissions-management action on "*" (CKV_AWS_109)', () => {
    const found = mutate((j) => {
      const doc = j.data!.aws_iam_policy_document.orchestrator_role_permissions;
      doc.statement.push({ sid: 'EniAnywhere', actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface'], resources: ['*'] });
      doc.statement.push({ sid: 'PassAnyRole', actions: ['iam:PassRole'], resources: ['*'] });
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'CKV_AWS_356 data.aws_iam_policy_document.orchestrator_role_permissions',
        'CKV_AWS_111 data.aws_iam_policy_document.orchestrator_role_permissions',
        'CKV_AWS_109 data.aws_iam_policy_document.orchestrator_role_permissions',
      ]),
    );
  });

  test('a key policy exception covers only the root statement: another wildcard write in a key policy is a breach', () => {
    const found = mutate((j) => {
      j.data!.aws_iam_policy_document.data_key_policy.statement.push({
        sid: 'AnyRoleMayGrant',
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        principals: [{ type: 'AWS', identifiers: ['arn:aws:iam::123456789012:role/x'] }],
      });
    });
    expect(found).toEqual(expect.arrayContaining(['CKV_AWS_109 data.aws_iam_policy_document.data_key_policy', 'CKV_AWS_111 data.aws_iam_policy_document.data_key_policy']));
  });

  test('security logs kept less than a year, an unsigned function, an unreplicated trail bucket, port 80 open on another group', () => {
    const found = mutate((j) => {
      j.resource!.aws_cloudwatch_log_group.network_flow_logs.retention_in_days = 30;
      delete j.resource!.aws_lambda_function.orchestrator_function.code_signing_config_arn;
      delete j.resource!.aws_s3_bucket_replication_configuration.trail_replica_replication;
      j.resource!.aws_vpc_security_group_ingress_rule.open_80 = { cidr_ipv4: '0.0.0.0/0', from_port: 80, to_port: 80, ip_protocol: 'tcp' };
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'CKV_AWS_338 aws_cloudwatch_log_group.network_flow_logs',
        'CKV_AWS_272 aws_lambda_function.orchestrator_function',
        'CKV_AWS_144 aws_s3_bucket.audit_trail_bucket_bucket',
        'CKV_AWS_260 aws_vpc_security_group_ingress_rule.open_80',
      ]),
    );
  });

  test('CKV2_AWS_76 is reported on the ALB whose web ACL lacks the anonymous-IP list, as the real checkov names it (a graph check from aws_lb)', () => {
    const json = clone(prod);
    const all = evaluate(json, []).violations.filter((v) => v.check === 'CKV2_AWS_76').map((v) => v.address);
    expect(all).toEqual(['aws_lb.load_balancer_alb']);
    // With the list in the ACL the ALB attached to it passes.
    json.resource!.aws_wafv2_web_acl.load_balancer_waf.rule.push({ name: 'anonymous', statement: { managed_rule_group_statement: { name: 'AWSManagedRulesAnonymousIpList', vendor_name: 'AWS' } } });
    expect(evaluate(json, []).violations.filter((v) => v.check === 'CKV2_AWS_76')).toEqual([]);
    // An ALB with no web ACL at all is a finding too.
    delete json.resource!.aws_wafv2_web_acl_association;
    expect(evaluate(json, []).violations.filter((v) => v.check === 'CKV2_AWS_76').map((v) => v.address)).toEqual(['aws_lb.load_balancer_alb']);
  });

  test('a stale exception is reported by the check script', () => {
    const stale = { check: 'CKV_AWS_28', address: 'aws_dynamodb_table.nothing_here', reason: 'test' };
    expect(evaluate(prod, [stale]).appliedExceptions).toEqual([]);
  });
});

test('docs/testing.md carries exactly the named exceptions of checks.ts (npm run policy -- --write-docs)', () => {
  const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/testing.md'), 'utf8');
  const section = /<!-- exceptions: [^\n]*-->\n([\s\S]*?)\n<!-- exceptions:end -->/.exec(docs)?.[1];
  expect(section).toBe(exceptionsTable());
});

