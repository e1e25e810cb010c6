import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RedisCircuitBreaker } from '../../engine/adapters/aws/redis-circuit-breaker';
import { DirectoryBlobStore } from '../../engine/adapters/local/directory-blob-store';
import { MemoryCircuitBreaker } from '../../engine/adapters/local/memory-circuit-breaker';
import { transferBlob } from '../../engine/sync/transfer';
import { Upstream } from '../../engine/upstream/client';
import { LocalRedis, startLocalRedis } from '../fixtures/redis';
import { startFixtureUpstream } from '../fixtures/upstream-server';

const policy = { failureThreshold: 3, windowMs: 10_000, cooldownMs: 300 };

describe('circuit breaker shared through Redis (real redis-server)', () => {
  let redis: LocalRedis;
  beforeAll(async () => {
    redis = await startLocalRedis();
  });
  afterAll(() => redis?.stop());

  test('failures seen by one worker open the circuit for every worker, until the cooldown passes', async () => {
    const workerA = new RedisCircuitBreaker(await redis.client(), policy, 'test1');
    const workerB = new RedisCircuitBreaker(await redis.client(), policy, 'test1');
    for (let i = 0; i < 2; i++) await workerA.recordFailure('ghcr.io');
    expect(await workerB.allowRequest('ghcr.io')).toBe(true);
    await workerA.recordFailure('ghcr.io');
    expect(await workerB.allowRequest('ghcr.io')).toBe(false);
    expect(await workerB.allowRequest('formulae.brew.sh')).toBe(true); // per host
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await workerB.allowRequest('ghcr.io')).toBe(true);
  });

  test('a success clears the failure count', async () => {
    const breaker = new RedisCircuitBreaker(await redis.client(), policy, 'test2');
    await breaker.recordFailure('ghcr.io');
    await breaker.recordFailure('ghcr.io');
    await breaker.recordSuccess('ghcr.io');
    await breaker.recordFailure('ghcr.io');
    expect(await breaker.allowRequest('ghcr.io')).toBe(true);
  });

  test('with the cache down the breaker fails open and never throws', async () => {
    const outage = await startLocalRedis();
    const breaker = new RedisCircuitBreaker(await outage.client(), policy, 'test3');
    await outage.stop();
    await expect(breaker.recordFailure('ghcr.io')).resolves.toBeUndefined();
    await expect(breaker.allowRequest('ghcr.io')).resolves.toBe(true);
  });
});

describe('transfers respect an open circuit', () => {
  test('while open, no request reaches upstream; the bottle fails transiently for a later run', async () => {
    const upstream = await startFixtureUpstream();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-breaker-'));
    try {
      const breaker = new MemoryCircuitBreaker({ failureThreshold: 2, windowMs: 60_000, cooldownMs: 60_000 });
      const bytes = randomBytes(100);
      const { sha256, url } = upstream.addBlob('wget', bytes, [{ status: 503 }, { status: 503 }, { status: 503 }]);
      const deps = { upstream: new Upstream(), store: new DirectoryBlobStore(root), breaker, sleep: async () => undefined, retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 } };
      const outcome = await transferBlob({ sha256, upstreamUrl: url, name: 'wget', tag: 'all' }, deps);
      expect(outcome).toMatchObject({ status: 'failed', permanent: false, reason: expect.stringMatching(/circuit open/) });
      expect(upstream.requests.filter((r) => r.origin === 'registry')).toHaveLength(2); // attempts 3 and 4 were never sent
    } finally {
      await upstream.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
