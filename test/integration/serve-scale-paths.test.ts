import { randomBytes, createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { jsonLogger } from '../../engine/logger';
import { MirrorServer } from '../../engine/serve/server';
import { API_FILE_IN_MEMORY_BYTES, loadSnapshot } from '../../engine/serve/snapshot';
import { bottleIndexKey } from '../../engine/store-layout';
import { runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { publishApi, signApiFile, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

/**
 * Issue #13: the mirror's lookups come from the bottle index the sync writes
 * (not from parsing the 33 MB formula.jws.json), and API files over a MiB are
 * streamed from the store rather than held, byte-exact either way.
 */
const key = testSigningKey();
let upstream: FixtureUpstream;
let root: string;
let generation: string;

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-scale-paths-'));
  publishApi(upstream, [
    { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(500) }, { tag: 'x86_64_linux', bytes: randomBytes(400) }] },
    { name: 'libsigc++@2', version: '2.12.1', rebuild: 1, bottles: [{ tag: 'x86_64_linux', bytes: randomBytes(300) }] },
    { name: 'ca-certificates', version: '2023-12-12', bottles: [{ tag: 'all', bytes: randomBytes(200) }] },
  ], key.privateKey);
  // A formula.jws.json over the in-memory threshold: the same entries with a long description each.
  const formulae = JSON.parse(JSON.parse(upstream.apiFile('formula.jws.json')!.toString()).payload) as Record<string, unknown>[];
  const padded = formulae.map((f) => ({ ...f, desc: 'x'.repeat(Math.ceil((API_FILE_IN_MEMORY_BYTES * 1.5) / formulae.length)) }));
  upstream.setApiFile('formula.jws.json', signApiFile(JSON.stringify(padded), key.privateKey));
  const summary = await runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey });
  expect(summary.published).toBe(true);
  generation = summary.generation!;
});
afterAll(async () => {
  await upstream.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('the snapshot built from the bottle index equals the one parsed from formula.jws.json', async () => {
  const { objects, state } = localStores(root);
  const published = (await state.getPublished())!;
  expect(await objects.hasObject(bottleIndexKey(generation))).toBe(true);
  const fromIndex = await loadSnapshot(objects, published);
  fs.renameSync(path.join(root, 'api', 'generations', generation, '_mirror'), path.join(root, 'index-aside'));
  try {
    const parsed = await loadSnapshot(objects, published);
    expect([...fromIndex.bottles].sort()).toEqual([...parsed.bottles].sort());
    expect([...fromIndex.bottlesByEncodedName].sort()).toEqual([...parsed.bottlesByEncodedName].sort());
    expect([...fromIndex.manifests].sort()).toEqual([...parsed.manifests].sort());
    expect([...fromIndex.blobs].sort()).toEqual([...parsed.blobs].sort());
    expect(fromIndex.bottles.size).toBe(4);
  } finally {
    fs.renameSync(path.join(root, 'index-aside'), path.join(root, 'api', 'generations', generation, '_mirror'));
  }
  // Large files are not held; small ones are.
  expect(fromIndex.api.get('formula.jws.json')!.body).toBeUndefined();
  expect(fromIndex.api.get('cask.jws.json')!.body).toBeDefined();
  // The index is never served as an API file.
  expect(fromIndex.api.has('_mirror/bottles.tsv')).toBe(false);
});

test('a large API file is streamed byte-exact, gzipped on request, answered to HEAD and conditional requests', async () => {
  const server = new MirrorServer({ ...localStores(root), log: jsonLogger({}, () => undefined), limiter: new MemoryRateLimiter(), byteBudget: memoryByteBudget(), mode: 'proxy', pollMs: 60_000 });
  const port = await server.listen(0, '127.0.0.1');
  const request = (p: string, headers: Record<string, string> = {}, method = 'GET') =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port, path: p, method, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject)
        .end();
    });
  try {
    const stored = fs.readFileSync(path.join(root, 'api', 'generations', generation, 'formula.jws.json'));
    expect(stored.length).toBeGreaterThan(API_FILE_IN_MEMORY_BYTES);
    const plain = await request('/api/formula.jws.json');
    expect(plain.status).toBe(200);
    expect(plain.body.equals(stored)).toBe(true);
    expect(plain.headers['content-length']).toBe(String(stored.length));
    const etag = `"${createHash('sha256').update(stored).digest('hex')}"`;
    expect(plain.headers.etag).toBe(etag);
    const zipped = await request('/api/formula.jws.json', { 'accept-encoding': 'gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.body).equals(stored)).toBe(true);
    const head = await request('/api/formula.jws.json', {}, 'HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, String(stored.length), 0]);
    expect((await request('/api/formula.jws.json', { 'if-none-match': etag })).status).toBe(304);
    expect((await request('/api/_mirror/bottles.tsv')).status).toBe(404);
  } finally {
    await server.stop();
  }
});
