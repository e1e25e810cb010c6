/**
 * Policy-as-code over synthesized Terraform JSON. Each check mirrors the
 * checkov control of the same ID for the resource types this stack uses;
 * deliberate deviations are listed in `EXCEPTIONS` with their reason.
 */
import { UNSCOPABLE_ACTIONS } from '../../constructs/policy-document';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

export interface TerraformJson {
  resource?: Record<string, Record<string, Json>>;
  data?: Record<string, Record<string, Json>>;
  provider?: Record<string, Json[]>;
  [key: string]: Json;
}

export interface Violation {
  readonly check: string;
  readonly address: string;
  readonly message: string;
  /** The policy statement (sid) at fault, for policy-document checks. */
  readonly statement?: string;
}

export interface Exception {
  readonly check: string;
  /** Terraform address, e.g. `aws_s3_bucket.log_archive_logs_bucket`, or a pattern for a family of them. */
  readonly address: string | RegExp;
  /** For policy-document checks: the one statement (by sid) the exception covers. */
  readonly statement?: string;
  readonly reason: string;
  /**
   * The `HBS_*` settings under which the finding exists, when the shipped
   * configurations do not have it (it is then not stale there); the policy
   * test synthesizes them and requires the exception to apply.
   */
  readonly onlyWith?: Readonly<Record<string, string>>;
}

/** Addresses of the key policies (data sources) of the customer-managed keys. */
const KEY_POLICY_DOCUMENT = /^data\.aws_iam_policy_document\..*key_policy$/;

/** The DR-region replicas: the bottle store's (with a standby) and the audit evidence's (constructs/bucket-replica.ts). */
const REPLICA_BUCKET = /^aws_s3_bucket\.\w+_replica_bucket_bucket$/;

