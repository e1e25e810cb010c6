import type { TeamToken } from './keys/team-token';
/**
 * Ports: what the sync engine needs from the outside world. Adapters live in
 * `engine/adapters/aws` (S3, DynamoDB, ElastiCache, Lambda, ECS) and
 * `engine/adapters/local` (a directory, an embedded state file, in-process).
 */

import { MirrorError } from './errors';

/** Hands planned work to compute. The plan itself is in the store; only ids travel. */
/** What a sync task started for a run does (`Dispatcher.startLargeSync`). */
export type SyncTaskJob = 'transfers' | 'brew' | 'casks' | 'taps';

export interface Dispatcher {
  /** Starts one asynchronous worker per batch. */
  dispatchBatches(runId: string, batchIds: readonly string[]): Promise<void>;
  /**
   * Starts the Fargate sync task for a run; returns its identifier (task ARN).
   * `transfers` (default): the run's pending batches, then its brew phase.
   * `brew`: only the brew phase, while worker Lambdas copy the bottles.
   */
  startLargeSync(runId: string, job?: SyncTaskJob): Promise<string>;
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
  /** Size in bytes, or undefined when the blob is not stored. */
  size(sha256: string): Promise<number | undefined>;
  /**
   * Streams bytes `start`..`end` (inclusive; default: the whole blob). `chunkBytes` is a hint for
   * a reader that copies whole blobs (an export): larger reads, fewer of them. A download keeps the default.
   */
  read(sha256: string, range?: { start: number; end: number }, hints?: { chunkBytes?: number }): Promise<AsyncIterable<Uint8Array>>;
}

/** A body that did not hash to its expected digest or had the wrong length; nothing was stored. */
export class BlobIntegrityError extends MirrorError {
  readonly kind = 'verification';

  constructor(
    public readonly mismatch: 'digest' | 'length',
    message: string,
    /** For a digest mismatch: what the body hashed to. */
    public readonly actualSha256?: string,
  ) {
    super(message);
  }
}

/**
 * Small named objects next to the blobs: OCI manifests, API generations, run
 * plans. Writes replace atomically (readers see the old or the new bytes).
 * Keys are `/`-separated and never contain `..`.
 */
