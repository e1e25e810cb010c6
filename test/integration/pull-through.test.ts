import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { MemoryCircuitBreaker } from '../../engine/adapters/local/memory-circuit-breaker';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { imageName, manifestTag } from '../../engine/homebrew/bottle-names';
import { jsonLogger } from '../../engine/logger';
import { byteBudgetLimit } from '../../engine/ports';
import { PullThroughOptions } from '../../engine/serve/pull-through';
import { MirrorServer } from '../../engine/serve/server';
import { namedBottlesKey } from '../../engine/store-layout';
import { runSync } from '../../engine/sync/run-sync';
import { Upstream } from '../../engine/upstream/client';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

/**
 * Issue #24: a `--formulae wget` mirror with pull-through serves what the
 * signed API names beyond its subset, fetching each bottle once, checking it
 * against the signed digest, and keeping it; it never fetches anything else.
 */
const key = testSigningKey();
const bytes = {
  wget: randomBytes(10_000),
  openssl: randomBytes(30_000),
  // Larger than one socket buffer, so a response can be held mid-body.
  python: randomBytes(2 * 1024 * 1024 + 17),
  jq: randomBytes(5_000),
  node: randomBytes(40_000),
};
const FORMULAE: FixtureFormula[] = [
  { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: bytes.openssl }] },
  { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: bytes.wget }], dependencies: ['openssl@3'] },
  { name: 'python@3.12', version: '3.12.8', bottles: [{ tag: 'arm64_sonoma', bytes: bytes.python }] },
  { name: 'jq', version: '1.7.1', bottles: [{ tag: 'arm64_sonoma', bytes: bytes.jq }] },
  { name: 'node', version: '23.1.0', bottles: [{ tag: 'arm64_sonoma', bytes: bytes.node }] },
];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let upstream: FixtureUpstream;
let root: string;
let server: MirrorServer | undefined;
let base: string;

async function sync(formulae: string[]) {
  return runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey, formulae, tags: ['arm64_sonoma'] });
}

async function serve(options: { pull?: Partial<PullThroughOptions> | false; byteBudget?: number } = {}): Promise<MirrorServer> {
  await server?.stop(0);
  const pullThrough: PullThroughOptions | undefined =
    options.pull === false ? undefined : { upstream: new Upstream(), registryUrl: new URL(upstream.registryRoot).origin, breaker: new MemoryCircuitBreaker(), ...options.pull };
  server = new MirrorServer({
    ...localStores(root),
    log: jsonLogger({}, () => undefined),
    limiter: new MemoryRateLimiter({ ratePerSecond: 10_000, burst: 10_000 }),
    byteBudget: options.byteBudget === undefined ? memoryByteBudget() : new MemoryRateLimiter(byteBudgetLimit(options.byteBudget)),
    mode: 'proxy',
    pollMs: 60_000,
    pullThrough,
  });
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
  return server;
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The response ended before Content-Length bytes (the connection was cut). */
  aborted: boolean;
}

function get(requestPath: string, method = 'GET', headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${requestPath}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c) => chunks.push(c));
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), aborted: aborted || !res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

const flat = (name: string, version: string) => `/bottles/${encodeURIComponent(`${name}-${version}.arm64_sonoma.bottle.tar.gz`)}`;
const blobPath = (name: string, digest: string) => `/v2/homebrew/core/${imageName(name)}/blobs/sha256:${digest}`;
const manifestPath = (name: string, version: string) => `/v2/homebrew/core/${imageName(name)}/manifests/${manifestTag({ name, version, revision: 0, rebuild: 0 })}`;
/** Upstream requests for one blob: the registry's (which redirects) and the CDN's (which sends the bytes). */
const fetchesOf = (digest: string) => upstream.requests.filter((r) => r.path.includes(digest));
const blobFile = (digest: string) => path.join(root, 'blobs', 'sha256', digest);
const storedBlobs = () => fs.readdirSync(path.join(root, 'blobs', 'sha256')).filter((f) => !f.startsWith('.'));

beforeEach(async () => {
  upstream = await startFixtureUpstream();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-pull-'));
  publishApi(upstream, FORMULAE, key.privateKey);
  expect((await sync(['wget'])).published).toBe(true);
});

