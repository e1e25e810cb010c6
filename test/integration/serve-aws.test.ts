import { createHash, randomBytes } from 'crypto';
import * as http from 'http';
import { awsStores } from '../../engine/wiring/aws';
import { jsonLogger } from '../../engine/logger';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { RateLimiter, byteBudgetLimit } from '../../engine/ports';
import { CACHE_KEY_PREFIXES } from '../../engine/runtime-config';
import { RedisRateLimiter } from '../../engine/adapters/aws/redis-rate-limiter';
import { MirrorServer } from '../../engine/serve/server';
import { runSync } from '../../engine/sync/run-sync';
import { Upstream } from '../../engine/upstream/client';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { LocalRedis, startLocalRedis } from '../fixtures/redis';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { startFixtureUpstream } from '../fixtures/upstream-server';

// The AWS adapters of the mirror service against real local peers: s3rver, dynalite, redis-server.
let s3: LocalS3;
let dynamo: LocalDynamoDb;
const bottle = randomBytes(80_000);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const key = testSigningKey();

beforeAll(async () => {
  s3 = await startLocalS3('mirror');
  dynamo = await startLocalDynamoDb();
  await dynamo.createStateTable('prod-brew-state');
  const upstream = await startFixtureUpstream();
  publishApi(upstream, [{ name: 'python@3.12', version: '3.12.3', bottles: [{ tag: 'arm64_sonoma', bytes: bottle }] }], key.privateKey);
  const summary = await runSync(
    {
      upstream: new Upstream(),
      ...awsStores(s3.client, s3.bucket, dynamo.client, 'prod-brew-state'),
      log: jsonLogger({}, () => undefined),
    },
    { apiUrl: upstream.apiRoot, publicKey: key.publicKey },
  );
  expect(summary.published).toBe(true);
  await upstream.close();
});
afterAll(async () => {
  await s3.close();
  await dynamo.close();
});

const presignCalls: { sha256: string; expiresIn: number; disposition?: string }[] = [];

async function mirror(mode: 'proxy' | 'redirect', limiter: RateLimiter = new MemoryRateLimiter(), presignExpirySeconds = 60, byteBudget: RateLimiter = memoryByteBudget()) {
  const { blobs, ...stores } = awsStores(s3.client, s3.bucket, dynamo.client, 'prod-brew-state');
  const server = new MirrorServer({
    ...stores,
    blobs,
    log: jsonLogger({}, () => undefined),
    limiter,
    byteBudget,
    mode,
    presign: (sha256, expiresIn, disposition) => {
      presignCalls.push({ sha256, expiresIn, ...(disposition ? { disposition } : {}) });
      return blobs.presign(sha256, expiresIn, disposition);
    },
    presignExpirySeconds,
    trustProxy: true,
  });
  const port = await server.listen(0, '127.0.0.1');
  return { server, url: (p: string) => `http://127.0.0.1:${port}${p}` };
}

