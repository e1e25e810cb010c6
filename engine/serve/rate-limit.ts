/** Per-client-IP request limits. In AWS the buckets live in Redis so every task shares them; locally, in memory. */
export interface RateLimiter {
  take(clientIp: string): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
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

/** Token bucket per IP, in process memory. */
export class MemoryRateLimiter implements RateLimiter {
  readonly backend = 'memory';
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit = DEFAULT_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  async take(clientIp: string): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const now = this.now();
    const bucket = this.buckets.get(clientIp) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.ratePerSecond);
    bucket.at = now;
    this.buckets.set(clientIp, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.ratePerSecond)) };
  }

  async ping(): Promise<void> {}
}
