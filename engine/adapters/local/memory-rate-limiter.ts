import { performance } from 'perf_hooks';
import { DEFAULT_RATE_LIMIT, RateLimit, RateLimiter, RateVerdict } from '../../ports';

const ALLOWED: RateVerdict = Object.freeze({ allowed: true, retryAfterSeconds: 0 });

/**
 * Token bucket per IP, in process memory. Time comes from the monotonic
 * clock: a wall-clock step backwards (NTP) must not drain every bucket.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly backend = 'memory';
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private static readonly SWEEP_AT = 10_000;

  constructor(
    private readonly limit: RateLimit = DEFAULT_RATE_LIMIT,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(clientIp: string): RateVerdict {
    const now = this.now();
    let bucket = this.buckets.get(clientIp);
    if (!bucket) {
      if (this.buckets.size >= MemoryRateLimiter.SWEEP_AT) this.sweep(now);
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(clientIp, bucket);
    }
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.ratePerSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return ALLOWED;
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.ratePerSecond)) };
  }

  /** How many client IPs currently have a bucket. */
  get trackedClients(): number {
    return this.buckets.size;
  }

  /** Buckets idle long enough to have refilled are indistinguishable from new ones; dropping them bounds memory. */
  private sweep(now: number): void {
    const refillMs = (this.limit.burst / this.limit.ratePerSecond) * 1000;
    for (const [ip, bucket] of this.buckets) if (now - bucket.at >= refillMs) this.buckets.delete(ip);
  }

  async ping(): Promise<void> {}
}
