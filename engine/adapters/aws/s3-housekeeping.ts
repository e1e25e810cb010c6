import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Housekeeping, HousekeepingPolicy, HousekeepingReport, StateStore } from '../../ports';
import { STORE_PREFIXES } from '../../store-layout';

/** DeleteObjects takes at most 1,000 keys per request. */
const DELETE_BATCH = 1000;

/**
 * The bucket's share of housekeeping (issue #25, fault 9): API generations
 * under `api/generations/`, which no lifecycle rule can age out by count.
 * Keeps the published generation and the newest others up to
 * `keepGenerations` (the local store's rule), and deletes the rest,
 * `_mirror/` records (bottle index, brew record) included. The bucket is
 * versioned: a deleted generation stays restorable as noncurrent versions
 * for the 90 days the lifecycle keeps them.
 *
 * The rest is the bucket's and the table's: lifecycle rules expire orphaned
 * blobs and staged runs, DynamoDB's TTL expires run records.
 */
export class S3Housekeeping implements Housekeeping {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly state: StateStore,
  ) {}

  async collect(policy: HousekeepingPolicy): Promise<HousekeepingReport> {
    const published = await this.state.getPublished();
    // Run ids start with their UTC start time, so they sort newest first by name.
    const generations = (await this.generations()).sort().reverse();
    const kept = new Set(published ? [published.generation] : []);
    for (const g of generations) if (kept.size < policy.keepGenerations && g !== published?.generation) kept.add(g);
    const dropped = generations.filter((g) => !kept.has(g));
    let bytes = 0;
    for (const g of dropped) bytes += await this.deletePrefix(`${STORE_PREFIXES.api}${g}/`);
    return { generationsKept: [...kept], generationsRemoved: dropped, stagedRunsRemoved: 0, runRecordsRemoved: 0, orphansRemoved: 0, bytesFreed: bytes };
  }

  private async generations(): Promise<string[]> {
    const found: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: STORE_PREFIXES.api, Delimiter: '/', ContinuationToken }));
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) found.push(p.Prefix.slice(STORE_PREFIXES.api.length, -1));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return found;
  }

  /** Deletes every object under `prefix`; returns their bytes. */
  private async deletePrefix(prefix: string): Promise<number> {
    let bytes = 0;
    for (;;) {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: DELETE_BATCH }));
      const objects = (page.Contents ?? []).filter((o) => o.Key);
      if (objects.length === 0) return bytes;
      const result = await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects.map((o) => ({ Key: o.Key! })), Quiet: true } }));
      if (result.Errors?.length) throw new Error(`deleting ${prefix}: ${result.Errors[0].Key}: ${result.Errors[0].Message ?? result.Errors[0].Code}`);
      bytes += objects.reduce((n, o) => n + (o.Size ?? 0), 0);
    }
  }
}