/** Named, reasoned deviations. Each one must still match something, or the suite fails. */
export const EXCEPTIONS: readonly Exception[] = [
  {
    check: 'CKV_AWS_145',
    address: /^aws_s3_bucket\.(alb_)?log_archive_logs_bucket$/,
    reason: 'S3 server access logs and ALB access logs can only be delivered to SSE-S3 buckets, not SSE-KMS.',
  },
  {
    check: 'CKV_AWS_18',
    address: /^aws_s3_bucket\.(alb_)?log_archive_logs_bucket$/,
    reason: 'The access-log bucket cannot log its own access without an infinite delivery loop.',
  },
  {
    check: 'CKV_AWS_31',
    address: 'aws_elasticache_replication_group.cache_group',
    reason:
      'Clients authenticate as IAM users in an RBAC user group (short-lived SigV4 tokens); an AUTH token would put a long-lived password in state.',
  },
  // Key policies: the account root administers each key. In a key policy "*" is the key itself, and without
  // this statement IAM policies could not grant use of the key and the key could become unmanageable.
  ...(['CKV_AWS_109', 'CKV_AWS_111'] as const).map((check) => ({
    check,
    address: KEY_POLICY_DOCUMENT,
    statement: 'AccountAdministersKey',
    reason: 'Key policy: the account root administers the key ("*" in a key policy is the key itself); AWS requires this statement for IAM policies to grant use of the key.',
  })),
  {
    check: 'CKV_AWS_356',
    address: KEY_POLICY_DOCUMENT,
    reason: 'Key policy: "*" as a key policy\'s resource is the key itself, the only resource a key policy can name; every statement is scoped by construction.',
  },
  {
    check: 'CKV_AWS_338',
    address: /^aws_cloudwatch_log_group\.(orchestrator_logs|sync_worker_logs|sync_task_logs|mirror_task_logs|cache_engine_log|cache_slow_log|(monitoring_)?task_failure_events|promoted_sync_task_logs)$/,
    reason: 'Operational logs keep logRetentionDays (30 by default) as a stated cost choice; security logs (flow, WAF, CloudTrail) keep a year.',
  },
  {
    check: 'CKV_AWS_144',
    address: REPLICA_BUCKET,
    reason: 'A DR-region replica (of the bottle store, the trail bucket or the log archive) is itself the cross-region copy; replicating it back would loop.',
  },
  {
    check: 'CKV_AWS_144',
    address: 'aws_s3_bucket.alb_log_archive_logs_bucket',
    reason:
      "The standby's ALB log bucket is in the DR region: a copy in the primary region would live in the region the standby stands in for.",
  },
  {
    check: 'CKV_AWS_144',
    address: 'aws_s3_bucket.bottle_store_store_bucket',
    reason:
      'Replicated only where a standby serves from the copy (prod by default; HBS_<ENV>_STANDBY): bottles are content-addressed and re-fetchable from upstream, so an environment without a standby pays for no copy.',
  },
  {
    check: 'CKV_AWS_144',
    address: 'aws_s3_bucket.code_signing_artifacts_bucket',
    reason: 'Lambda bundles and their signatures are rebuilt from the repository and re-signed by every deploy; a DR deploy signs its own.',
  },
  {
    check: 'CKV_AWS_18',
    address: REPLICA_BUCKET,
    reason:
      'A replica is written only by S3 replication under its own role; logging its access would need a DR-region log bucket, itself unlogged. Its source bucket logs access.',
  },
  {
    check: 'CKV2_AWS_62',
    address: /^aws_s3_bucket\./,
    reason: 'No consumer of S3 event notifications exists; the sync records every write it makes in the state table.',
  },
  {
    check: 'CKV2_AWS_34',
    address: 'aws_ssm_parameter.standby_handoff_parameter',
    reason:
      "It names the bottle-store replica, the state table, their key and the repositories, which are no secrets (the stack outputs name them too); a SecureString would need a key the standby's deployer may decrypt, for nothing to hide.",
  },
  {
    check: 'CKV_AWS_252',
    address: 'aws_cloudtrail.audit_trail_trail',
    reason: 'The trail already streams to a KMS-encrypted CloudWatch log group, where metric filters and alarms read it; an SNS topic per log file would add nothing.',
  },
  {
    check: 'CKV_AWS_260',
    address: 'aws_vpc_security_group_ingress_rule.load_balancer_client_80_0_ingress',
    reason:
      'Only where HBS_<ENV>_ALLOWED_CIDRS opens the mirror to 0.0.0.0/0 (every shipped environment is closed): port 80 on the ALB only answers with a redirect to HTTPS (CKV_AWS_2/CKV2_AWS_20 check the listener); brew clients typed with http:// would otherwise fail.',
    onlyWith: { HBS_PROD_ALLOWED_CIDRS: '0.0.0.0/0' },
  },
  {
    check: 'CKV2_AWS_76',
    address: 'aws_lb.load_balancer_alb',
    reason:
      'The anonymous-IP managed list would block CI hosts and cloud runners that are legitimate mirror clients; the Log4j protection it pairs with (AWSManagedRulesKnownBadInputsRuleSet) is present.',
  },
];

/** One checkov-equivalent control. */
interface Check {
  readonly id: string;
  readonly title: string;
  run(tf: Stack): Violation[];
}

/** Indexed view of one stack's JSON. */
export class Stack {
  constructor(public readonly json: TerraformJson) {}

  resources(type: string): [string, Json][] {
    return Object.entries(this.json.resource?.[type] ?? {}).map(([name, body]) => [`${type}.${name}`, body]);
  }

  data(type: string): [string, Json][] {
    return Object.entries(this.json.data?.[type] ?? {}).map(([name, body]) => [`data.${type}.${name}`, body]);
  }

  /** Resources of `type` whose `attribute` references `address` (e.g. `${aws_s3_bucket.x.id}`). */
  referencing(type: string, attribute: string, address: string): [string, Json][] {
    const needle = `\${${address}.`;
    return this.resources(type).filter(([, body]) => String(body[attribute] ?? '').startsWith(needle));
  }

