import { createHash } from 'crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ORPHAN_TAG } from '../../runtime-config';
import { BlobExpectation, BlobIntegrityError, BlobStore, ObjectStore, OrphanMarker } from '../../ports';
import { STORE_PREFIXES, blobDigestOf, blobKey, requireSafeKey } from '../../store-layout';
/** Tag recording when a blob was first marked orphaned (the lifecycle rule keys on ORPHAN_TAG only). */
const ORPHANED_AT_TAG = 'homebrew-mirror:orphaned-at';
/** 8 MiB parts: S3's 5 MiB minimum with headroom; at most one part is held in memory per upload. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

const isNotFound = (error: unknown): boolean => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

/**
 * Bottle blobs in S3 under `blobs/sha256/<hex>`.
 *
 * A body streams through a sha256 into a multipart upload, one part in
 * memory at a time; the upload is completed only after the digest and length
 * match, so a wrong or truncated bottle is never visible. On a mismatch the
 * upload is aborted (best effort: the bucket's lifecycle also aborts
 * incomplete uploads after 7 days).
 */
export class S3BlobStore implements BlobStore, OrphanMarker {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly partSize: number = DEFAULT_PART_SIZE,
  ) {}

  private key(sha256: string): string {
    return blobKey(sha256);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(sha256) }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async put(body: AsyncIterable<Uint8Array>, expected: BlobExpectation): Promise<{ bytes: number }> {
    const Key = this.key(expected.sha256);
    const { UploadId } = await this.s3.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ContentType: 'application/gzip' }),
    );
    const parts: { ETag: string; PartNumber: number }[] = [];
    const hash = createHash('sha256');
    let bytes = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      const PartNumber = parts.length + 1;
      const Body = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      const { ETag } = await this.s3.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber, Body }));
      parts.push({ ETag: ETag ?? '', PartNumber });
    };
    try {
      for await (const chunk of body) {
        const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        hash.update(buffer);
        bytes += buffer.length;
        pending.push(buffer);
        pendingBytes += buffer.length;
        if (pendingBytes >= this.partSize) await flush();
      }
      if (pendingBytes > 0 || parts.length === 0) await flush();
      if (expected.length !== undefined && bytes !== expected.length) {
        throw new BlobIntegrityError('length', `blob ${expected.sha256}: got ${bytes} bytes, expected ${expected.length}`);
      }
      const digest = hash.digest('hex');
      if (digest !== expected.sha256) throw new BlobIntegrityError('digest', `blob ${expected.sha256}: body hashes to ${digest}`, digest);
      await this.s3.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
      );
      return { bytes };
    } catch (error) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(sha256) }));
      return head.ContentLength;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async read(sha256: string, range?: { start: number; end: number }): Promise<AsyncIterable<Uint8Array>> {
    const response = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.key(sha256), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
    );
    return response.Body as unknown as AsyncIterable<Uint8Array>;
  }

  /**
   * A short-lived GET URL for the mirror's redirect mode (the caller's role must be able to read the blob).
   * `contentDisposition` becomes `response-content-disposition`, which S3 sends back as the header.
   */
  async presign(sha256: string, expiresInSeconds: number, contentDisposition?: string): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.key(sha256), ...(contentDisposition ? { ResponseContentDisposition: contentDisposition } : {}) });
    return getSignedUrl(this.s3, command, { expiresIn: expiresInSeconds });
  }

  async *list(): AsyncIterable<string> {
    let ContinuationToken: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: STORE_PREFIXES.blobs, ContinuationToken }));
      for (const object of page.Contents ?? []) {
        const sha = object.Key ? blobDigestOf(object.Key) : undefined;
        if (sha) yield sha;
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  private async tags(sha256: string): Promise<{ Key: string; Value: string }[]> {
    const { TagSet } = await this.s3.send(new GetObjectTaggingCommand({ Bucket: this.bucket, Key: this.key(sha256) }));
    return (TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
  }

  async isOrphaned(sha256: string): Promise<boolean> {
    return (await this.tags(sha256)).some((t) => t.Key === ORPHAN_TAG.key && t.Value === ORPHAN_TAG.value);
  }

  async markOrphaned(sha256: string, at: Date): Promise<void> {
    const tags = await this.tags(sha256);
    if (tags.some((t) => t.Key === ORPHAN_TAG.key)) return; // keep the first mark's date
    await this.s3.send(
      new PutObjectTaggingCommand({
        Bucket: this.bucket,
        Key: this.key(sha256),
        Tagging: { TagSet: [...tags, { Key: ORPHAN_TAG.key, Value: ORPHAN_TAG.value }, { Key: ORPHANED_AT_TAG, Value: at.toISOString() }] },
      }),
    );
  }

  async clearOrphaned(sha256: string): Promise<void> {
    const tags = await this.tags(sha256);
    const kept = tags.filter((t) => t.Key !== ORPHAN_TAG.key && t.Key !== ORPHANED_AT_TAG);
    if (kept.length === tags.length) return;
    await this.s3.send(new PutObjectTaggingCommand({ Bucket: this.bucket, Key: this.key(sha256), Tagging: { TagSet: kept } }));
  }
}

/** Manifests, API generations and plans in the same bucket. Single PUTs are atomic in S3. */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  private check(key: string): string {
    return requireSafeKey(key);
  }

  async getObject(key: string): Promise<Buffer | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.check(key) }));
      return Buffer.from(await response.Body!.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async readObject(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.check(key) }));
      return response.Body as unknown as AsyncIterable<Uint8Array>;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async hasObject(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.check(key) }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async putObject(key: string, body: Buffer): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.check(key), Body: body }));
  }
}
