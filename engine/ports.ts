/**
 * Ports: what the sync engine needs from the outside world. Adapters live in
 * `engine/adapters/aws` (S3, DynamoDB, ElastiCache, Lambda, ECS) and
 * `engine/adapters/local` (a directory, an embedded state file, in-process).
 */

/** Hands planned work to compute. The plan itself is in the store; only ids travel. */
export interface Dispatcher {
  /** Starts one asynchronous worker per batch. */
  dispatchBatches(runId: string, batchIds: readonly string[]): Promise<void>;
  /** Starts the large-sync task for a run; returns its identifier (task ARN). */
  startLargeSync(runId: string): Promise<string>;
}

/** What `BlobStore.put` must verify before a blob becomes visible. */
export interface BlobExpectation {
  /** Lowercase hex sha256 of the whole body. */
  readonly sha256: string;
  /** Exact length when upstream announced one. */
  readonly length?: number;
}

/**
 * Content-addressed blob storage (bottles) under the layout shared by the
 * S3 bucket and the local directory store: `blobs/sha256/<hex>`.
 */
export interface BlobStore {
  has(sha256: string): Promise<boolean>;
  /**
   * Streams `body` into the store. The blob becomes visible only if the body
   * hashes to `expected.sha256` (and has `expected.length` bytes); otherwise
   * nothing is left behind and a `BlobIntegrityError` is thrown.
   */
  put(body: AsyncIterable<Uint8Array>, expected: BlobExpectation): Promise<{ bytes: number }>;
  /** Every stored blob's sha256. */
  list(): AsyncIterable<string>;
}

export class BlobIntegrityError extends Error {
  constructor(
    public readonly kind: 'digest' | 'length',
    message: string,
  ) {
    super(message);
    this.name = 'BlobIntegrityError';
  }
}

/**
 * Small named objects next to the blobs: OCI manifests, API generations, run
 * plans. Writes replace atomically (readers see the old or the new bytes).
 * Keys are `/`-separated and never contain `..`.
 */
export interface ObjectStore {
  getObject(key: string): Promise<Buffer | undefined>;
  putObject(key: string, body: Buffer): Promise<void>;
  hasObject(key: string): Promise<boolean>;
}