export interface ObjectStore {
  getObject(key: string): Promise<Buffer | undefined>;
  /** Streams an object (the mirror serves large API files this way instead of holding them). */
  readObject(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  putObject(key: string, body: Buffer): Promise<void>;
  hasObject(key: string): Promise<boolean>;
}

/** The generation `brew` clients are served: API files under `api/generations/<generation>/`. */
export interface PublishedGeneration {
  readonly generation: string;
  readonly runId: string;
  readonly publishedAt: string;
  /** API file paths relative to the generation, e.g. `internal/packages.arm64_sonoma.jws.json`. */
  readonly files: readonly string[];
  /** Bottles the generation names (for the drop guard of the next run); absent in generations published before it existed. */
  readonly bottles?: number;
  /** sha256 of each API file: a run whose verified files hash the same has nothing to publish. */
  readonly fileDigests?: Readonly<Record<string, string>>;
  /** What was mirrored besides the API (tags, `all` fallback, partial selection), as `scopeOf` writes it. */
  readonly scope?: string;
  /** When a run last found upstream unchanged from this generation (the mirror is that fresh). */
  readonly verifiedAt?: string;
  /**
   * Each packages file's signed `metadata.generated_at` (Unix seconds): a later run refuses an older one,
   * which is a replay. Absent in generations published before it existed (then nothing is refused).
   */
  readonly packagesGeneratedAt?: Readonly<Record<string, number>>;
  /** brew release tags whose pinned portable Rubies the generation serves (with brew.git); absent when it serves no brew. */
  readonly brewReleases?: readonly string[];
}

export interface RunFailure {
  readonly name: string;
  readonly tag: string;
  readonly reason: string;
  readonly permanent: boolean;
}

export interface RunRecord {
  readonly runId: string;
  /**
   * `interrupted`: stopped by a signal (Ctrl-C, SIGTERM) and cleaned up;
   * `abandoned`: its process died, and the next run that took the lease over said so;
   * `unchanged`: upstream's API was the published generation's, byte for byte, and every bottle was stored.
   */
  readonly status: 'running' | 'published' | 'failed' | 'interrupted' | 'abandoned' | 'unchanged';
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly generation?: string;
  readonly bottles?: { planned: number; transferred: number; skipped: number; failed: number };
  readonly bytesTransferred?: number;
  readonly durationMs?: number;
  readonly failures?: readonly RunFailure[];
  /** Why a run did not publish. */
  readonly error?: string;
}

/** Who holds a lease: enough to tell, on the same host, whether its process is still alive. */
export interface LeaseHolder {
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
}

export interface LeaseState {
  /** Null once released. */
  readonly owner: string | null;
  readonly expiresAtMs: number;
  readonly holder?: LeaseHolder;
}

export interface AcquireOptions {
  /** Recorded with the lease, so the next run can check on this one. */
  readonly holder?: LeaseHolder;
  /** Take the lease even though this owner's is unexpired: its holder is known to be dead. */
  readonly takeOverFrom?: string;
}

/**
 * Which region may write to the mirror's data (issue #15). Absent: the
 * primary region, where the stack deploys the sync. An operator pins the DR
 * region when promoting it after a long outage, so that the primary, when
 * its region returns, cannot publish over what the DR region published.
 */
export interface WriterPin {
  /** The AWS region whose sync may run, e.g. `us-west-2`. */
  readonly region: string;
  /** When it was pinned (ISO 8601). */
  readonly since: string;
  readonly reason?: string;
}

/** Sync state: the run lease, the published pointer and run records. */
/**
 * Team tokens (issue #35), kept as records with the sha256 of each secret,
 * never the token: in the store's state directory locally, in the state
 * table in AWS.
 */
export interface TokenStore {
  /** Adds a new token record (its id is new). */
  putToken(token: TeamToken): Promise<void>;
  /** Every token record, revoked and expired ones included. */
  listTokens(): Promise<TeamToken[]>;
  /** Marks a token revoked at `at`; false if there is no such id. */
  revokeToken(id: string, at: string): Promise<boolean>;
  /** Records when a mirror last accepted the token (best effort). */
  recordTokenUse(id: string, at: string): Promise<void>;
}

export interface StateStore {
  /** The writer pin, if an operator set one. */
  readWriterPin(): Promise<WriterPin | undefined>;
  /** Sets the writer pin, or clears it (`undefined`: the primary writes again). */
  pinWriter(pin: WriterPin | undefined): Promise<void>;
  /** Takes the named lease unless another owner holds an unexpired one (other than `takeOverFrom`). */
  acquireLease(name: string, owner: string, ttlMs: number, options?: AcquireOptions): Promise<boolean>;
  /** The named lease as stored, expired or not; undefined if it never existed (or was deleted). */
  readLease(name: string): Promise<LeaseState | undefined>;
  /** Extends a lease this owner holds; false if it was lost. */
  renewLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  getPublished(): Promise<PublishedGeneration | undefined>;
  /** Flips the pointer only if the current generation is still `expected` (compare-and-swap). */
  setPublished(next: PublishedGeneration, expected: string | undefined): Promise<boolean>;
  /** Records a run; the most recent write is also the answer of `latestRun`. */
  putRun(run: RunRecord): Promise<void>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  latestRun(): Promise<RunRecord | undefined>;
  /** Sets a run's count of outstanding batches. */
  startCountdown(runId: string, outstanding: number): Promise<void>;
  /**
   * Atomically adds `delta` (negative when a batch finishes, positive when it
   * hands work to new batches) and returns the new count; whoever sees 0 finalizes.
   */
  addToCountdown(runId: string, delta: number): Promise<number>;
}

/**
 * What failed, interrupted and abandoned runs leave behind in a store. The
 * directory store implements it; in S3, lifecycle rules abort incomplete
 * uploads and expire `runs/`. Only the run-lease holder calls it.
 */
export interface RunLeftovers {
  /** Removes temporary files of writes that never finished; returns how many. */
  removePartials(): Promise<number>;
  /** Removes a run's staged objects (its unpublished generation, plan and results). Never call it for a published run. */
  discardRun(runId: string): Promise<void>;
}

/** How much a store keeps (the local counterpart of the bucket's lifecycle rules). */
export interface HousekeepingPolicy {
  /** Generations kept: the published one and the newest before it. */
  readonly keepGenerations: number;
  /** Run records older than this are removed. */
  readonly runRecordDays: number;
  /** Orphaned blobs are deleted this long after they were marked (unless a kept generation names them). */
  readonly orphanGraceDays: number;
}

export interface HousekeepingReport {
  readonly generationsKept: string[];
  readonly generationsRemoved: string[];
  readonly stagedRunsRemoved: number;
  readonly runRecordsRemoved: number;
  readonly orphansRemoved: number;
  readonly bytesFreed: number;
}

/** Store housekeeping; only the run-lease holder calls it. */
export interface Housekeeping {
  collect(policy: HousekeepingPolicy, now: Date): Promise<HousekeepingReport>;
}

/** Orphan bookkeeping on the blob store (S3: an object tag the bucket expires after 90 days). */
export interface OrphanMarker {
  markOrphaned(sha256: string, at: Date): Promise<void>;
  /** Clears the mark when a blob is wanted again. */
  clearOrphaned(sha256: string): Promise<void>;
  isOrphaned(sha256: string): Promise<boolean>;
}

/**
 * A circuit breaker per upstream host, shared by every worker of a run (Redis
 * in AWS, in-process locally): after repeated failures nobody calls the host
 * until a cooldown has passed, so a failing upstream is not hammered.
 */
export interface CircuitBreaker {
  /** False while the circuit for `host` is open. */
  allowRequest(host: string): Promise<boolean>;
  recordSuccess(host: string): Promise<void>;
  recordFailure(host: string): Promise<void>;
}

export interface BreakerPolicy {
  /** Failures within `windowMs` that open the circuit. */
  readonly failureThreshold: number;
  readonly windowMs: number;
  /** How long an open circuit stays open. */
  readonly cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = { failureThreshold: 8, windowMs: 60_000, cooldownMs: 30_000 };

/** One admission decision of a RateLimiter. */
export interface RateVerdict {
  readonly allowed: boolean;
  /** For a refusal: whole seconds until a request would be allowed (the Retry-After header). */
  readonly retryAfterSeconds: number;
}

/**
 * Per-client-IP token buckets: the request limit, and (with a byte-sized
 * bucket, `byteBudgetLimit`) the byte budget of the blobs a client is handed.
 * In AWS the buckets live in Redis so every task shares them; locally, in memory.
 */
export interface RateLimiter {
  /**
   * Admits the IP while its bucket holds at least one token, then takes
   * `cost` (default 1) from it. A cost larger than what is left runs the
   * bucket into debt, which refills before the next admission: a bottle
   * bigger than the whole budget is still served once, and paid for after.
   * A limiter that keeps its buckets in memory answers synchronously.
   */
  take(clientIp: string, cost?: number): RateVerdict | Promise<RateVerdict>;
  /** Health probe of the limiter's backend. */
  ping(): Promise<void>;
  readonly backend: string;
}

export interface RateLimit {
  /** Sustained requests per second per IP. */
  readonly ratePerSecond: number;
  /** Burst allowance. */
  readonly burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { ratePerSecond: 50, burst: 200 };

/**
 * The byte budget as a token bucket of bytes: a client may draw `bytesPerHour`
 * at once, and then that much per hour (issue #25).
 */
export function byteBudgetLimit(bytesPerHour: number): RateLimit {
  return { ratePerSecond: bytesPerHour / 3600, burst: bytesPerHour };
}