  /** Addresses of resources whose JSON mentions `${<data source address>.json}`, by type. */
  consumersOf(dataAddress: string): string[] {
    const needle = `\${${dataAddress}.json}`;
    const out: string[] = [];
    for (const [type, byName] of Object.entries(this.json.resource ?? {})) {
      for (const [name, body] of Object.entries(byName as Record<string, Json>)) {
        if (JSON.stringify(body).includes(needle)) out.push(`${type}.${name}`);
      }
    }
    return out;
  }
}

const asList = (value: Json): Json[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value : [value]);
const first = (value: Json): Json => asList(value)[0];

/** A check that every resource of `type` must satisfy `ok`. */
function each(id: string, title: string, type: string, ok: (body: Json, address: string, tf: Stack) => boolean | string): Check {
  return {
    id,
    title,
    run: (tf) =>
      tf.resources(type).flatMap(([address, body]) => {
        const result = ok(body, address, tf);
        return result === true ? [] : [{ check: id, address, message: typeof result === 'string' ? result : title }];
      }),
  };
}

/** For S3 controls configured on companion resources (`aws_s3_bucket_versioning`, …). */
function bucketHas(id: string, title: string, companionType: string, ok: (companion: Json) => boolean = () => true): Check {
  return each(id, title, 'aws_s3_bucket', (_body, address, tf) =>
    tf.referencing(companionType, 'bucket', address).some(([, companion]) => ok(companion)),
  );
}

const LEGACY_TLS = /ELBSecurityPolicy-(2015|2016-08|TLS-1-0|TLS-1-1|FS-2018|FS-1-1)/;

const statementsOf = (doc: Json): Json[] => asList(doc.statement);

/** Read-level actions by name; everything else is treated as a write (as checkov's access levels would, closely enough here). */
const isWrite = (action: string): boolean => action === '*' || action.endsWith(':*') || !/^[a-z0-9-]+:(Describe|List|Get|BatchGet|Head|Check|Lookup|Query|Scan|Search|Select|View)/.test(action);

/** Actions that change who may do what. */
const PERMISSIONS_MANAGEMENT =
  /^(\*|[a-z0-9-]+:\*|iam:(Attach|Detach|Put|Delete|Create)\w*Policy\w*|iam:(PassRole|UpdateAssumeRolePolicy|AddUserToGroup)|kms:(PutKeyPolicy|CreateGrant|RevokeGrant|RetireGrant)|s3:(PutBucketPolicy|DeleteBucketPolicy|PutBucketAcl|PutObjectAcl)|(sns|sqs|lambda):(AddPermission|RemovePermission)|ecr:SetRepositoryPolicy|secretsmanager:PutResourcePolicy)$/;
const isPermissionsManagement = (action: string): boolean => PERMISSIONS_MANAGEMENT.test(action);

/** A check over every Allow statement of every policy document (identity, resource and key policies). */
function policyStatements(id: string, title: string, breaches: (statement: Json) => boolean): Check {
  return {
    id,
    title,
    run: (tf) =>
      tf.data('aws_iam_policy_document').flatMap(([address, doc]) =>
        statementsOf(doc)
          .filter((st) => isAllow(st) && breaches(st))
          .map((st) => ({ check: id, address, statement: st.sid, message: `statement ${st.sid ?? '?'}: ${title.toLowerCase()}` })),
      ),
  };
}
const isAllow = (s: Json) => (s.effect ?? 'Allow') === 'Allow';

