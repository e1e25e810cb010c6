import { Construct } from 'constructs';
import type { AccessLogTarget } from './access-log-target';
import { TerraformProvider } from 'cdktf';
import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import {
  S3BucketLifecycleConfiguration,
  S3BucketLifecycleConfigurationRule,
} from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { S3BucketLoggingA as S3BucketLogging } from '@cdktf/provider-aws/lib/s3-bucket-logging';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketServerSideEncryptionConfigurationA as S3BucketServerSideEncryptionConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA as S3BucketVersioning } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { policyDocument } from './policy-document';
import { ctx } from './environment-context';

export interface SecureBucketProps {
  /** Bucket name prefix (AWS appends a unique suffix); callers prefix it with the environment. */
  readonly namePrefix: string;
  /**
   * SSE-KMS key. Leave unset only for buckets that AWS log delivery writes to:
   * S3 server access logs and ALB access logs accept SSE-S3 only.
   */
  readonly kmsKeyArn?: string;
  /** Where this bucket's access logs go. Unset only for the log bucket itself. */
  readonly accessLogs?: AccessLogTarget;
  /** Lifecycle rules on top of the default abort-incomplete-multipart-upload rule. */
  readonly lifecycleRules?: S3BucketLifecycleConfigurationRule[];
  /** Days after which noncurrent versions expire. Default: 90. */
  readonly noncurrentVersionExpirationDays?: number;
  /** Extra bucket-policy statements, given the bucket ARN (the TLS-only deny is always present). */
  readonly policyStatements?: (bucketArn: string) => DataAwsIamPolicyDocumentStatement[];
  /** Let `terraform destroy` delete a non-empty bucket. Default: false (true only in a stack synthesized for `npm run destroy`), so a destroy never drops bottles silently. */
  readonly forceDestroy?: boolean;
  /** Provider of the bucket's region. @default the stack's default provider */
  readonly provider?: TerraformProvider;
}

/**
 * An S3 bucket with every baseline control switched on: versioning, default
 * encryption, all public access blocked, ACLs disabled (bucket owner
 * enforced), TLS-only access, access logging and lifecycle hygiene.
 */
export class SecureBucket extends Construct {
  public readonly bucket: S3Bucket;
  /** The bucket policy; resources that need it in place (log delivery) can depend on it. */
  public readonly policy: S3BucketPolicy;
  /** Versioning, which replication needs in place first. */
  public readonly versioning: S3BucketVersioning;
  /** Name prefix, for companion buckets (a replica). */
  public readonly namePrefix: string;
  /** The retention it was given (rules and noncurrent-version days), which a replica repeats. */
  public readonly retention: { readonly lifecycleRules: readonly S3BucketLifecycleConfigurationRule[]; readonly noncurrentVersionExpirationDays?: number };

  /** The bucket's name (chosen by S3 from the prefix at apply time). */
  get bucketName(): string {
    return this.bucket.bucket;
  }

  get bucketArn(): string {
    return this.bucket.arn;
  }

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const provider = props.provider;
    this.namePrefix = props.namePrefix;
    this.retention = { lifecycleRules: props.lifecycleRules ?? [], noncurrentVersionExpirationDays: props.noncurrentVersionExpirationDays };
    this.bucket = new S3Bucket(this, 'bucket', { bucketPrefix: `${props.namePrefix}-`, forceDestroy: props.forceDestroy ?? ctx(this).teardown, provider });
    const bucketId = this.bucket.id;

    this.versioning = new S3BucketVersioning(this, 'versioning', { bucket: bucketId, versioningConfiguration: { status: 'Enabled' }, provider });
    new S3BucketServerSideEncryptionConfiguration(this, 'encryption', {
      provider,
      bucket: bucketId,
      rule: [
        {
          applyServerSideEncryptionByDefault: props.kmsKeyArn
            ? { sseAlgorithm: 'aws:kms', kmsMasterKeyId: props.kmsKeyArn }
            : { sseAlgorithm: 'AES256' },
          bucketKeyEnabled: props.kmsKeyArn !== undefined,
        },
      ],
    });
    const publicAccessBlock = new S3BucketPublicAccessBlock(this, 'public-access-block', {
      provider,
      bucket: bucketId,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, 'ownership', { bucket: bucketId, rule: { objectOwnership: 'BucketOwnerEnforced' }, provider });

    if (props.accessLogs) {
      new S3BucketLogging(this, 'logging', {
        provider,
        bucket: bucketId,
        targetBucket: props.accessLogs.bucket,
        targetPrefix: props.accessLogs.prefix,
        dependsOn: props.accessLogs.readyAfter,
      });
    }

    this.lifecycle(bucketId, props);

    const policy = policyDocument(this, 'policy-document', [
      {
        sid: 'DenyInsecureTransport',
        effect: 'Deny',
        actions: ['s3:*'],
        resources: [this.bucket.arn, `${this.bucket.arn}/*`],
        principals: [{ type: '*', identifiers: ['*'] }],
        condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
      },
      ...(props.policyStatements?.(this.bucket.arn) ?? []),
    ]);
    this.policy = new S3BucketPolicy(this, 'policy', {
      provider,
      bucket: bucketId,
      policy: policy.json,
      // A policy write racing the public-access block fails; order them.
      dependsOn: [publicAccessBlock],
    });
  }

  /** Incomplete uploads and noncurrent versions expire; the caller's rules come on top. */
  private lifecycle(bucketId: string, props: SecureBucketProps): void {
    new S3BucketLifecycleConfiguration(this, 'lifecycle', {
      provider: props.provider,
      bucket: bucketId,
      rule: [
        {
          id: 'abort-incomplete-multipart-uploads',
          status: 'Enabled',
          filter: [{}],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
        {
          id: 'expire-noncurrent-versions',
          status: 'Enabled',
          filter: [{}],
          noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentVersionExpirationDays ?? 90 }],
          // A key deleted (by housekeeping, or a replicated delete marker) leaves a marker; once its versions have expired it goes too.
          expiration: [{ expiredObjectDeleteMarker: true }],
        },
        ...(props.lifecycleRules ?? []),
      ],
    });
  }
}
