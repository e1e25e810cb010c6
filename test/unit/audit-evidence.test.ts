import { synthAll } from '../synth';

/* eslint-disable @typescript-eslint/no-explicit-any */
const stacks = synthAll() as Record<string, any>;
const res = (env: string, type: string): Record<string, any> => stacks[env].resource[type] ?? {};
const statements = (env: string, doc: string): any[] => stacks[env].data.aws_iam_policy_document[doc].statement;

describe('issue #11: what checkov found, closed', () => {
  test('Lambda ENI actions are scoped to the function\'s subnets, security group and its ENIs; only the describe call is "*"', () => {
    for (const fn of ['orchestrator', 'sync_worker']) {
      const byId = Object.fromEntries(statements('prod', `${fn}_role_permissions`).map((s) => [s.sid, s]));
      expect(byId.CreateNetworkInterfacesInOwnSubnets.actions).toEqual(['ec2:CreateNetworkInterface']);
      expect(byId.CreateNetworkInterfacesInOwnSubnets.resources.filter((r: string) => r.includes(':subnet/'))).toHaveLength(3);
      expect(byId.CreateNetworkInterfacesInOwnSubnets.resources.some((r: string) => r.includes(':security-group/${aws_security_group.sync_sg.id}'))).toBe(true);
      expect(byId.ManageNetworkInterfaces.resources).toEqual([expect.stringMatching(/:ec2:us-east-1:\$\{data\.aws_caller_identity\.account\.account_id\}:network-interface\/\*$/)]);
      const wildcard = statements('prod', `${fn}_role_permissions`).filter((s) => s.resources.includes('*'));
      expect(wildcard.flatMap((s) => s.actions).sort()).toEqual(['ec2:DescribeNetworkInterfaces', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });

  test.each(['dev', 'prod'])('%s: both functions deploy only code its signing profile signed (prod enforces, dev warns)', (env) => {
    const [config] = Object.values(res(env, 'aws_lambda_code_signing_config'));
    expect(config.policies.untrusted_artifact_on_deployment).toBe(env === 'prod' ? 'Enforce' : 'Warn');
    expect(config.allowed_publishers.signing_profile_version_arns).toEqual(['${aws_signer_signing_profile.code_signing_profile.version_arn}']);
    expect(res(env, 'aws_signer_signing_profile').code_signing_profile.platform_id).toBe('AWSLambda-SHA384-ECDSA');
    for (const fn of ['orchestrator', 'sync_worker']) {
      const job = res(env, 'aws_signer_signing_job')[`${fn}_code_signing`];
      expect(job.source.s3.version).toBe(`\${aws_s3_object.${fn}_code_unsigned.version_id}`);
      expect(job.ignore_signing_job_failure).toBe(false);
      expect(res(env, 'aws_lambda_function')[`${fn}_function`].s3_bucket).toBe(`\${aws_signer_signing_job.${fn}_code_signing.signed_object[0].s3[0].bucket}`);
    }
    // The artifacts bucket is versioned (signing reads a version) and KMS-encrypted.
    expect(res(env, 'aws_s3_bucket_versioning').code_signing_artifacts_versioning.versioning_configuration.status).toBe('Enabled');
  });

  test('security logs keep a year; operational logs keep the configured 30 days', () => {
    const groups = res('prod', 'aws_cloudwatch_log_group');
    for (const security of ['network_flow_logs', 'load_balancer_waf_logs', 'audit_trail_logs']) expect(groups[security].retention_in_days).toBe(365);
    for (const operational of ['orchestrator_logs', 'sync_worker_logs', 'mirror_task_logs']) expect(groups[operational].retention_in_days).toBe(30);
  });

  test('the trail bucket and the log archive replicate to the DR region, into replicas with their own key, by roles scoped to them', () => {
    const replication = res('prod', 'aws_s3_bucket_replication_configuration');
    for (const [name, source, replica] of [
      ['trail_replica_replication', 'audit_trail_bucket_bucket', 'trail_replica_bucket_bucket'],
      ['log_archive_replica_replication', 'log_archive_logs_bucket', 'log_archive_replica_bucket_bucket'],
    ]) {
      const config = replication[name];
      expect(config.bucket).toBe(`\${aws_s3_bucket.${source}.id}`);
      const [rule] = config.rule;
      expect(rule).toMatchObject({ status: 'Enabled', delete_marker_replication: { status: 'Enabled' }, source_selection_criteria: { sse_kms_encrypted_objects: { status: 'Enabled' } } });
      expect(rule.destination.bucket).toBe(`\${aws_s3_bucket.${replica}.arn}`);
      expect(rule.destination.encryption_configuration.replica_kms_key_id).toBe('${aws_kms_key.dr_logs_key_key.arn}');
      expect(res('prod', 'aws_s3_bucket')[replica].provider).toBe('aws.dr');
      const role = name.replace('_replication', '');
      const policy = statements('prod', `${role}_role_permissions`);
      const arns = policy.flatMap((s) => s.resources);
      expect(arns.every((r: string) => r.includes(source) || r.includes(replica) || r.includes('_key_key.arn'))).toBe(true);
    }
    expect(res('prod', 'aws_kms_key').dr_logs_key_key.provider).toBe('aws.dr');
  });
});
