import type { Redis } from 'ioredis';
import { BreakerPolicy, CircuitBreaker, DEFAULT_BREAKER } from '../../ports';
import { CACHE_KEY_PREFIXES } from '../../runtime-config';

/**
 * Circuit breaker state in Redis/Valkey, shared by every worker Lambda and
 * the Fargate task: `breaker:<host>:failures` counts failures in a window
 * (INCR + PEXPIRE), `breaker:<host>:open` exists while the circuit is open.
 * If the cache is unreachable the breaker fails open (allows requests): the
 * transfer's own retries and backoff still apply.
 */
export class RedisCircuitBreaker implements CircuitBreaker {
  constructor(
    private readonly redis: Redis,
    private readonly policy: BreakerPolicy = DEFAULT_BREAKER,
    private readonly prefix: string = CACHE_KEY_PREFIXES.breaker,
  ) {}

  private key(host: string, part: 'failures' | 'open'): string {
    return `${this.prefix}${host}:${part}`;
  }

  async allowRequest(host: string): Promise<boolean> {
    try {
      return (await this.redis.exists(this.key(host, 'open'))) === 0;
    } catch {
      return true;
    }
  }

  async recordSuccess(host: string): Promise<void> {
    await this.redis.del(this.key(host, 'failures')).catch(() => undefined);
  }

  async recordFailure(host: string): Promise<void> {
    try {
      const failures = this.key(host, 'failures');
      const [[, count]] = (await this.redis.multi().incr(failures).pexpire(failures, this.policy.windowMs, 'NX').exec()) as [[Error | null, number]];
      if (count >= this.policy.failureThreshold) {
        await this.redis.multi().set(this.key(host, 'open'), '1', 'PX', this.policy.cooldownMs).del(failures).exec();
      }
    } catch {
      // Cache down: breaker state is advisory; retries and backoff still protect upstream.
    }
  }
}
