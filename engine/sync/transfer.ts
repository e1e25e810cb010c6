import { LocalEnvironmentError } from '../errors';
import { BlobIntegrityError, BlobStore, CircuitBreaker } from '../ports';
import { TransferItem } from './plan';
import { Upstream, UpstreamError, cutAt } from '../upstream/client';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  /** Cap on any single wait, including a server's Retry-After. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

export type TransferOutcome =
  | { readonly status: 'transferred'; readonly bytes: number; readonly attempts: number }
  | { readonly status: 'present' }
  | { readonly status: 'failed'; readonly permanent: boolean; readonly reason: string; readonly attempts: number; readonly circuitOpen?: boolean };

/** Errors of this machine, not of upstream: they stop the run with their own message and never open the breaker. */
export const LOCAL_ERROR_CODES: readonly string[] = ['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EMFILE', 'ENFILE'];

/** A local fault while storing a bottle (disk full, read-only or forbidden store). */
export class LocalStoreError extends LocalEnvironmentError {
  constructor(readonly code: string, cause: Error) {
    super(`the store refused a write (${code}): ${cause.message.replace(/, open '[^']*'$/, '')}; fix the store and rerun (nothing was published)`);
  }
}

const localErrorCode = (error: unknown): string | undefined => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code && LOCAL_ERROR_CODES.includes(code) ? code : undefined;
};

export interface TransferDeps {
  readonly upstream: Upstream;
  readonly store: BlobStore;
  readonly retry?: RetryPolicy;
  /** Shared per-host breaker; while open for the bottle's host, attempts are skipped, not sent. */
  readonly breaker?: CircuitBreaker;
  /** Bytes as they arrive (negative: an attempt that failed gives back what it had counted). */
  readonly onBytes?: (bytes: number) => void;
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** Exponential backoff with full jitter, or the server's Retry-After when it gave one (capped). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  return Math.floor(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)));
}

/**
 * Streams one blob from upstream into the store, verifying length and
 * sha256 on the way (the store refuses to publish a mismatching body).
 * Network errors, 5xx, 429, truncated bodies and digest mismatches are
 * retried; a 404 (or 401/403) is permanent at once, and a digest mismatch
 * that survives every retry is permanent too.
 */
export async function transferBlob(item: TransferItem, deps: TransferDeps): Promise<TransferOutcome> {
  const policy = deps.retry ?? DEFAULT_RETRY;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  if (await deps.store.has(item.sha256)) return { status: 'present' };

  const host = new URL(item.upstreamUrl).host;
  let attemptBytes = 0;
  const onBytes = (n: number) => {
    attemptBytes += n;
    deps.onBytes?.(n);
  };
  let lastReason = '';
  let lastWasDigest = false;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let retryAfterMs: number | undefined;
    if (deps.breaker && !(await deps.breaker.allowRequest(host))) {
      // No waiting it out bottle by bottle: the batch stops starting bottles and the run fails with this reason.
      return { status: 'failed', permanent: false, reason: `circuit open for ${host}: upstream is failing, not sending requests`, attempts: attempt, circuitOpen: true };
    }
    if (attemptBytes > 0) deps.onBytes?.(-attemptBytes); // the last attempt's bytes did not count
    attemptBytes = 0;
    try {
      const response = await deps.upstream.get(item.upstreamUrl, undefined, true, true);
      // The image index's size is what the bytes must come to; a longer body is cut off, not stored.
      const expected = item.size ?? response.length;
      const { bytes } = await deps.store.put(counted(cutAt(response.body, expected, response.url), onBytes), { sha256: item.sha256, length: expected });
      await deps.breaker?.recordSuccess(host);
      return { status: 'transferred', bytes, attempts: attempt };
    } catch (error) {
      const local = localErrorCode(error);
      if (local) throw new LocalStoreError(local, error as Error);
      if (error instanceof UpstreamError) {
        if (error.permanent) return { status: 'failed', permanent: true, reason: error.message, attempts: attempt };
        retryAfterMs = error.retryAfterMs;
        lastWasDigest = false;
        await deps.breaker?.recordFailure(host);
      } else if (error instanceof BlobIntegrityError) {
        lastWasDigest = error.mismatch === 'digest';
      } else {
        lastWasDigest = false; // body stream broke mid-transfer
        await deps.breaker?.recordFailure(host);
      }
      lastReason = (error as Error).message;
    }
    if (attempt < policy.maxAttempts) await sleep(backoffDelay(attempt, policy, random, retryAfterMs));
  }
  if (attemptBytes > 0) deps.onBytes?.(-attemptBytes);
  return { status: 'failed', permanent: lastWasDigest, reason: lastReason, attempts: policy.maxAttempts };
}

/** Passes a body through, reporting each chunk's size. */
async function* counted(body: AsyncIterable<Uint8Array>, onBytes: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    onBytes(chunk.length);
    yield chunk;
  }
}
