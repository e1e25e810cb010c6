import { Construct } from 'constructs';
import { S3BucketMetric } from '@cdktf/provider-aws/lib/s3-bucket-metric';
import type { AccessLogTarget } from './access-log-target';
import { S3BucketLifecycleConfigurationRule } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { ORPHAN_EXPIRY_DAYS, ORPHAN_TAG } from '../engine/runtime-config';
import { STORE_PREFIXES, StorePrefix } from '../engine/store-layout';
import { CustomerManagedKey } from './customer-managed-key';
import { ctx } from './environment-context';
import { Statement } from './policy-document';
import { Grantable } from './service-role';
import { SecureBucket } from './secure-bucket';

export interface BottleStoreProps {
  /** CMK for SSE-KMS. */
  readonly key: CustomerManagedKey;
  /** Bucket that receives S3 server access logs. */
  /** Where its server access logs go. */
  readonly accessLogs: AccessLogTarget;
}

/**
 * The S3 bucket holding bottles (content-addressed blobs), OCI manifests, the
 * published API generations and the runs' staged plans, in the layout of
 * `engine/store-layout.ts`. Grants are scoped to the key prefixes each
 * workload uses, with exactly the actions its adapter sends.
 */
export class BottleStore extends Construct {
  /** Orphaned bottles expire after the grace period; the DR replica applies the same rule (tags replicate). */
  static readonly LIFECYCLE: S3BucketLifecycleConfigurationRule[] = [
    {
      id: 'expire-orphaned-bottles',
      status: 'Enabled',
      filter: [{ tag: [{ key: ORPHAN_TAG.key, value: ORPHAN_TAG.value }] }],
      expiration: [{ days: ORPHAN_EXPIRY_DAYS }],
    },
  ];
  public readonly bucket: SecureBucket;
  private readonly key: CustomerManagedKey;

  get bucketName(): string {
    return this.bucket.bucketName;
  }

  get bucketArn(): string {
    return this.bucket.bucketArn;
  }

  constructor(scope: Construct, id: string, props: BottleStoreProps) {
    super(scope, id);
    this.key = props.key;
    this.bucket = new SecureBucket(this, 'store', {
      namePrefix: ctx(this).name('bottles'),
      kmsKeyArn: props.key.arn,
      accessLogs: props.accessLogs,
      noncurrentVersionExpirationDays: 90,
      lifecycleRules: BottleStore.LIFECYCLE,
    });
    // Request metrics on what clients download (bottles, portable Rubies, brew.git's packs): the
    // egress alarm watches their BytesDownloaded. Storage metrics alone would not show a drain.
    new S3BucketMetric(this, 'download-metrics', { bucket: this.bucketName, name: BottleStore.DOWNLOAD_METRICS, filter: { prefix: STORE_PREFIXES.blobs } });
  }

  /** The request-metrics filter on `blobs/` (CloudWatch's `FilterId` dimension). */
  static readonly DOWNLOAD_METRICS = 'blob-downloads';

  /** ARN pattern of every object under the given layout prefixes. */
  objectArns(...prefixes: StorePrefix[]): string[] {
    return BottleStore.objectArnsOf(this.bucketArn, prefixes);
  }

  private static objectArnsOf(bucketArn: string, prefixes: StorePrefix[]): string[] {
    return prefixes.map((prefix) => `${bucketArn}/${STORE_PREFIXES[prefix]}*`);
  }

  /**
   * What serving needs from a store in this layout, this one or its DR
   * replica: read blobs, manifests and API generations, nothing under
   * `runs/`. ListBucket makes a blob the generation names but the store
   * lacks a 404, not a 403.
   */
  static serveStatements(bucketArn: string): Statement[] {
    return [
      { sid: 'ListBottleStore', actions: ['s3:ListBucket'], resources: [bucketArn] },
      { sid: 'ReadServedObjects', actions: ['s3:GetObject'], resources: BottleStore.objectArnsOf(bucketArn, ['blobs', 'manifests', 'api']) },
    ];
  }

  /**
   * The sync workloads: read and write blobs, manifests and run plans
   * (HeadObject/GetObject, PutObject and multipart uploads), stage API files
   * (write only), abort a failed blob upload, and tag blobs as orphaned.
   * ListBucket (unconditioned) lists blobs, and makes a missing key answer
   * 404 rather than 403, which `has()` relies on.
   */
  grantSync(grantee: Grantable): void {
    grantee.addToPolicy(...BottleStore.syncStatements(this.bucketArn));
    this.key.grantEncryptDecrypt(grantee);
  }

  /** What a sync needs from a store in this layout, this one or (after a promotion) its DR replica (`grantSync`). */
  static syncStatements(bucketArn: string): Statement[] {
    const objects = (...prefixes: StorePrefix[]) => BottleStore.objectArnsOf(bucketArn, prefixes);
    return [
      { sid: 'ListBottleStore', actions: ['s3:ListBucket'], resources: [bucketArn] },
      { sid: 'ReadWriteBottleStore', actions: ['s3:GetObject', 's3:PutObject'], resources: objects('blobs', 'manifests', 'runs') },
      // Reads back a generation's brew record: brew.git is fetched from the published one's packs.
      // …and deletes generations beyond the kept count after each publish (S3Housekeeping).
      { sid: 'StageApiGenerations', actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], resources: objects('api') },
      { sid: 'ManageBlobUploadsAndOrphanTags', actions: ['s3:AbortMultipartUpload', 's3:GetObjectTagging', 's3:PutObjectTagging'], resources: objects('blobs') },
    ];
  }

  /** The mirror service: read what it serves (`serveStatements`). */
  grantServe(grantee: Grantable): void {
    grantee.addToPolicy(...BottleStore.serveStatements(this.bucketArn));
    this.key.grantDecrypt(grantee);
  }

  /**
   * A mirror with pull-through on (issue #24) also keeps what it fetched: blobs (a multipart
   * upload, aborted when the digest check fails) and image indexes. Nothing under `api/` or
   * `runs/`, no tags, no deletes.
   */
  grantPullThrough(grantee: Grantable): void {
    const objects = (...prefixes: StorePrefix[]) => BottleStore.objectArnsOf(this.bucketArn, prefixes);
    grantee.addToPolicy(
      { sid: 'KeepPulledObjects', actions: ['s3:PutObject'], resources: objects('blobs', 'manifests') },
      { sid: 'AbortPulledUploads', actions: ['s3:AbortMultipartUpload'], resources: objects('blobs') },
    );
    this.key.grantEncryptDecrypt(grantee);
  }
}
