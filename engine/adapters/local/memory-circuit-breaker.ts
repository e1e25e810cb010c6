import { BreakerPolicy, CircuitBreaker, DEFAULT_BREAKER } from '../../ports';

/** In-process circuit breaker for `bottles sync` (one process, so nothing to share). */
export class MemoryCircuitBreaker implements CircuitBreaker {
  private readonly failures = new Map<string, number[]>();
  private readonly openUntil = new Map<string, number>();

  constructor(
    private readonly policy: BreakerPolicy = DEFAULT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {}

  async allowRequest(host: string): Promise<boolean> {
    return (this.openUntil.get(host) ?? 0) <= this.now();
  }

  async recordSuccess(host: string): Promise<void> {
    this.failures.delete(host);
  }

  async recordFailure(host: string): Promise<void> {
    const now = this.now();
    const recent = (this.failures.get(host) ?? []).filter((t) => t > now - this.policy.windowMs);
    recent.push(now);
    this.failures.set(host, recent);
    if (recent.length >= this.policy.failureThreshold) {
      this.openUntil.set(host, now + this.policy.cooldownMs);
      this.failures.delete(host);
    }
  }
}
