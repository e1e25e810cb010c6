import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DirectoryBlobStore } from '../../engine/adapters/local/directory-blob-store';
import { BlobIntegrityError, PublishedGeneration } from '../../engine/ports';
import { isOlder } from '../../engine/transfer/bundle-format';
import { DEFAULT_RETRY, backoffDelay, transferBlob } from '../../engine/sync/transfer';
import { Upstream, parseRetryAfter } from '../../engine/upstream/client';
import { Fault, FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

let upstream: FixtureUpstream;
let root: string;
let store: DirectoryBlobStore;
let sleeps: number[];

beforeAll(async () => {
  upstream = await startFixtureUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-store-'));
  store = new DirectoryBlobStore(root);
  sleeps = [];
  upstream.requests.length = 0;
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const blobDir = () => path.join(root, 'blobs', 'sha256');
const deps = () => ({ upstream: new Upstream(), store, sleep: async (ms: number) => void sleeps.push(ms), random: () => 0.5 });
const item = (image: string, bytes: Buffer, faults: Fault[] = []) => {
  const { sha256, url } = upstream.addBlob(image, bytes, faults);
  return { sha256, size: bytes.length, upstreamUrl: url, name: image, tag: 'arm64_sonoma' };
};

describe('streamed, verified transfer', () => {
  test('a bottle lands under blobs/sha256/<hex>, fetched with Bearer QQ== and redirected without it', async () => {
    const bytes = randomBytes(300_000);
    const wanted = item('openssl/3', bytes);
    await expect(transferBlob(wanted, deps())).resolves.toEqual({ status: 'transferred', bytes: bytes.length, attempts: 1 });
    expect(fs.readFileSync(path.join(blobDir(), wanted.sha256)).equals(bytes)).toBe(true);
    expect(upstream.requests.map((r) => [r.origin, r.authorization])).toEqual([
      ['registry', 'Bearer QQ=='],
      ['cdn', undefined], // the token never leaves the registry origin
    ]);
  });

  test('a blob already stored is not fetched again', async () => {
    const wanted = item('wget', randomBytes(1000));
    await transferBlob(wanted, deps());
    upstream.requests.length = 0;
    await expect(transferBlob(wanted, deps())).resolves.toEqual({ status: 'present' });
    expect(upstream.requests).toEqual([]);
  });

  test('a 500 that later succeeds is retried with backoff', async () => {
    const wanted = item('gtkx3', randomBytes(5000), [{ status: 500 }, { status: 502 }]);
    await expect(transferBlob(wanted, deps())).resolves.toMatchObject({ status: 'transferred', attempts: 3 });
    expect(sleeps).toEqual([250, 500]); // full jitter at random()=0.5 of 500 ms, then of 1000 ms
  });

  test('a 429 honours Retry-After', async () => {
    const wanted = item('cowsay', randomBytes(5000), [{ status: 429, retryAfter: '7' }]);
    await expect(transferBlob(wanted, deps())).resolves.toMatchObject({ status: 'transferred', attempts: 2 });
    expect(sleeps).toEqual([7000]);
  });

  test('a truncated body is retried and never leaves a partial blob', async () => {
    const bytes = randomBytes(200_000);
    const wanted = item('python/3.12', bytes, ['truncate']);
    await expect(transferBlob(wanted, deps())).resolves.toMatchObject({ status: 'transferred', attempts: 2 });
    expect(fs.readdirSync(blobDir())).toEqual([wanted.sha256]);
  });

  test('bytes are reported as they arrive; an attempt that fails gives its bytes back', async () => {
    const bytes = randomBytes(4 * 1024 * 1024);
    const wanted = item('progress', bytes, ['corrupt']); // a whole body that fails its digest, then the right one
    const reports: number[] = [];
    const outcome = await transferBlob(wanted, { ...deps(), onBytes: (n) => reports.push(n) });
    expect(outcome).toMatchObject({ status: 'transferred', attempts: 2 });
    expect(reports.filter((n) => n > 0).length).toBeGreaterThan(4); // chunk by chunk, not once per bottle
    expect(reports.filter((n) => n < 0)).toEqual([-bytes.length]); // the corrupt attempt's bytes, given back
    expect(reports.reduce((a, b) => a + b, 0)).toBe(bytes.length);
  });

  test('a digest mismatch that persists is a permanent failure and the blob is never visible', async () => {
    const corrupt: Fault[] = Array.from({ length: DEFAULT_RETRY.maxAttempts }, () => 'corrupt');
    const wanted = item('libsigcxx/2', randomBytes(4000), corrupt);
    const outcome = await transferBlob(wanted, deps());
    expect(outcome).toMatchObject({ status: 'failed', permanent: true, attempts: DEFAULT_RETRY.maxAttempts });
    expect(outcome.status === 'failed' && outcome.reason).toMatch(/body hashes to/);
    expect(await store.has(wanted.sha256)).toBe(false);
    expect(fs.readdirSync(blobDir())).toEqual([]);
  });

  test('an upstream 404 is permanent at once', async () => {
    const missing = { sha256: 'f'.repeat(64), upstreamUrl: `${upstream.registryRoot}/gone/blobs/sha256:${'f'.repeat(64)}`, name: 'gone', tag: 'all' };
    await expect(transferBlob(missing, deps())).resolves.toMatchObject({ status: 'failed', permanent: true, attempts: 1 });
    expect(sleeps).toEqual([]);
  });

  test('an upstream that keeps failing gives up after the retry budget, as a transient failure', async () => {
    const wanted = item('ca-certificates', randomBytes(100), Array.from({ length: 10 }, () => ({ status: 503 })));
    const outcome = await transferBlob(wanted, deps());
    expect(outcome).toMatchObject({ status: 'failed', permanent: false, attempts: 5 });
    expect(sleeps).toHaveLength(4);
  });

  test('the store itself refuses a body that does not match, whatever the caller', async () => {
    const body = (async function* () {
      yield Buffer.from('not the bottle');
    })();
    await expect(store.put(body, { sha256: 'a'.repeat(64) })).rejects.toThrow(BlobIntegrityError);
    await expect(store.put((async function* () { yield Buffer.from('x'); })(), { sha256: 'a'.repeat(64), length: 2 })).rejects.toThrow(/got 1 bytes, expected 2/);
    // A small blob with its length given is checked in memory before it is written: the same refusals.
    const bytes = Buffer.from('a small bottle');
    const sha = createHash('sha256').update(bytes).digest('hex');
    const chunks = (...parts: Buffer[]) => (async function* () { yield* parts; })();
    await expect(store.put(chunks(bytes), { sha256: 'b'.repeat(64), length: bytes.length })).rejects.toThrow(/body hashes to/);
    await expect(store.put(chunks(bytes, Buffer.from('!')), { sha256: sha, length: bytes.length })).rejects.toThrow(/got 15 bytes, expected 14/);
    expect(fs.readdirSync(blobDir())).toEqual([]);
    await expect(store.put(chunks(bytes.subarray(0, 5), bytes.subarray(5)), { sha256: sha, length: bytes.length })).resolves.toEqual({ bytes: bytes.length });
    expect(fs.readdirSync(blobDir())).toEqual([sha]);
    expect(fs.readFileSync(path.join(blobDir(), sha))).toEqual(bytes);
  });
});

describe('retry timing', () => {
  test('exponential backoff with full jitter, capped; Retry-After wins but is capped too', () => {
    const policy = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy, () => 0.999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(1, policy, () => 0.5, 5000)).toBe(1000);
  });

  test('Retry-After as seconds or HTTP date', () => {
    const now = Date.parse('2026-11-22T03:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 03:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('which generation is older (bundle import)', () => {
  const generation = (id: string, publishedAt: string) => ({ generation: id, runId: id, publishedAt, files: [] }) as unknown as PublishedGeneration;

  test('two runs started in the same second are ordered by when they published, not by their random suffix', () => {
    const first = generation('20261208T000946Z-569c89', '2026-12-08T00:09:46.120Z');
    const second = generation('20261208T000946Z-16124c', '2026-12-08T00:09:46.870Z');
    expect(isOlder(first, second)).toBe(true);
    expect(isOlder(second, first)).toBe(false);
    expect(isOlder(first, generation('20261208T000946Z-ffffff', '2026-12-08T00:09:46.120Z'))).toBe(true);
  });
});