export const CHECKS: readonly Check[] = [
  // DynamoDB
  each('CKV_AWS_28', 'DynamoDB point-in-time recovery is enabled', 'aws_dynamodb_table', (b) => first(b.point_in_time_recovery)?.enabled === true),
  each('CKV_AWS_119', 'DynamoDB is encrypted with a customer-managed KMS key', 'aws_dynamodb_table', (b) => {
    const sse = first(b.server_side_encryption);
    return sse?.enabled === true && typeof sse.kms_key_arn === 'string' && asList(b.replica).every((r) => !!r.kms_key_arn);
  }),
  // ElastiCache
  each('CKV_AWS_29', 'ElastiCache encrypts data at rest', 'aws_elasticache_replication_group', (b) => String(b.at_rest_encryption_enabled) === 'true'),
  each('CKV_AWS_30', 'ElastiCache encrypts data in transit', 'aws_elasticache_replication_group', (b) => b.transit_encryption_enabled === true),
  each(
    'CKV_AWS_31',
    'ElastiCache encrypts in transit and requires an AUTH token',
    'aws_elasticache_replication_group',
    (b) => b.transit_encryption_enabled === true && !!b.auth_token,
  ),
  each('CKV_AWS_191', 'ElastiCache uses a customer-managed KMS key', 'aws_elasticache_replication_group', (b) => !!b.kms_key_id),
  each(
    'CKV2_AWS_50',
    'ElastiCache is Multi-AZ with automatic failover',
    'aws_elasticache_replication_group',
    (b) => b.automatic_failover_enabled === true && b.multi_az_enabled === true && Number(b.num_cache_clusters) >= 2,
  ),
  // Load balancing
  each('CKV_AWS_2', 'ALB listeners use HTTPS or redirect to it', 'aws_lb_listener', (b) =>
    b.protocol === 'HTTPS' || asList(b.default_action).every((a) => a.type === 'redirect' && first(a.redirect)?.protocol === 'HTTPS'),
  ),
  each('CKV_AWS_103', 'HTTPS listeners require TLS 1.2 or later', 'aws_lb_listener', (b) =>
    b.protocol !== 'HTTPS' || (typeof b.ssl_policy === 'string' && !LEGACY_TLS.test(b.ssl_policy)),
  ),
  each('CKV_AWS_131', 'ALB drops invalid HTTP header fields', 'aws_lb', (b) => b.drop_invalid_header_fields === true),
  each('CKV_AWS_91', 'ALB writes access logs', 'aws_lb', (b) => first(b.access_logs)?.enabled === true && !!first(b.access_logs)?.bucket),
  each('CKV_AWS_150', 'ALB has deletion protection', 'aws_lb', (b) => b.enable_deletion_protection === true),
  each('CKV2_AWS_20', 'ALB redirects HTTP to HTTPS', 'aws_lb', (_b, address, tf) =>
    tf
      .referencing('aws_lb_listener', 'load_balancer_arn', address)
      .filter(([, l]) => l.protocol === 'HTTP')
      .every(([, l]) => asList(l.default_action).every((a) => a.type === 'redirect' && first(a.redirect)?.protocol === 'HTTPS')),
  ),
  each('CKV2_AWS_28', 'ALB is protected by a WAF web ACL', 'aws_lb', (_b, address, tf) =>
    tf.referencing('aws_wafv2_web_acl_association', 'resource_arn', address).length === 1,
  ),
  // S3
  bucketHas('CKV_AWS_18', 'S3 bucket has access logging', 'aws_s3_bucket_logging'),
  bucketHas('CKV_AWS_19', 'S3 bucket is encrypted at rest', 'aws_s3_bucket_server_side_encryption_configuration'),
  bucketHas('CKV_AWS_21', 'S3 bucket is versioned', 'aws_s3_bucket_versioning', (v) => first(v.versioning_configuration)?.status === 'Enabled'),
  bucketHas('CKV_AWS_145', 'S3 bucket is encrypted with KMS', 'aws_s3_bucket_server_side_encryption_configuration', (c) =>
    asList(c.rule).every((r) => first(r.apply_server_side_encryption_by_default)?.sse_algorithm === 'aws:kms'),
  ),
  bucketHas('CKV_AWS_300', 'S3 lifecycle aborts incomplete multipart uploads', 'aws_s3_bucket_lifecycle_configuration', (c) =>
    asList(c.rule).some((r) => r.status === 'Enabled' && Number(first(r.abort_incomplete_multipart_upload)?.days_after_initiation) > 0),
  ),
  bucketHas('CKV2_AWS_6', 'S3 bucket blocks all public access', 'aws_s3_bucket_public_access_block', (c) =>
    ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'].every((k) => c[k] === true),
  ),
  bucketHas('CKV2_AWS_61', 'S3 bucket has a lifecycle configuration', 'aws_s3_bucket_lifecycle_configuration'),
  bucketHas('BOTTLES_S3_OWNERSHIP', 'S3 bucket enforces bucket-owner object ownership (ACLs off)', 'aws_s3_bucket_ownership_controls', (c) =>
    first(c.rule)?.object_ownership === 'BucketOwnerEnforced',
  ),
  bucketHas('BOTTLES_S3_TLS_ONLY', 'S3 bucket policy denies non-TLS access', 'aws_s3_bucket_policy'),
  // Lambda
  each('CKV_AWS_50', 'Lambda has X-Ray active tracing', 'aws_lambda_function', (b) => first(b.tracing_config)?.mode === 'Active'),
  each('CKV_AWS_115', 'Lambda has reserved concurrency', 'aws_lambda_function', (b) => Number(b.reserved_concurrent_executions) > 0),
  each('CKV_AWS_116', 'Lambda has a dead-letter queue', 'aws_lambda_function', (b) => !!first(b.dead_letter_config)?.target_arn),
  each('CKV_AWS_117', 'Lambda runs inside a VPC', 'aws_lambda_function', (b) => asList(first(b.vpc_config)?.subnet_ids).length > 0),
  each('CKV_AWS_173', 'Lambda environment is encrypted with a CMK', 'aws_lambda_function', (b) => !b.environment || !!b.kms_key_arn),
  // ECS and ECR
  each('CKV_AWS_65', 'ECS cluster has Container Insights', 'aws_ecs_cluster', (b) =>
    asList(b.setting).some((s) => s.name === 'containerInsights' && ['enabled', 'enhanced'].includes(s.value)),
  ),
  each('CKV_AWS_249', 'ECS task and execution roles differ', 'aws_ecs_task_definition', (b) => !!b.task_role_arn && b.task_role_arn !== b.execution_role_arn),
  each('CKV_AWS_333', 'ECS services do not assign public IPs', 'aws_ecs_service', (b) => first(b.network_configuration)?.assign_public_ip !== true),
  each('CKV_AWS_334', 'ECS containers are not privileged', 'aws_ecs_task_definition', (b) =>
    JSON.parse(b.container_definitions).every((c: Json) => c.privileged !== true),
  ),
  each('CKV_AWS_336', 'ECS containers have a read-only root filesystem', 'aws_ecs_task_definition', (b) =>
    JSON.parse(b.container_definitions).every((c: Json) => c.readonlyRootFilesystem === true),
  ),
  each('BOTTLES_ECS_NON_ROOT', 'ECS containers run as a non-root user', 'aws_ecs_task_definition', (b) =>
    JSON.parse(b.container_definitions).every((c: Json) => typeof c.user === 'string' && !/^(0|root)(:|$)/.test(c.user)),
  ),
  each('CKV_AWS_136', 'ECR repository is encrypted with KMS', 'aws_ecr_repository', (b) => first(b.encryption_configuration)?.encryption_type === 'KMS'),
  each('CKV_AWS_51', 'ECR image tags are immutable', 'aws_ecr_repository', (b) => b.image_tag_mutability === 'IMMUTABLE'),
  each('CKV_AWS_163', 'ECR scans images on push', 'aws_ecr_repository', (b) => first(b.image_scanning_configuration)?.scan_on_push === true),
  // Logs, SNS, SQS
  each('CKV_AWS_66', 'Log group has a retention period', 'aws_cloudwatch_log_group', (b) => Number(b.retention_in_days) > 0),
  each('CKV_AWS_158', 'Log group is encrypted with KMS', 'aws_cloudwatch_log_group', (b) => !!b.kms_key_id),
  each('CKV_AWS_26', 'SNS topic is encrypted with KMS', 'aws_sns_topic', (b) => !!b.kms_master_key_id),
  each('CKV_AWS_27', 'SQS queue is encrypted with KMS', 'aws_sqs_queue', (b) => !!b.kms_master_key_id),
  // VPC
  each('CKV2_AWS_11', 'VPC has flow logs', 'aws_vpc', (_b, address, tf) => tf.referencing('aws_flow_log', 'vpc_id', address).length > 0),
  each('CKV2_AWS_12', 'Default security group restricts all traffic', 'aws_vpc', (_b, address, tf) => {
    const sgs = tf.referencing('aws_default_security_group', 'vpc_id', address);
    return sgs.length === 1 && asList(sgs[0][1].ingress).length === 0 && asList(sgs[0][1].egress).length === 0;
  }),
  each('CKV_AWS_130', 'Subnets do not assign public IPs by default', 'aws_subnet', (b) => b.map_public_ip_on_launch !== true),
  // CloudTrail
  each('CKV_AWS_35', 'CloudTrail logs are encrypted with KMS', 'aws_cloudtrail', (b) => !!b.kms_key_id),
  each('CKV_AWS_36', 'CloudTrail validates log files', 'aws_cloudtrail', (b) => b.enable_log_file_validation === true),
  each('CKV_AWS_67', 'CloudTrail covers all regions', 'aws_cloudtrail', (b) => b.is_multi_region_trail === true),
  // KMS
  each('CKV_AWS_7', 'KMS key rotation is enabled', 'aws_kms_key', (b) => b.enable_key_rotation === true),
  {
    id: 'CKV_AWS_33',
    title: 'KMS key policy has no wildcard principal',
    run: (tf) =>
      tf.data('aws_iam_policy_document').flatMap(([address, doc]) => {
        if (!tf.consumersOf(address).some((c) => c.startsWith('aws_kms_key.'))) return [];
        const wild = statementsOf(doc).filter(
          (s) => isAllow(s) && asList(s.principals).some((p) => asList(p.identifiers).includes('*')),
        );
        return wild.map((s) => ({ check: 'CKV_AWS_33', address, message: `statement ${s.sid ?? '?'} allows principal "*"` }));
      }),
  },
  // IAM (identity policies; key policies are resource policies where "*" names the key itself)
  {
    id: 'CKV_AWS_63',
    title: 'No IAM policy allows the "*" action',
    run: (tf) =>
      tf.data('aws_iam_policy_document').flatMap(([address, doc]) =>
        statementsOf(doc)
          .filter((s) => isAllow(s) && asList(s.actions).includes('*'))
          .map((s) => ({ check: 'CKV_AWS_63', address, message: `statement ${s.sid ?? '?'} allows "*"` })),
      ),
  },
  {
    id: 'CKV_AWS_62',
    title: 'No IAM policy grants full administrative "*:*" privileges',
    run: (tf) =>
      tf.data('aws_iam_policy_document').flatMap(([address, doc]) =>
        statementsOf(doc)
          .filter((s) => isAllow(s) && asList(s.actions).some((a: string) => a === '*' || a === '*:*') && asList(s.resources).includes('*'))
          .map((s) => ({ check: 'CKV_AWS_62', address, message: `statement ${s.sid ?? '?'} is full admin` })),
      ),
  },
  {
    id: 'CKV_AWS_355',
    title: 'IAM policies use "*" resources only for actions that cannot be scoped',
    run: (tf) =>
      tf.data('aws_iam_policy_document').flatMap(([address, doc]) => {
        const consumers = tf.consumersOf(address);
        if (!consumers.some((c) => c.startsWith('aws_iam_role_policy.'))) return [];
        return statementsOf(doc)
          .filter((s) => isAllow(s) && asList(s.resources).includes('*'))
          .filter((s) => asList(s.actions).some((a: string) => !UNSCOPABLE_ACTIONS.includes(a)))
          .map((s) => ({ check: 'CKV_AWS_355', address, message: `statement ${s.sid ?? '?'} uses "*" for scopable actions` }));
      }),
  },
  {
    id: 'BOTTLES_IAM_SERVICE_WILDCARD',
    title: 'Identity policies grant no service-wide wildcard actions ("s3:*")',
    run: (tf) =>
      tf.data('aws_iam_policy_document').flatMap(([address, doc]) => {
        if (!tf.consumersOf(address).some((c) => c.startsWith('aws_iam_role_policy.'))) return [];
        return statementsOf(doc)
          .filter((s) => isAllow(s) && asList(s.actions).some((a: string) => a.endsWith(':*')))
          .map((s) => ({ check: 'BOTTLES_IAM_SERVICE_WILDCARD', address, message: `statement ${s.sid ?? '?'} grants a service wildcard` }));
      }),
  },
  // Every policy document, key policies included
  policyStatements('CKV_AWS_356', 'No policy uses "*" as the resource of an action that can be scoped', (st) =>
    asList(st.resources).includes('*') && asList(st.actions).some((a: string) => !UNSCOPABLE_ACTIONS.includes(a))),
  policyStatements('CKV_AWS_111', 'No policy allows write access on "*" without conditions', (st) =>
    asList(st.resources).includes('*') && asList(st.condition).length === 0 && asList(st.actions).some((a: string) => isWrite(a) && !UNSCOPABLE_ACTIONS.includes(a))),
  policyStatements('CKV_AWS_109', 'No policy allows permissions management on "*" without conditions', (st) =>
    asList(st.resources).includes('*') && asList(st.condition).length === 0 && asList(st.actions).some(isPermissionsManagement)),
  // Logs and notifications
  each('CKV_AWS_338', 'Log group keeps logs at least a year', 'aws_cloudwatch_log_group', (b) => Number(b.retention_in_days) >= 365),
  each('CKV_AWS_252', 'CloudTrail publishes to an SNS topic', 'aws_cloudtrail', (b) => !!b.sns_topic_name),
  bucketHas('CKV_AWS_144', 'S3 bucket replicates to another region', 'aws_s3_bucket_replication_configuration'),
  bucketHas('CKV2_AWS_62', 'S3 bucket has event notifications', 'aws_s3_bucket_notification'),
  // Code and network
  each('CKV_AWS_272', 'Lambda validates code signatures', 'aws_lambda_function', (b) => !!b.code_signing_config_arn),
  each('CKV_AWS_260', 'No security group allows ingress from 0.0.0.0/0 to port 80', 'aws_vpc_security_group_ingress_rule', (b) =>
    !((b.cidr_ipv4 === '0.0.0.0/0' || b.cidr_ipv6 === '::/0') && Number(b.from_port) <= 80 && Number(b.to_port) >= 80)),
  // A graph check in checkov: it starts from the ALB and follows its association to the web ACL, so the finding names the ALB.
  each('CKV2_AWS_76', "ALB's WAF web ACL uses the anonymous-IP managed rule group", 'aws_lb', (_b, address, tf) =>
    tf.referencing('aws_wafv2_web_acl_association', 'resource_arn', address).some(([, association]) => {
      const acl = /^\$\{(aws_wafv2_web_acl\.[a-z0-9_]+)\.arn\}$/.exec(String(association.web_acl_arn))?.[1];
      const body = acl && tf.resources('aws_wafv2_web_acl').find(([a]) => a === acl)?.[1];
      return !!body && JSON.stringify(body.rule ?? []).includes('AWSManagedRulesAnonymousIpList');
    })),
  // Parameters
  each('CKV2_AWS_34', 'SSM parameter is encrypted (SecureString)', 'aws_ssm_parameter', (b) => b.type === 'SecureString'),
  // Backup
  each('CKV_AWS_166', 'Backup vault is encrypted with a CMK', 'aws_backup_vault', (b) => !!b.kms_key_arn),
  // Project rules
  each('BOTTLES_ALARM_ACTIONS', 'Every alarm notifies on ALARM and on OK', 'aws_cloudwatch_metric_alarm', (b) =>
    asList(b.alarm_actions).length > 0 && JSON.stringify(b.alarm_actions) === JSON.stringify(b.ok_actions),
  ),
  {
    id: 'BOTTLES_NO_SECRETS',
    title: 'No password, token or secret value appears in the synthesized JSON (a reference to a generated one is not a value)',
    run: (tf) => {
      const found: Violation[] = [];
      // `${data.aws_secretsmanager_random_password.x.random_password}`: generated at apply time, never in the JSON.
      const onlyReferences = (v: Json): boolean =>
        typeof v === 'string' ? /^\$\{[^}]+\}$/.test(v) : Array.isArray(v) ? v.length > 0 && v.every(onlyReferences) : false;
      const walk = (value: Json, path: string) => {
        if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
        else if (value && typeof value === 'object') {
          for (const [k, v] of Object.entries(value)) {
            if (/^(passwords?|auth_token|secret(_key)?|access_key|secret_string)$/i.test(k) && v !== null && v !== '' && !onlyReferences(v)) {
              found.push({ check: 'BOTTLES_NO_SECRETS', address: path, message: `"${k}" carries a value` });
            }
            walk(v, `${path}.${k}`);
          }
        }
      };
      walk(tf.json.resource ?? {}, 'resource');
      return found;
    },
  },
  {
    id: 'BOTTLES_DEFAULT_TAGS',
    title: 'Every AWS provider tags Project, Environment and ManagedBy by default',
    run: (tf) =>
      asList(tf.json.provider?.aws)
        .filter((p) => {
          const tags = first(p.default_tags)?.tags ?? {};
          return !['Project', 'Environment', 'ManagedBy'].every((k) => typeof tags[k] === 'string' && tags[k] !== '');
        })
        .map((p) => ({ check: 'BOTTLES_DEFAULT_TAGS', address: `provider.aws.${p.alias ?? 'default'}`, message: 'missing default tags' })),
  },
];