afterEach(async () => {
  await server?.stop(0);
  server = undefined;
  await upstream.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('pull-through (issue #24)', () => {
  test('the subset is all the sync mirrored; the generation also lists every bottle the signed API names', async () => {
    expect(storedBlobs().sort()).toEqual([sha(bytes.wget), sha(bytes.openssl)].sort());
    const [generation] = fs.readdirSync(path.join(root, 'api', 'generations'));
    const named = fs.readFileSync(path.join(root, ...namedBottlesKey(generation).split('/')), 'utf8');
    expect(named.trim().split('\n')).toHaveLength(FORMULAE.length);
    // Off (the default), a bottle outside the subset is a 404 that never reaches upstream.
    await serve({ pull: false });
    const before = upstream.requests.length;
    expect((await get(flat('python@3.12', '3.12.8'))).status).toBe(404);
    expect((await get(blobPath('python@3.12', sha(bytes.python)))).status).toBe(404);
    expect(upstream.requests.length).toBe(before);
  });

  test('a bottle outside the subset is served with the right bytes in both layouts; upstream sees one fetch; later requests come from the store', async () => {
    await serve();
    const python = sha(bytes.python);
    const first = await get(flat('python@3.12', '3.12.8'));
    expect([first.status, first.aborted]).toEqual([200, false]);
    expect(sha(first.body)).toBe(python);
    expect(first.headers['content-disposition']).toBe('attachment; filename="python@3.12-3.12.8.arm64_sonoma.bottle.tar.gz"');
    expect(fetchesOf(python).map((r) => r.origin)).toEqual(['registry', 'cdn']);
    expect(fs.readFileSync(blobFile(python)).equals(bytes.python)).toBe(true);
    // The /v2 layout: the same blob, now from the store; and another bottle pulled by digest.
    const again = await get(blobPath('python@3.12', python));
    expect([again.status, sha(again.body)]).toEqual([200, python]);
    const jq = await get(blobPath('jq', sha(bytes.jq)));
    expect([jq.status, sha(jq.body)]).toEqual([200, sha(bytes.jq)]);
    expect(fetchesOf(python)).toHaveLength(2);
    expect(fetchesOf(sha(bytes.jq))).toHaveLength(2);
    // The image index brew asks for first: fetched once, checked against the signed digests, kept.
    const manifest = await get(manifestPath('python@3.12', '3.12.8'));
    expect(manifest.status).toBe(200);
    expect(JSON.parse(manifest.body.toString()).manifests[0].annotations['sh.brew.bottle.digest']).toBe(python);
    expect((await get(manifestPath('python@3.12', '3.12.8'))).status).toBe(200);
    expect(upstream.requests.filter((r) => r.path.includes('/python/3.12/manifests/'))).toHaveLength(1);
    // HEAD of a bottle not yet pulled: fetched and kept first, then answered.
    const head = await get(flat('node', '23.1.0'), 'HEAD');
    expect([head.status, head.headers['content-length']]).toEqual([200, String(bytes.node.length)]);
    expect(fs.existsSync(blobFile(sha(bytes.node)))).toBe(true);
    const status = JSON.parse((await get('/status')).body.toString());
    expect(status.pullThrough).toMatchObject({ pulls: 4, hits: 2, failures: 0, bytes: bytes.python.length + bytes.jq.length + bytes.node.length + manifest.body.length });
    const metrics = (await get('/metrics')).body.toString();
    expect(metrics).toMatch(/^mirror_pull_through_pulls_total 4$/m);
    expect(metrics).toMatch(/^mirror_pull_through_hits_total 2$/m);
  });

  test('twenty concurrent first requests cause one upstream fetch, and all twenty get the bytes', async () => {
    await serve();
    const python = sha(bytes.python);
    let release!: () => void;
    upstream.injectFaults(python, [{ hold: new Promise<void>((resolve) => (release = resolve)) }]);
    const requests = Array.from({ length: 20 }, (_, i) => get(i % 2 ? flat('python@3.12', '3.12.8') : blobPath('python@3.12', python)));
    // Every request has arrived once nineteen wait on the one fetch; then upstream sends the rest.
    await waitFor(async () => JSON.parse((await get('/status')).body.toString()).pullThrough.shared === 19);
    release();
    const answers = await Promise.all(requests);
    expect(answers.map((a) => [a.status, a.aborted, sha(a.body)])).toEqual(Array(20).fill([200, false, python]));
    expect(fetchesOf(python).map((r) => r.origin)).toEqual(['registry', 'cdn']);
  });

  test('a corrupt or short upstream body stores nothing and fails the client download before its last byte', async () => {
    await serve();
    const python = sha(bytes.python);
    for (const fault of ['corrupt', 'truncate'] as const) {
      upstream.injectFaults(python, [fault]);
      const broken = await get(flat('python@3.12', '3.12.8'));
      if (fault === 'corrupt') {
        // Every byte but the last piece streamed; the digest check then cut the response short.
        expect([broken.status, broken.aborted]).toEqual([200, true]);
        expect(broken.body.length).toBeLessThan(bytes.python.length);
      } else {
        // A connection lost mid-body: a 502 if it was lost before the client's headers went out, else cut short.
        expect(broken.status === 502 || (broken.status === 200 && broken.aborted && broken.body.length < bytes.python.length)).toBe(true);
      }
      expect(fs.existsSync(blobFile(python))).toBe(false);
      expect(fs.readdirSync(path.dirname(blobFile(python))).filter((f) => f.startsWith('.partial'))).toEqual([]);
    }
    const good = await get(flat('python@3.12', '3.12.8'));
    expect([good.status, good.aborted, sha(good.body)]).toEqual([200, false, python]);
    expect(JSON.parse((await get('/status')).body.toString()).pullThrough.failures).toBe(2);
  });

  test('a name or digest the signed API does not name is a 404 with no upstream request', async () => {
    await serve();
    const before = upstream.requests.length;
    const unknown = [
      flat('curl', '8.0.0'),
      flat('python@3.12', '3.12.7'), // an old version: the signed API names 3.12.8
      blobPath('python@3.12', randomBytes(32).toString('hex')),
      blobPath('wget', sha(bytes.python).replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))),
      manifestPath('curl', '8.0.0'),
      manifestPath('python@3.12', '3.12.7'),
    ];
    for (const p of unknown) expect([p, (await get(p)).status]).toEqual([p, 404]);
    expect(upstream.requests.length).toBe(before);
  });

  test('the next sync does not fetch a pulled bottle again, and never counts it an orphan', async () => {
    await serve();
    const python = sha(bytes.python);
    expect((await get(flat('python@3.12', '3.12.8'))).status).toBe(200);
    const fetched = fetchesOf(python).length;
    // The same subset: the pulled bottle stays (a partial mirror keeps what the signed API names).
    await sync(['wget']);
    expect(fs.existsSync(path.join(root, 'orphaned', python))).toBe(false);
    // A wider subset that takes python in: present already, so not fetched again.
    const summary = await sync(['wget', 'python@3.12']);
    expect(summary.published).toBe(true);
    expect(fetchesOf(python)).toHaveLength(fetched);
    expect(summary.bottles.transferred).toBe(0);
  });

  test('upstream failures are 502 with Retry-After; the fetch cap answers 503; an open breaker asks upstream nothing', async () => {
    await serve({ pull: { maxPulls: 1, breaker: new MemoryCircuitBreaker({ failureThreshold: 2, windowMs: 60_000, cooldownMs: 60_000 }) } });
    const python = sha(bytes.python);
    let release!: () => void;
    upstream.injectFaults(python, [{ hold: new Promise<void>((resolve) => (release = resolve)) }]);
    const slow = get(flat('python@3.12', '3.12.8'));
    await waitFor(() => fetchesOf(python).some((r) => r.origin === 'cdn'));
    const busy = await get(flat('jq', '1.7.1'));
    expect([busy.status, busy.headers['retry-after'], JSON.parse(busy.body.toString()).error]).toEqual([503, '30', 'pull_through_busy']);
    expect(fetchesOf(sha(bytes.jq))).toEqual([]);
    release();
    expect((await slow).status).toBe(200);

    upstream.removeBlob(sha(bytes.jq));
    upstream.removeBlob(sha(bytes.node));
    const missing = await get(flat('jq', '1.7.1'));
    expect([missing.status, missing.headers['retry-after'], JSON.parse(missing.body.toString()).error]).toEqual([502, '30', 'upstream_failed']);
    expect((await get(flat('node', '23.1.0'))).status).toBe(502);
    // Two failures open the breaker: the next pull is refused without asking upstream.
    const before = upstream.requests.length;
    const open = await get(flat('jq', '1.7.1'));
    expect([open.status, JSON.parse(open.body.toString()).error]).toEqual([503, 'upstream_unavailable']);
    expect(upstream.requests.length).toBe(before);
  });

  test('the per-client byte budget applies to pulled bytes: once spent, 429, and the fetch is dropped at its headers', async () => {
    await serve({ byteBudget: bytes.jq.length + 1000 });
    expect((await get(flat('jq', '1.7.1'))).status).toBe(200);
    // 1,000 bytes left: python is handed out whole (a budget goes into debt, as for any download) …
    expect((await get(flat('python@3.12', '3.12.8'))).status).toBe(200);
    // … and the next pull is refused before a byte of it is fetched.
    const refused = await get(flat('node', '23.1.0'));
    expect([refused.status, JSON.parse(refused.body.toString()).error]).toEqual([429, 'byte_budget_spent']);
    expect(fs.existsSync(blobFile(sha(bytes.node)))).toBe(false);
    const status = JSON.parse((await get('/status')).body.toString());
    expect(status.pullThrough.bytes).toBe(bytes.jq.length + bytes.python.length);
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
