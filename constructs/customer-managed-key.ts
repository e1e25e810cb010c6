import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { ctx } from './environment-context';
import { policyDocument } from './policy-document';
import { Grantable } from './service-role';

/** An AWS service that encrypts with this key on the account's behalf. */
export type KeyService = 'logs' | 'cloudtrail' | 'cloudwatch' | 'events' | 'sns' | 's3' | 'backup' | 'ecr';

export interface CustomerManagedKeyProps {
  /** Alias suffix: the key is `alias/<env>-brew-<alias>`. */
  readonly alias: string;
  /** Short name used in grant statement ids (`Use<keyName>Key`), e.g. `Data`. */
  readonly keyName: string;
  readonly description: string;
  /** Region the key lives in (names regional service principals). Default: the stack's region. */
  readonly region?: string;
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
  // Services that hold grants on the key (ECR repositories, Backup vaults) retire them when they are replaced or deleted.
  'kms:RetireGrant',
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
  private readonly keyName: string;

  constructor(scope: Construct, id: string, props: CustomerManagedKeyProps) {
    super(scope, id);
    const context = ctx(this);
    const account = context.accountId;
    const region = props.region ?? context.region;
    this.keyName = props.keyName;
    const statements: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: 'AccountAdministersKey',
        actions: KEY_ADMIN_ACTIONS,
        resources: ['*'], // In a key policy, "*" means "this key".
        principals: [{ type: 'AWS', identifiers: [context.arn('iam', 'root', { region: '' })] }],
      },
    ];
    for (const service of props.services ?? []) {
      statements.push(...serviceStatements(service, account, region, context.partition));
    }
    const policy = policyDocument(this, 'policy', statements);

    this.key = new KmsKey(this, 'key', {
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: props.deletionWindowInDays ?? 30,
      policy: policy.json,
      provider: props.provider,
    });
    new KmsAlias(this, 'alias', { name: `alias/${context.name(props.alias)}`, targetKeyId: this.key.keyId, provider: props.provider });
    this.arn = this.key.arn;
  }

  /** Lets `grantee` use the key for `actions` (merged with its other grants on this key). */
  grant(grantee: Grantable, ...actions: string[]): void {
    grantee.addKeyActions(this.arn, this.keyName, actions);
  }

  /** Reading SSE-KMS objects, encrypted environments and queues. */
  grantDecrypt(grantee: Grantable): void {
    this.grant(grantee, 'kms:Decrypt');
  }

  /** Writing SSE-KMS objects (multipart uploads also decrypt the data key) and queue messages. */
  grantEncryptDecrypt(grantee: Grantable): void {
    this.grant(grantee, 'kms:Decrypt', 'kms:GenerateDataKey');
  }
}

function serviceStatements(service: KeyService, account: string, region: string, partition: string): DataAwsIamPolicyDocumentStatement[] {
  const sourceAccount = { test: 'StringEquals', variable: 'aws:SourceAccount', values: [account] };
  switch (service) {
    case 'logs':
      return [{
        sid: 'CloudWatchLogsEncryptsLogGroups',
        actions: USE_ACTIONS,
        resources: ['*'],
        principals: [{ type: 'Service', identifiers: [`logs.${region}.amazonaws.com`] }],
        condition: [
          {
            test: 'ArnLike',
            variable: 'kms:EncryptionContext:aws:logs:arn',
            values: [`arn:${partition}:logs:${region}:${account}:log-group:*`],
          },
        ],
      }];
    case 'cloudtrail': {
      // Three statements, as AWS documents them: DescribeKey and the S3 Bucket Key's Decrypt carry no
      // CloudTrail encryption context, so a context condition on them fails CreateTrail
      // (InsufficientEncryptionPolicyException). Each is scoped to this account's trails by aws:SourceArn.
      const principals = [{ type: 'Service', identifiers: ['cloudtrail.amazonaws.com'] }];
      const fromTrails = { test: 'ArnLike', variable: 'aws:SourceArn', values: [`arn:${partition}:cloudtrail:${region}:${account}:trail/*`] };
      return [
        {
          sid: 'CloudTrailEncryptsLogs',
          actions: ['kms:GenerateDataKey*'],
          resources: ['*'],
          principals,
          condition: [
            { test: 'StringLike', variable: 'kms:EncryptionContext:aws:cloudtrail:arn', values: [`arn:${partition}:cloudtrail:*:${account}:trail/*`] },
            fromTrails,
          ],
        },
        { sid: 'CloudTrailDescribesKey', actions: ['kms:DescribeKey'], resources: ['*'], principals, condition: [fromTrails] },
        { sid: 'CloudTrailBucketKeyDecrypt', actions: ['kms:Decrypt'], resources: ['*'], principals, condition: [fromTrails] },
      ];
    }
    case 'cloudwatch':
      // CloudWatch alarms publishing to an encrypted SNS topic, as AWS documents it; scoped to this account's alarms.
      return [{
        sid: 'CloudwatchUsesKey',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
        condition: [{ test: 'ArnLike', variable: 'aws:SourceArn', values: [`arn:${partition}:cloudwatch:${region}:${account}:alarm:*`] }],
      }];
    default: {
      // Services that publish into encrypted topics, queues, buckets and vaults for us.
      const principal: Record<Exclude<KeyService, 'logs' | 'cloudtrail' | 'cloudwatch'>, string> = {
        events: 'events.amazonaws.com',
        sns: 'sns.amazonaws.com',
        s3: 's3.amazonaws.com',
        backup: 'backup.amazonaws.com',
        ecr: 'ecr.amazonaws.com',
      };
      return [
        {
          sid: `${service[0].toUpperCase()}${service.slice(1)}UsesKey`,
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          principals: [{ type: 'Service', identifiers: [principal[service]] }],
          condition: [sourceAccount],
        },
      ];
    }
  }
}