export interface Report {
  readonly violations: Violation[];
  /** Exceptions that matched a real violation (and so were applied). */
  readonly appliedExceptions: Exception[];
}

/** Whether `exception` covers `violation`: same check, matching address, and the same statement when it names one. */
export function covers(exception: Exception, violation: Violation): boolean {
  const address = typeof exception.address === 'string' ? exception.address === violation.address : exception.address.test(violation.address);
  return exception.check === violation.check && address && (exception.statement === undefined || exception.statement === violation.statement);
}

/** Runs every check; violations covered by a named exception are removed. */
export function evaluate(json: TerraformJson, exceptions: readonly Exception[] = EXCEPTIONS): Report {
  const tf = new Stack(json);
  const all = CHECKS.flatMap((c) => c.run(tf));
  return {
    violations: all.filter((v) => !exceptions.some((e) => covers(e, v))),
    appliedExceptions: exceptions.filter((e) => all.some((v) => covers(e, v))),
  };
}

/** The named exceptions as the Markdown table docs/testing.md carries (test/policy/policy.test.ts keeps them equal). */
export function exceptionsTable(exceptions: readonly Exception[] = EXCEPTIONS): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const address = (e: Exception) => (typeof e.address === 'string' ? `\`${e.address}\`` : `\`/${cell(e.address.source)}/\``) + (e.statement ? `, statement \`${e.statement}\`` : '');
  return ['| Check | Resource | Why |', '| --- | --- | --- |', ...exceptions.map((e) => `| ${e.check} | ${address(e)} | ${cell(e.reason)} |`)].join('\n');
}

