import { Construct } from 'constructs';
import type { AccessLogTarget } from './access-log-target';
import { Cloudtrail } from '@cdktf/provider-aws/lib/cloudtrail';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { ServiceRole } from './service-role';
import { SecureBucket } from './secure-bucket';
import { ctx } from './environment-context';

export interface AuditTrailProps {
  /** CMK whose policy lets CloudTrail encrypt (service `cloudtrail`) and CloudWatch Logs use it (`logs`). */
  readonly kmsKeyArn: string;
  /** Where its server access logs go. */
  readonly accessLogs: AccessLogTarget;
}

/**
 * A multi-region CloudTrail trail with log-file validation, KMS encryption,
 * delivery to its own S3 bucket and to CloudWatch Logs.
 */
export class AuditTrail extends Construct {
  public readonly trail: Cloudtrail;
  /** Where the trail delivers its log files. */
  public readonly bucket: SecureBucket;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    const context = ctx(this);
    const trailName = `${context.namePrefix}-audit`;
    const trailArn = context.arn('cloudtrail', `trail/${trailName}`);
    const fromThisTrail = [{ test: 'StringEquals', variable: 'aws:SourceArn', values: [trailArn] }];

    const bucket = (this.bucket = new SecureBucket(this, 'bucket', {
      namePrefix: `${context.namePrefix}-cloudtrail`,
      kmsKeyArn: props.kmsKeyArn,
      accessLogs: props.accessLogs,
      lifecycleRules: [
        {
          id: 'archive-audit-logs',
          status: 'Enabled',
          filter: [{}],
          transition: [{ days: 90, storageClass: 'GLACIER' }],
          expiration: [{ days: 2555 }], // seven years
        },
      ],
      policyStatements: (bucketArn) => [
        {
          sid: 'CloudTrailAclCheck',
          actions: ['s3:GetBucketAcl'],
          resources: [bucketArn],
          principals: [{ type: 'Service', identifiers: ['cloudtrail.amazonaws.com'] }],
          condition: fromThisTrail,
        },
        {
          sid: 'CloudTrailWrite',
          actions: ['s3:PutObject'],
          resources: [`${bucketArn}/AWSLogs/${context.accountId}/*`],
          principals: [{ type: 'Service', identifiers: ['cloudtrail.amazonaws.com'] }],
          condition: fromThisTrail,
        },
      ],
    }));

    const logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/${context.namePrefix}/cloudtrail`,
      retentionInDays: context.securityLogRetentionDays,
      kmsKeyId: props.kmsKeyArn,
    });
    const role = new ServiceRole(this, 'role', {
      name: `${context.namePrefix}-cloudtrail-logs`,
      description: 'Lets CloudTrail deliver events to CloudWatch Logs',
      servicePrincipal: 'cloudtrail.amazonaws.com',
      statements: [
        {
          sid: 'DeliverTrailEvents',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${logGroup.arn}:*`],
        },
      ],
    });

    this.trail = new Cloudtrail(this, 'trail', {
      name: trailName,
      s3BucketName: bucket.bucket.id,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableLogFileValidation: true,
      kmsKeyId: props.kmsKeyArn,
      cloudWatchLogsGroupArn: `${logGroup.arn}:*`,
      cloudWatchLogsRoleArn: role.role.arn,
      // CloudTrail checks at create time that it may write to the bucket and use the role.
      dependsOn: [bucket.policy, ...(role.policy ? [role.policy] : [])],
    });
  }
}
