import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { policyDocument } from './policy';

/** An AWS service that encrypts with this key on the account's behalf. */
export type KeyService = 'logs' | 'cloudtrail' | 'cloudwatch' | 'events' | 'sns' | 's3' | 'backup' | 'ecr';

export interface CustomerManagedKeyProps {
  /** Alias without the `alias/` prefix; callers prefix it with the environment. */
  readonly alias: string;
  readonly description: string;
  readonly accountId: string;
  /** Region the key lives in (used to name regional service principals). */
  readonly region: string;
  /** Services that need to use the key directly. Default: none. */
  readonly services?: KeyService[];
  /** Provider for keys outside the stack's main region. */
  readonly provider?: TerraformProvider;
  /** Days before a scheduled deletion completes. Default: 30, the maximum. */
  readonly deletionWindowInDays?: number;
}

// Key administration, spelled out instead of `kms:*` so that no statement grants a bare wildcard.
const KEY_ADMIN_ACTIONS = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
  'kms:CreateGrant',
];

const USE_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'];

/**
 * A customer-managed KMS key with yearly rotation and a key policy that
 * names every principal (no `*` principal, CKV_AWS_33).
 *
 * The account root statement delegates use of the key to IAM policies, which
 * is how each workload role gets exactly the key access it needs.
 */
export class CustomerManagedKey extends Construct {
  public readonly key: KmsKey;
  public readonly arn: string;

  constructor(scope: Construct, id: string, props: CustomerManagedKeyProps) {
    super(scope, id);
    const account = props.accountId;
    const statements: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: 'AccountAdministersKey',
        actions: KEY_ADMIN_ACTIONS,
        resources: ['*'], // In a key policy, "*" means "this key".
        principals: [{ type: 'AWS', identifiers: [`arn:aws:iam::${account}:root`] }],
      },
    ];
    for (const service of props.services ?? []) {
      statements.push(serviceStatement(service, account, props.region));
    }
    const policy = policyDocument(this, 'policy', statements);

    this.key = new KmsKey(this, 'key', {
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: props.deletionWindowInDays ?? 30,
      policy: policy.json,
      provider: props.provider,
    });
    new KmsAlias(this, 'alias', { name: `alias/${props.alias}`, targetKeyId: this.key.keyId, provider: props.provider });
    this.arn = this.key.arn;
  }
}

function serviceStatement(service: KeyService, account: string, region: string): DataAwsIamPolicyDocumentStatement {
  const sourceAccount = { test: 'StringEquals', variable: 'aws:SourceAccount', values: [account] };
  switch (service) {
    case 'logs':
      return {
        sid: 'CloudWatchLogsEncryptsLogGroups',
        actions: USE_ACTIONS,
        resources: ['*'],
        principals: [{ type: 'Service', identifiers: [`logs.${region}.amazonaws.com`] }],
        condition: [
          {
            test: 'ArnLike',
            variable: 'kms:EncryptionContext:aws:logs:arn',
            values: [`arn:aws:logs:${region}:${account}:log-group:*`],
          },
        ],
      };
    case 'cloudtrail':
      return {
        sid: 'CloudTrailEncryptsLogs',
        actions: ['kms:GenerateDataKey*', 'kms:DescribeKey', 'kms:Decrypt'],
        resources: ['*'],
        principals: [{ type: 'Service', identifiers: ['cloudtrail.amazonaws.com'] }],
        condition: [
          {
            test: 'StringLike',
            variable: 'kms:EncryptionContext:aws:cloudtrail:arn',
            values: [`arn:aws:cloudtrail:*:${account}:trail/*`],
          },
        ],
      };
    default: {
      // Services that publish into encrypted topics, queues, buckets and vaults for us.
      const principal: Record<Exclude<KeyService, 'logs' | 'cloudtrail'>, string> = {
        cloudwatch: 'cloudwatch.amazonaws.com',
        events: 'events.amazonaws.com',
        sns: 'sns.amazonaws.com',
        s3: 's3.amazonaws.com',
        backup: 'backup.amazonaws.com',
        ecr: 'ecr.amazonaws.com',
      };
      return {
        sid: `${service[0].toUpperCase()}${service.slice(1)}UsesKey`,
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        principals: [{ type: 'Service', identifiers: [principal[service]] }],
        condition: [sourceAccount],
      };
    }
  }
}
