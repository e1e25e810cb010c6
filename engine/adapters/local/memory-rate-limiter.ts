import { performance } from 'perf_hooks';
import { SERVE_DEFAULTS } from '../../defaults';
import { DEFAULT_RATE_LIMIT, RateLimit, RateLimiter, RateVerdict, byteBudgetLimit } from '../../ports';

const ALLOWED: RateVerdict = Object.freeze({ allowed: true, retryAfterSeconds: 0 });

/** Most clients the in-memory limiter tracks; past it the oldest bucket is dropped. */
export const DEFAULT_MAX_TRACKED_CLIENTS = 100_000;

/**
 * Token bucket per IP, in process memory. Time comes from the monotonic
 * clock: a wall-clock step backwards (NTP) must not drain every bucket.
 *
 * Memory is bounded and every call is constant time: buckets sit in a Map in
 * the order clients first appeared; a new client first drops buckets at the
 * front that have refilled, debt included (indistinguishable from new ones), and past
 * `maxClients` the oldest bucket goes even if in use (that client starts
 * over with a full burst: the cost of a bound under a many-address flood).
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly backend = 'memory';
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit = DEFAULT_RATE_LIMIT,
    private readonly now: () => number = () => performance.now(),
    private readonly maxClients: number = DEFAULT_MAX_TRACKED_CLIENTS,
  ) {}

  take(clientIp: string, cost = 1): RateVerdict {
    const now = this.now();
    let bucket = this.buckets.get(clientIp);
    if (!bucket) {
      this.evict(now);
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(clientIp, bucket);
    }
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.ratePerSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= cost;
      return ALLOWED;
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.ratePerSecond)) };
  }

  /** How many client IPs currently have a bucket. */
  get trackedClients(): number {
    return this.buckets.size;
  }

  /** Amortized O(1): each bucket is dropped at most once, from the front. */
  private evict(now: number): void {
    for (const [ip, bucket] of this.buckets) {
      const refilled = bucket.tokens + ((now - bucket.at) / 1000) * this.limit.ratePerSecond >= this.limit.burst;
      if (this.buckets.size < this.maxClients && !refilled) return;
      this.buckets.delete(ip);
    }
  }

  async ping(): Promise<void> {}
}

/** A byte budget kept in this process (`bottles serve`, the standby's tasks). */
export function memoryByteBudget(bytesPerHour: number = SERVE_DEFAULTS.byteBudgetPerHour): MemoryRateLimiter {
  return new MemoryRateLimiter(byteBudgetLimit(bytesPerHour));
}
