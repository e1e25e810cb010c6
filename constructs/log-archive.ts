import { Construct } from 'constructs';
import { DataAwsElbServiceAccount } from '@cdktf/provider-aws/lib/data-aws-elb-service-account';
import { SecureBucket } from './secure-bucket';
import { ctx } from './environment-context';
import type { AccessLogTarget } from './access-log-target';

export interface LogArchiveProps {
  /** Days to keep access logs. Default: 365. */
  readonly retentionDays?: number;
}

/** Key prefixes inside the log bucket, one per log source. */
export const LOG_PREFIXES = {
  bottleStoreAccess: 's3-access/bottle-store/',
  trailBucketAccess: 's3-access/cloudtrail/',
  lambdaArtifactsAccess: 's3-access/lambda-artifacts/',
  alb: 'alb',
} as const;

/**
 * The bucket that AWS log delivery writes S3 server access logs and ALB
 * access logs into. It is the one bucket encrypted with SSE-S3 rather than a
 * CMK: neither delivery service can write to an SSE-KMS bucket. It does not
 * log its own access (that would loop).
 */
export class LogArchive extends Construct {
  public readonly bucket: SecureBucket;

  get bucketName(): string {
    return this.bucket.bucketName;
  }

  get bucketArn(): string {
    return this.bucket.bucketArn;
  }

  /** The place under `prefix` a resource delivers access logs to, with the policy it must wait for. */
  target(prefix: string): AccessLogTarget {
    return { bucket: this.bucketName, prefix, readyAfter: [this.bucket.policy] };
  }

  constructor(scope: Construct, id: string, props: LogArchiveProps) {
    super(scope, id);
    const context = ctx(this);
    // Regions older than August 2022 deliver ALB logs from a regional ELB account.
    const elbAccount = new DataAwsElbServiceAccount(this, 'elb-account', {});
    const sourceAccount = { test: 'StringEquals', variable: 'aws:SourceAccount', values: [context.accountId] };

    this.bucket = new SecureBucket(this, 'logs', {
      namePrefix: `${context.namePrefix}-access-logs`,
      lifecycleRules: [
        { id: 'expire-access-logs', status: 'Enabled', filter: [{}], expiration: [{ days: props.retentionDays ?? 365 }] },
      ],
      noncurrentVersionExpirationDays: 30,
      policyStatements: (bucketArn) => [
        {
          sid: 'S3ServerAccessLogDelivery',
          actions: ['s3:PutObject'],
          resources: [`${bucketArn}/s3-access/*`],
          principals: [{ type: 'Service', identifiers: ['logging.s3.amazonaws.com'] }],
          condition: [sourceAccount],
        },
        {
          sid: 'AlbAccessLogDeliveryLegacyRegions',
          actions: ['s3:PutObject'],
          resources: [`${bucketArn}/${LOG_PREFIXES.alb}/AWSLogs/${context.accountId}/*`],
          principals: [{ type: 'AWS', identifiers: [elbAccount.arn] }],
        },
        {
          sid: 'AlbAccessLogDelivery',
          actions: ['s3:PutObject'],
          resources: [`${bucketArn}/${LOG_PREFIXES.alb}/AWSLogs/${context.accountId}/*`],
          principals: [{ type: 'Service', identifiers: ['logdelivery.elasticloadbalancing.amazonaws.com'] }],
        },
      ],
    });
  }
}
