import { ServerMetrics } from '../../engine/serve/metrics';
import { MemoryRateLimiter } from '../../engine/adapters/local/memory-rate-limiter';
import { byteBudgetLimit } from '../../engine/ports';
import { formatByteSize, parseByteSize } from '../../engine/byte-size';

describe('ServerMetrics (Prometheus text)', () => {
  test('requests by route and status, cumulative latency buckets, bytes and hit ratio', () => {
    const m = new ServerMetrics();
    m.observe('bottle', 200, 0.0005, 100);
    m.observe('bottle', 200, 0.003, 50);
    m.observe('bottle', 404, 0.2, 0);
    m.observe('api', 304, 30, 0); // slower than the last bucket
    m.lookup(true);
    m.lookup(true);
    m.lookup(false);
    const text = m.render(42);
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}+."=,]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('mirror_requests_total{route="bottle",status="200"}')).toBe(2);
    expect(value('mirror_requests_total{route="bottle",status="404"}')).toBe(1);
    expect(value('mirror_request_duration_seconds_bucket{route="bottle",le="0.001"}')).toBe(1);
    expect(value('mirror_request_duration_seconds_bucket{route="bottle",le="0.005"}')).toBe(2);
    expect(value('mirror_request_duration_seconds_bucket{route="bottle",le="0.1"}')).toBe(2);
    expect(value('mirror_request_duration_seconds_bucket{route="bottle",le="0.25"}')).toBe(3);
    expect(value('mirror_request_duration_seconds_bucket{route="bottle",le="+Inf"}')).toBe(3);
    expect(value('mirror_request_duration_seconds_count{route="bottle"}')).toBe(3);
    expect(value('mirror_request_duration_seconds_bucket{route="api",le="10"}')).toBe(0);
    expect(value('mirror_request_duration_seconds_bucket{route="api",le="+Inf"}')).toBe(1);
    expect(value('mirror_request_duration_seconds_sum{route="api"}')).toBe(30);
    expect(value('mirror_bytes_served_total')).toBe(150);
    expect(value('mirror_lookup_hit_ratio')).toBeCloseTo(2 / 3);
    expect(value('mirror_generation_age_seconds')).toBe(42);
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('MemoryRateLimiter', () => {
  test('token bucket per IP with Retry-After; refilled buckets of idle clients are dropped', () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ ratePerSecond: 1, burst: 2 }, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')].map((v) => v.allowed)).toEqual([true, true, false]);
    expect(limiter.take('a').retryAfterSeconds).toBe(1);
    expect(limiter.take('b').allowed).toBe(true);
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.trackedClients).toBe(10_002);
    now += 3_000; // everyone has refilled
    limiter.take('c');
    expect(limiter.trackedClients).toBe(1);
    expect(limiter.take('a').allowed).toBe(true); // a dropped bucket starts full again
  });

  test('memory is bounded: past the cap the oldest bucket goes, and each new client touches O(1) buckets', () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ ratePerSecond: 1, burst: 2 }, () => now, 1_000);
    limiter.take('hammering');
    limiter.take('hammering');
    // 200 times the cap of distinct addresses, all active (nothing has refilled).
    for (let i = 0; i < 200_000; i++) limiter.take(`addr-${i}`);
    expect(limiter.trackedClients).toBe(1_000);
    // Eviction works from the front in arrival order: the newest clients are kept.
    now += 100;
    // Its bucket was kept: one token left of its burst of two, then refused (a fresh bucket would allow both).
    expect([limiter.take('addr-199999').allowed, limiter.take('addr-199999').allowed]).toEqual([true, false]);
  });

  test('a byte budget: a cost above what is left runs into debt, which must refill before the next admission, and keeps the bucket', () => {
    let now = 0;
    const budget = new MemoryRateLimiter(byteBudgetLimit(3600), () => now); // 3600 bytes an hour: one byte a second
    expect(budget.take('a', 3000).allowed).toBe(true);
    expect(budget.take('a', 5000).allowed).toBe(true); // 600 left: admitted, 4400 in debt
    expect(budget.take('a', 1)).toEqual({ allowed: false, retryAfterSeconds: 4401 });
    // Refilled past full for everyone else, not for the indebted client: its bucket is kept, and still refuses.
    now += 4000 * 1000;
    budget.take('b', 1);
    expect(budget.trackedClients).toBe(2);
    expect(budget.take('a', 1)).toEqual({ allowed: false, retryAfterSeconds: 401 });
    now += 401 * 1000;
    expect(budget.take('a', 1).allowed).toBe(true);
  });

  test('a new client looks at O(1) buckets, not all of them', () => {
    let reads = 0;
    const clock = () => (reads++, 0);
    const limiter = new MemoryRateLimiter({ ratePerSecond: 1, burst: 2 }, clock, 50_000);
    for (let i = 0; i < 20_000; i++) limiter.take(`addr-${i}`);
    // Iterations of the eviction loop are observable through Map iteration; count them with a spy on the Map.
    const buckets = (limiter as unknown as { buckets: Map<string, unknown> }).buckets;
    let visited = 0;
    const original = buckets[Symbol.iterator].bind(buckets);
    buckets[Symbol.iterator] = function* () {
      for (const entry of original()) {
        visited++;
        yield entry;
      }
    } as typeof buckets[typeof Symbol.iterator];
    for (let i = 0; i < 1_000; i++) limiter.take(`new-${i}`);
    expect(visited).toBeLessThanOrEqual(1_000); // one look at the front per new client, not 20,000
    expect(reads).toBeGreaterThan(0);
  });
});


describe('sizes as people write them', () => {
  test('binary suffixes with or without iB, decimals, plain bytes; zero, negatives and words are not sizes', () => {
    expect(['600', '512M', '20G', '20GiB', '4g', '1.5T', '2 KB'].map(parseByteSize)).toEqual([600, 512 * 1024 ** 2, 20 * 1024 ** 3, 20 * 1024 ** 3, 4 * 1024 ** 3, 1.5 * 1024 ** 4, 2048]);
    expect(['0', '-1G', 'lots', '20 gigs', '1e9', '', '0.1'].map(parseByteSize)).toEqual(Array(7).fill(undefined));
    expect([20 * 1024 ** 3, 1536, 10].map(formatByteSize)).toEqual(['20 GiB', '1.5 KiB', '10 B']);
  });
});

describe('/status failure reasons', () => {
  test('keep the reason, drop the internals: URL paths and queries, local file paths', () => {
    const { publicReason } = require('../../engine/serve/public-reason') as typeof import('../../engine/serve/public-reason');
    expect(publicReason('cannot fetch formula.jws.json: GET https://formulae.brew.sh/api/formula.jws.json: HTTP 503')).toBe(
      'cannot fetch formula.jws.json: GET https://formulae.brew.sh/…: HTTP 503',
    );
    expect(publicReason("unexpected error: ENOSPC: no space left on device, open '/var/lib/mirror/blobs/sha256/.partial-1'")).toBe(
      "unexpected error: ENOSPC: no space left on device, open '(local path)'",
    );
    expect(publicReason('GET https://cdn.example/blob?sig=SECRET: HTTP 403')).not.toContain('SECRET');
    expect(publicReason('x'.repeat(1000))).toHaveLength(300);
  });
});
