import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { S3BucketReplicationConfigurationA as S3BucketReplicationConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-replication-configuration';
import { CustomerManagedKey } from './customer-managed-key';
import { ctx } from './environment-context';
import { SecureBucket } from './secure-bucket';
import { ServiceRole } from './service-role';

/** The one replication rule of every replicated bucket; S3's replication metrics are per rule. */
export const REPLICATION_RULE_ID = 'to-replica-region';

export interface BucketReplicaProps {
  /** The bucket to copy. */
  readonly source: SecureBucket;
  /** The source's SSE-KMS key, when it has one (the replication role decrypts with it). */
  readonly sourceKey?: CustomerManagedKey;
  /** Provider of the replica's region. */
  readonly provider: TerraformProvider;
  /** The replica's own key, in the replica's region. */
  readonly replicaKey: CustomerManagedKey;
  /**
   * Lifecycle of the replica. S3 does not replicate the deletes a lifecycle rule makes, so a replica without
   * rules of its own keeps everything for ever. @default the source's rules and noncurrent-version days
   * (object tags replicate, so tag-based expiry works there too)
   */
  readonly retention?: SecureBucket['retention'];
  /**
   * S3 Replication Time Control: 99.99 % of objects within 15 minutes, with
   * replication metrics (latency, bytes pending) to alarm on. Costs per GB
   * replicated. @default false
   */
  readonly replicationTimeControl?: boolean;
}

/**
 * A copy of a bucket in another region: a versioned replica bucket with its
 * own key and every baseline control, a replication role that may read only
 * the source and write only the replica, and a rule that replicates every
 * object, delete marker and SSE-KMS object. For audit evidence (the trail's
 * bucket, the log archive) that must outlive a region.
 */
export class BucketReplica extends Construct {
  public readonly bucket: SecureBucket;
  public readonly role: ServiceRole;

  get bucketName(): string {
    return this.bucket.bucketName;
  }

  get bucketArn(): string {
    return this.bucket.bucketArn;
  }

  constructor(scope: Construct, id: string, props: BucketReplicaProps) {
    super(scope, id);
    const source = props.source.bucket;
    this.bucket = new SecureBucket(this, 'bucket', {
      namePrefix: `${props.source.namePrefix}-replica`,
      kmsKeyArn: props.replicaKey.arn,
      provider: props.provider,
      noncurrentVersionExpirationDays: (props.retention ?? props.source.retention).noncurrentVersionExpirationDays,
      lifecycleRules: [...(props.retention ?? props.source.retention).lifecycleRules],
    });
    const replica = this.bucket.bucket;
    this.role = new ServiceRole(this, 'role', {
      name: `${ctx(this).name(id)}-replication`,
      description: `Replicates ${props.source.namePrefix} to its replica in another region`,
      servicePrincipal: 's3.amazonaws.com',
      statements: [
        { sid: 'ReadReplicationConfiguration', actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'], resources: [source.arn] },
        {
          sid: 'ReadSourceVersions',
          actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
          resources: [`${source.arn}/*`],
        },
        { sid: 'WriteReplica', actions: ['s3:ReplicateObject', 's3:ReplicateDelete', 's3:ReplicateTags'], resources: [`${replica.arn}/*`] },
      ],
    });
    props.sourceKey?.grantDecrypt(this.role);
    props.replicaKey.grant(this.role, 'kms:Encrypt', 'kms:GenerateDataKey');

    new S3BucketReplicationConfiguration(this, 'replication', {
      bucket: source.id,
      role: this.role.role.arn,
      rule: [
        {
          id: REPLICATION_RULE_ID,
          status: 'Enabled',
          filter: {},
          deleteMarkerReplication: { status: 'Enabled' },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: 'Enabled' } },
          destination: {
            bucket: replica.arn,
            storageClass: 'STANDARD',
            encryptionConfiguration: { replicaKmsKeyId: props.replicaKey.arn },
            ...(props.replicationTimeControl
              ? { replicationTime: { status: 'Enabled', time: { minutes: 15 } }, metrics: { status: 'Enabled', eventThreshold: { minutes: 15 } } }
              : {}),
          },
        },
      ],
      // Replication needs versioning on both sides, and the role's policy, before it is configured.
      dependsOn: [props.source.versioning, this.bucket.versioning, ...(this.role.policy ? [this.role.policy] : [])],
    });
  }
}