function fetchRaw(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

const BOTTLE_PATH = '/bottles/python%403.12-3.12.3.arm64_sonoma.bottle.tar.gz';

describe('mirror service on S3 and DynamoDB', () => {
  test('redirect mode: 302 to a short-lived presigned S3 URL that really downloads the bottle', async () => {
    const { server, url } = await mirror('redirect');
    try {
      const res = await fetchRaw(url(BOTTLE_PATH));
      expect(res.status).toBe(302);
      const location = new URL(res.headers.location!);
      expect(location.pathname).toMatch(/\/mirror\/blobs\/sha256\/[0-9a-f]{64}$/);
      expect(location.searchParams.get('X-Amz-Expires')).toBe('60');
      const download = await fetchRaw(location.toString());
      expect(download.status).toBe(200);
      expect(download.body.equals(bottle)).toBe(true);
      // SigV4 query authentication (s3rver does not enforce signatures, so only the shape is checked here).
      expect(location.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      expect(location.searchParams.get('X-Amz-Credential')).toMatch(/^S3RVER\/\d{8}\/us-east-1\/s3\/aws4_request$/);
      expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(res.headers['cache-control']).toBe('no-store');
    } finally {
      await server.stop();
    }
  });

  test('redirect mode signs once per blob for the first fifth of the URL’s life, then signs afresh', async () => {
    const { server, url } = await mirror('redirect', new MemoryRateLimiter(), 1);
    presignCalls.length = 0;
    try {
      const first = await fetchRaw(url(BOTTLE_PATH));
      const again = await fetchRaw(url(BOTTLE_PATH));
      expect(again.headers.location).toBe(first.headers.location);
      expect(presignCalls).toEqual([{ sha256: sha(bottle), expiresIn: 1, disposition: 'attachment; filename="python@3.12-3.12.3.arm64_sonoma.bottle.tar.gz"' }]);
      await new Promise((resolve) => setTimeout(resolve, 250)); // past 1 s / 5
      const later = await fetchRaw(url(BOTTLE_PATH));
      expect(later.status).toBe(302);
      expect(presignCalls).toHaveLength(2);
      expect(new URL(later.headers.location!).searchParams.get('X-Amz-Expires')).toBe('1');
    } finally {
      await server.stop();
    }
  });

  test('redirect mode: HEAD is answered by the mirror (a presigned GET refuses HEAD); the URL carries the disposition', async () => {
    const { server, url } = await mirror('redirect');
    try {
      const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.request(url(BOTTLE_PATH), { method: 'HEAD', agent: false }, resolve).on('error', reject).end();
      });
      expect(head.statusCode).toBe(200);
      expect(head.headers['content-length']).toBe(String(bottle.length));
      expect(head.headers.etag).toBe(`"${sha(bottle)}"`);
      expect(head.headers['content-disposition']).toBe('attachment; filename="python@3.12-3.12.3.arm64_sonoma.bottle.tar.gz"');
      const res = await fetchRaw(url(BOTTLE_PATH));
      const location = new URL(res.headers.location!);
      expect(location.searchParams.get('response-content-disposition')).toBe('attachment; filename="python@3.12-3.12.3.arm64_sonoma.bottle.tar.gz"');
      // The registry route names no file.
      const blob = await fetchRaw(url(`/v2/homebrew/core/python/3.12/blobs/sha256:${sha(bottle)}`));
      expect(new URL(blob.headers.location!).searchParams.has('response-content-disposition')).toBe(false);
    } finally {
      await server.stop();
    }
  });

  test('proxy mode streams from S3, with ranges', async () => {
    const { server, url } = await mirror('proxy');
    try {
      expect((await fetchRaw(url(BOTTLE_PATH))).body.equals(bottle)).toBe(true);
      const part = await fetchRaw(url(BOTTLE_PATH), { range: 'bytes=1000-1999' });
      expect(part.status).toBe(206);
      expect(part.body.equals(bottle.subarray(1000, 2000))).toBe(true);
      expect((await fetchRaw(url('/bottles/python/3.12/manifests/3.12.3'))).headers['content-type']).toBe('application/vnd.oci.image.index.v1+json');
    } finally {
      await server.stop();
    }
  });
});

