import type { Redis } from 'ioredis';
import { DEFAULT_RATE_LIMIT, RateLimit, RateLimiter, RateVerdict } from '../../ports';
import { CACHE_KEY_PREFIXES } from '../../runtime-config';

// Token bucket per key, refilled and taken in one atomic step on the server, so every task shares it.
// The key lives until the bucket has refilled, debt included: expiring sooner would forgive the debt.
const TAKE = `
local rate, burst, now, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
`;

/**
 * Per-IP limits shared by every mirror task through Redis/Valkey. When the
 * cache is unreachable the limiter lets requests through (serving beats
 * limiting) and `ping` fails, so `/health/detailed` reports the cache as degraded.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly backend = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly limit: RateLimit = DEFAULT_RATE_LIMIT,
    private readonly prefix: string = CACHE_KEY_PREFIXES.rateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  async take(clientIp: string, cost = 1): Promise<RateVerdict> {
    try {
      const [allowed, tokens] = (await this.redis.eval(TAKE, 1, `${this.prefix}${clientIp}`, this.limit.ratePerSecond, this.limit.burst, this.now(), cost)) as [number, string];
      if (allowed === 1) return { allowed: true, retryAfterSeconds: 0 };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - Number(tokens)) / this.limit.ratePerSecond)) };
    } catch {
      return { allowed: true, retryAfterSeconds: 0 };
    }
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
