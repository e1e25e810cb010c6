import { Construct } from 'constructs';
import { ORPHAN_EXPIRY_DAYS, ORPHAN_TAG } from '../engine/runtime-config';
import { SecureBucket } from './secure-bucket';

export interface BottleStoreProps {
  readonly namePrefix: string;
  /** CMK for SSE-KMS. */
  readonly kmsKeyArn: string;
  /** Bucket that receives S3 server access logs. */
  readonly accessLogBucket: string;
  readonly accessLogPrefix: string;
}

/**
 * The S3 bucket holding bottles (content-addressed blobs), OCI manifests and
 * the published API generations.
 */
export class BottleStore extends Construct {
  public readonly bucket: SecureBucket;

  constructor(scope: Construct, id: string, props: BottleStoreProps) {
    super(scope, id);
    this.bucket = new SecureBucket(this, 'store', {
      namePrefix: `${props.namePrefix}-bottles`,
      kmsKeyArn: props.kmsKeyArn,
      accessLogs: { bucket: props.accessLogBucket, prefix: props.accessLogPrefix },
      noncurrentVersionExpirationDays: 90,
      lifecycleRules: [
        {
          id: 'expire-orphaned-bottles',
          status: 'Enabled',
          filter: [{ tag: [{ key: ORPHAN_TAG.key, value: ORPHAN_TAG.value }] }],
          expiration: [{ days: ORPHAN_EXPIRY_DAYS }],
        },
      ],
    });
  }
}