describe('rate limits shared through Redis (real redis-server)', () => {
  let redis: LocalRedis;
  beforeAll(async () => {
    redis = await startLocalRedis();
  });
  afterAll(() => redis?.stop());

  test('two tasks share one per-IP budget; the address the ALB appended to X-Forwarded-For decides the client', async () => {
    const limit = { ratePerSecond: 0.2, burst: 3 };
    const a = await mirror('proxy', new RedisRateLimiter(await redis.client(), limit, 'rl1'));
    const b = await mirror('proxy', new RedisRateLimiter(await redis.client(), limit, 'rl1'));
    try {
      // The client forges a different first entry every time; the ALB's own entry comes last.
      const statuses = [];
      for (const [i, target] of [a, b, a, b].entries()) {
        statuses.push((await fetchRaw(target.url('/api/cask.jws.json'), { 'x-forwarded-for': `192.0.2.${i}, 203.0.113.7` })).status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect((await fetchRaw(b.url('/api/cask.jws.json'), { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    } finally {
      await a.server.stop();
      await b.server.stop();
    }
  });

  test('one byte budget per client across tasks, charged in redirect mode (the blob\'s size) and proxy mode alike (issue #25)', async () => {
    // 2.5 bottles per hour: the third handout runs into debt, the fourth waits for it to refill.
    const bytesPerHour = 2.5 * bottle.length;
    const budget = async () => new RedisRateLimiter(await redis.client(), byteBudgetLimit(bytesPerHour), `${CACHE_KEY_PREFIXES.byteBudget}t1:`);
    const redirecting = await mirror('redirect', new MemoryRateLimiter(), 60, await budget());
    const proxying = await mirror('proxy', new MemoryRateLimiter(), 60, await budget());
    const client = { 'x-forwarded-for': '203.0.113.9' };
    try {
      expect((await fetchRaw(redirecting.url(BOTTLE_PATH), client)).status).toBe(302);
      expect((await fetchRaw(proxying.url(BOTTLE_PATH), client)).body.equals(bottle)).toBe(true);
      expect((await fetchRaw(redirecting.url(`/v2/homebrew/core/python/3.12/blobs/sha256:${sha(bottle)}`), client)).status).toBe(302);
      const refused = await fetchRaw(proxying.url(BOTTLE_PATH), client);
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body.toString())).toMatchObject({ error: 'byte_budget_spent' });
      // Half a bottle of debt, plus the one byte that admits: at 2.5 bottles an hour, about 720 s.
      const wait = Number(refused.headers['retry-after']);
      expect(wait).toBeGreaterThanOrEqual(Math.floor(((0.5 * bottle.length) / bytesPerHour) * 3600) - 1);
      expect(wait).toBeLessThanOrEqual(Math.ceil(((0.5 * bottle.length + 1) / bytesPerHour) * 3600));
      expect((await fetchRaw(redirecting.url(BOTTLE_PATH), client)).status).toBe(429);
      // HEAD is free, and another address has its own budget.
      const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.request(redirecting.url(BOTTLE_PATH), { method: 'HEAD', agent: false, headers: client }, resolve).on('error', reject).end();
      });
      expect(head.statusCode).toBe(200);
      expect((await fetchRaw(redirecting.url(BOTTLE_PATH), { 'x-forwarded-for': '198.51.100.4' })).status).toBe(302);
      // The debt is in Redis, under the prefix the cache user may touch, and lives until it has refilled.
      const redisClient = await redis.client();
      const key = `${CACHE_KEY_PREFIXES.byteBudget}t1:203.0.113.9`;
      expect(Number(await redisClient.hget(key, 'tokens'))).toBeLessThan(0);
      expect(await redisClient.pttl(key)).toBeGreaterThan(3600 * 1000);
      expect(key.startsWith(CACHE_KEY_PREFIXES.rateLimit)).toBe(true);
    } finally {
      await redirecting.server.stop();
      await proxying.server.stop();
    }
  });

  test('with Redis down the mirror keeps serving and reports the cache as degraded', async () => {
    const outage = await startLocalRedis();
    const { server, url } = await mirror('proxy', new RedisRateLimiter(await outage.client(), { ratePerSecond: 1, burst: 1 }, 'rl2'));
    try {
      await outage.stop();
      for (let i = 0; i < 3; i++) expect((await fetchRaw(url('/api/formula.jws.json'))).status).toBe(200);
      const health = await fetchRaw(url('/health/detailed'));
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body.toString())).toMatchObject({ status: 'degraded', checks: { store: { ok: true }, state: { ok: true }, cache: { ok: false, backend: 'redis' } } });
      expect((await fetchRaw(url('/health'))).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
