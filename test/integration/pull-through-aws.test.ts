import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'crypto';
import * as http from 'http';
import { RedisCircuitBreaker } from '../../engine/adapters/aws/redis-circuit-breaker';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { jsonLogger } from '../../engine/logger';
import { CACHE_KEY_PREFIXES } from '../../engine/runtime-config';
import { MirrorServer } from '../../engine/serve/server';
import { blobKey, manifestKey } from '../../engine/store-layout';
import { runSync } from '../../engine/sync/run-sync';
import { Upstream } from '../../engine/upstream/client';
import { awsStores } from '../../engine/wiring/aws';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { LocalRedis, startLocalRedis } from '../fixtures/redis';
import { startPeers } from '../fixtures/peers';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

/**
 * Issue #24 on the AWS adapters: a `--formulae wget` generation in S3 (s3rver)
 * and DynamoDB (dynalite), a mirror in redirect mode, as the stack runs it,
 * with the breaker in a real redis-server. The first request for a bottle
 * outside the subset streams through the task; later ones redirect to S3.
 */
const key = testSigningKey();
const python = randomBytes(3 * 1024 * 1024 + 5); // larger than the socket buffers, so a response can be held mid-body
const jq = randomBytes(20_000);
const FORMULAE: FixtureFormula[] = [
  { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(9_000) }] },
  { name: 'python@3.12', version: '3.12.8', bottles: [{ tag: 'arm64_sonoma', bytes: python }] },
  { name: 'jq', version: '1.7.1', bottles: [{ tag: 'arm64_sonoma', bytes: jq }] },
];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const quiet = jsonLogger({}, () => undefined);

let s3: LocalS3;
let dynamo: LocalDynamoDb;
let redis: LocalRedis;
let upstream: FixtureUpstream;
let server: MirrorServer;
let base: string;

const stores = () => awsStores(s3.client, s3.bucket, dynamo.client, 'prod-brew-state');
const sync = (formulae: string[]) =>
  runSync({ upstream: new Upstream(), ...stores(), log: quiet }, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, formulae, tags: ['arm64_sonoma'] });

beforeAll(async () => {
  [s3, dynamo, redis, upstream] = await startPeers([startLocalS3('pull'), startLocalDynamoDb(), startLocalRedis(), startFixtureUpstream()]);
  await dynamo.createStateTable('prod-brew-state');
  publishApi(upstream, FORMULAE, key.privateKey);
  expect((await sync(['wget'])).published).toBe(true);
  const { blobs, ...rest } = stores();
  server = new MirrorServer({
    ...rest,
    blobs,
    log: quiet,
    limiter: new MemoryRateLimiter({ ratePerSecond: 10_000, burst: 10_000 }),
    byteBudget: memoryByteBudget(),
    mode: 'redirect',
    presign: (digest, expiresIn, disposition) => blobs.presign(digest, expiresIn, disposition),
    pollMs: 60_000,
    pullThrough: {
      upstream: new Upstream(),
      registryUrl: new URL(upstream.registryRoot).origin,
      breaker: new RedisCircuitBreaker(await redis.client(), undefined, CACHE_KEY_PREFIXES.pullBreaker),
    },
  });
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
}, 60_000);

afterAll(async () => {
  // Whatever beforeAll got to (startPeers stops its peers itself when one fails to start).
  await server?.stop(0);
  await Promise.all([upstream?.close(), s3?.close(), dynamo?.close(), redis?.stop()]);
});

function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', () => undefined);
        res.on('close', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete }));
      })
      .on('error', () => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), complete: false }));
  });
}

const stored = (objectKey: string) =>
  s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: objectKey })).then(
    () => true,
    () => false,
  );
const fetchesOf = (digest: string) => upstream.requests.filter((r) => r.path.includes(digest));
const pythonPath = '/bottles/python%403.12-3.12.8.arm64_sonoma.bottle.tar.gz';

describe('pull-through on S3 and DynamoDB (issue #24)', () => {
  test('a corrupt body is never kept; twenty first requests make one fetch; later requests redirect to S3', async () => {
    const digest = sha(python);
    upstream.injectFaults(digest, ['corrupt']);
    const corrupt = await get(`${base}${pythonPath}`);
    expect(corrupt.complete && corrupt.status === 200).toBe(false);
    expect(await stored(blobKey(digest))).toBe(false); // the multipart upload was aborted

    let release!: () => void;
    upstream.injectFaults(digest, [{ hold: new Promise<void>((resolve) => (release = resolve)) }]);
    const before = fetchesOf(digest).length;
    const first = Array.from({ length: 20 }, () => get(`${base}${pythonPath}`));
    const until = Date.now() + 10_000;
    while (JSON.parse((await get(`${base}/status`)).body.toString()).pullThrough.shared < 19 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    release();
    const answers = await Promise.all(first);
    expect(fetchesOf(digest).length - before).toBe(2); // the registry's redirect and the CDN's body: one fetch
    // One streamed through the task; the nineteen that waited are redirected to the blob now in S3.
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array(19).fill(302)]);
    const streamed = answers.find((a) => a.status === 200)!;
    expect([streamed.complete, sha(streamed.body)]).toEqual([true, digest]);
    expect(await stored(blobKey(digest))).toBe(true);

    const later = await get(`${base}${pythonPath}`);
    expect(later.status).toBe(302);
    const fromS3 = await get(later.headers.location!);
    expect([fromS3.status, sha(fromS3.body)]).toEqual([200, digest]);
  });

  test('an image index is pulled, checked and kept; a name outside the signed API asks upstream nothing', async () => {
    const index = await get(`${base}/v2/homebrew/core/jq/manifests/1.7.1`);
    expect(index.status).toBe(200);
    expect(await stored(manifestKey('jq', '1.7.1'))).toBe(true);
    const before = upstream.requests.length;
    for (const p of ['/bottles/curl-8.0.0.arm64_sonoma.bottle.tar.gz', `/v2/homebrew/core/jq/blobs/sha256:${randomBytes(32).toString('hex')}`, '/v2/homebrew/core/curl/manifests/8.0.0']) {
      expect([p, (await get(`${base}${p}`)).status]).toEqual([p, 404]);
    }
    expect(upstream.requests.length).toBe(before);
  });

  test('the next sync finds a pulled bottle present: a wider subset copies nothing', async () => {
    expect((await get(`${base}/v2/homebrew/core/jq/blobs/sha256:${sha(jq)}`)).status).toBe(200);
    const fetched = fetchesOf(sha(jq)).length;
    const summary = await sync(['wget', 'jq', 'python@3.12']);
    expect(summary.published).toBe(true);
    expect(summary.bottles.transferred).toBe(0);
    expect(fetchesOf(sha(jq))).toHaveLength(fetched);
  });
});
