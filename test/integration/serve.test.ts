import { execFile } from 'child_process';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { smoke } from '../../scripts/deploy/smoke';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { jsonLogger } from '../../engine/logger';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { byteBudgetLimit } from '../../engine/ports';
import { parseRange } from '../../engine/serve/routes/blobs';
import { MirrorServer } from '../../engine/serve/server';
import { runSync } from '../../engine/sync/run-sync';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

const key = testSigningKey();
let upstream: FixtureUpstream;
let root: string;
let server: MirrorServer;
let base: string;
let accessLog: string[];

const bottles = {
  openssl: randomBytes(50_000),
  libsigc: randomBytes(20_000),
  ca: randomBytes(3_000),
  wget: randomBytes(10_000),
  // Larger than the loopback socket buffers, so a response to a client that stops reading stays in flight.
  big: randomBytes(16 * 1024 * 1024),
};
const formulae = (wgetVersion = '1.25.0'): FixtureFormula[] => [
  { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: bottles.openssl }] },
  { name: 'libsigc++@2', version: '2.12.1', rebuild: 1, bottles: [{ tag: 'x86_64_linux', bytes: bottles.libsigc }] },
  { name: 'ca-certificates', version: '2023-12-12', bottles: [{ tag: 'all', bytes: bottles.ca }] },
  { name: 'wget', version: wgetVersion, bottles: [{ tag: 'arm64_sonoma', bytes: bottles.wget }] },
  { name: 'big', version: '1.0', bottles: [{ tag: 'arm64_sonoma', bytes: bottles.big }] },
];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function sync() {
  const summary = await runSync(
    localSyncDeps(root, { log: jsonLogger({}, () => undefined) }),
    { apiUrl: upstream.apiRoot, publicKey: key.publicKey },
  );
  expect(summary.published).toBe(true);
  return summary;
}

function startServer(limiter = new MemoryRateLimiter({ ratePerSecond: 10_000, burst: 10_000 }), byteBudget = memoryByteBudget()) {
  accessLog = [];
  return new MirrorServer({
    ...localStores(root),
    log: jsonLogger({}, (line) => accessLog.push(line)),
    limiter,
    byteBudget,
    mode: 'proxy',
    pollMs: 60_000,
  });
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
/** Raw request: the path is sent exactly as given (no client-side normalisation). */
function get(rawPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: rawPath, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-serve-'));
  publishApi(upstream, formulae(), key.privateKey);
  await sync();
  server = startServer();
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
});
afterAll(async () => {
  await server.stop();
  await upstream.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('API files (HOMEBREW_API_DOMAIN=<mirror>/api)', () => {
  test('served byte for byte with ETag and Last-Modified; 304 for If-None-Match and If-Modified-Since', async () => {
    const published = (await localStores(root).state.getPublished())!;
    const stored = fs.readFileSync(path.join(root, 'api', 'generations', published.generation, 'formula.jws.json'));
    const res = await get('/api/formula.jws.json');
    expect(res.status).toBe(200);
    expect(res.body.equals(stored)).toBe(true);
    expect(res.headers.etag).toBe(`"${sha(stored)}"`);
    expect(res.headers['last-modified']).toBe(new Date(published.publishedAt).toUTCString());
    expect((await get('/api/formula.jws.json', { 'if-none-match': res.headers.etag! })).status).toBe(304);
    // curl --time-cond sends If-Modified-Since with the cached file's mtime.
    expect((await get('/api/formula.jws.json', { 'if-modified-since': res.headers['last-modified']! })).status).toBe(304);
    expect((await get('/api/formula.jws.json', { 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' })).status).toBe(200);
  });

  test('gzip when asked (curl --compressed), HEAD without a body, packages files by tag', async () => {
    const plain = await get('/api/internal/packages.arm64_sonoma.jws.json');
    expect(plain.status).toBe(200);
    const zipped = await get('/api/internal/packages.arm64_sonoma.jws.json', { 'accept-encoding': 'deflate, gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    const head = await get('/api/cask.jws.json', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);
    expect((await get('/api/internal/packages.arm64_tahoe.jws.json')).status).toBe(404);
  });
});

describe('bottles (HOMEBREW_BOTTLE_DOMAIN=<mirror>/bottles), in brew’s exact encoding', () => {
  test.each([
    ['/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz', 'openssl'],
    ['/bottles/libsigc%2B%2B%402-2.12.1.x86_64_linux.bottle.1.tar.gz', 'libsigc'],
    ['/bottles/ca-certificates-2023-12-12.all.bottle.tar.gz', 'ca'],
    // Other clients may encode differently; the name decodes to the same bottle.
    ['/bottles/openssl@3-3.2.0_1.arm64_sonoma.bottle.tar.gz', 'openssl'],
    ['/bottles/libsigc%2b%2b%402-2.12.1.x86_64_linux.bottle.1.tar.gz', 'libsigc'],
    ['/bottles/ca%2Dcertificates-2023-12-12.all.bottle.tar.gz', 'ca'],
  ] as const)('%s', async (url, which) => {
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.body.equals(bottles[which])).toBe(true);
    expect(res.headers['content-length']).toBe(String(bottles[which].length));
    expect(res.headers['accept-ranges']).toBe('bytes');
  });

  test('Range requests get 206 with Content-Range; bad ranges get 416; HEAD has the length only', async () => {
    const url = '/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz';
    const part = await get(url, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${bottles.openssl.length}`);
    expect(part.body.equals(bottles.openssl.subarray(100, 200))).toBe(true);
    const tail = await get(url, { range: 'bytes=-10' });
    expect(tail.body.equals(bottles.openssl.subarray(-10))).toBe(true);
    const resume = await get(url, { range: 'bytes=49990-' });
    expect(resume.body.equals(bottles.openssl.subarray(49990))).toBe(true);
    const bad = await get(url, { range: 'bytes=999999-' });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${bottles.openssl.length}`);
    const head = await get(url, {}, 'HEAD');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, String(bottles.openssl.length), 0]);
  });

  test('manifests under the bottle domain carry the OCI index media type', async () => {
    const res = await get('/bottles/openssl/3/manifests/3.2.0_1');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.oci.image.index.v1+json');
    expect(res.body.equals(fs.readFileSync(path.join(root, 'manifests', 'openssl', '3', '3.2.0_1')))).toBe(true);
    expect(res.headers['docker-content-digest']).toBe(`sha256:${sha(res.body)}`);
    expect((await get('/bottles/libsigcxx/2/manifests/2.12.1-1')).status).toBe(200);
    expect((await get('/bottles/ca-certificates/manifests/2023-12-12')).status).toBe(200);
  });
});

describe('brew’s download sequence, without waste (issue #13 item 7)', () => {
  test('bottle responses name their flat file in Content-Disposition, on HEAD, GET and Range alike', async () => {
    const url = '/bottles/libsigc%2B%2B%402-2.12.1.x86_64_linux.bottle.1.tar.gz';
    const expected = 'attachment; filename="libsigc++@2-2.12.1.x86_64_linux.bottle.1.tar.gz"';
    expect((await get(url, {}, 'HEAD')).headers['content-disposition']).toBe(expected);
    expect((await get(url)).headers['content-disposition']).toBe(expected);
    expect((await get(url, { range: 'bytes=0-9' })).headers['content-disposition']).toBe(expected);
    // Any spelling of the name gets the same one.
    expect((await get('/bottles/libsigc++@2-2.12.1.x86_64_linux.bottle.1.tar.gz', {}, 'HEAD')).headers['content-disposition']).toBe(expected);
    // Registry blobs have no file name of their own.
    expect((await get(`/v2/homebrew/core/libsigcxx/2/blobs/sha256:${sha(bottles.libsigc)}`, {}, 'HEAD')).headers['content-disposition']).toBeUndefined();
  });

  test('a client that aborts after the headers (brew’s probe) is logged at info with route and bytes, not as an error', async () => {
    accessLog.length = 0;
    const url = new URL(base);
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: '/bottles/big-1.0.arm64_sonoma.bottle.tar.gz', agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        res.destroy(); // what `curl --head --request GET` does once it has the headers
        resolve();
      });
      req.on('error', reject);
      req.end();
    });
    const lines = () => accessLog.map((l) => JSON.parse(l));
    await waitUntil(() => lines().some((l) => l.message === 'client closed the download early'));
    const early = lines().find((l) => l.message === 'client closed the download early');
    expect(early).toMatchObject({ level: 'INFO', route: 'bottle', of: bottles.big.length });
    expect(early.bytes).toBeLessThan(bottles.big.length);
    expect(lines().filter((l) => l.level === 'ERROR')).toEqual([]);
  });

  test('a client that hangs up the moment it has Content-Length bytes completed its download: never logged as closed early', async () => {
    // curl -o and brew close the socket as soon as the body is complete, which races the end of the server's pipeline.
    accessLog.length = 0;
    const url = new URL(base);
    const downloads = 60;
    const fetchAndHangUp = () =>
      new Promise<number>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname, () => socket.write('GET /bottles/wget-1.25.0.arm64_sonoma.bottle.tar.gz HTTP/1.1\r\nHost: mirror\r\n\r\n'));
        let received = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          const headerEnd = received.indexOf('\r\n\r\n');
          if (headerEnd === -1) return;
          const length = Number(/content-length: (\d+)/i.exec(received.subarray(0, headerEnd).toString())?.[1]);
          const body = received.length - headerEnd - 4;
          if (body >= length) {
            socket.destroy();
            resolve(body);
          }
        });
        socket.on('error', reject);
      });
    const bodies = await Promise.all(Array.from({ length: downloads }, fetchAndHangUp));
    expect(bodies.every((b) => b === bottles.wget.length)).toBe(true);
    const lines = () => accessLog.map((l) => JSON.parse(l));
    await waitUntil(() => lines().filter((l) => l.message === 'request' && l.route === 'bottle').length >= downloads);
    expect(lines().filter((l) => l.message === 'client closed the download early')).toEqual([]);
    expect(lines().filter((l) => l.message === 'request' && l.route === 'bottle').map((l) => l.bytes)).toEqual(Array(downloads).fill(bottles.wget.length));
  });

  test('manifests by digest: the stored index if this generation has it, else 404 (never 400); tags/list', async () => {
    const index = await get('/v2/homebrew/core/openssl/3/manifests/3.2.0_1');
    const digest = `sha256:${sha(index.body)}`;
    const byDigest = await get(`/v2/homebrew/core/openssl/3/manifests/${digest}`);
    expect(byDigest.status).toBe(200);
    expect(byDigest.body.equals(index.body)).toBe(true);
    expect(byDigest.headers['docker-content-digest']).toBe(digest);
    expect((await get(`/bottles/openssl/3/manifests/${encodeURIComponent(digest)}`)).status).toBe(200);
    // A platform manifest (the index's child) is not mirrored: 404, and so is any other digest.
    const child = JSON.parse(index.body.toString()).manifests[0].digest;
    expect((await get(`/v2/homebrew/core/openssl/3/manifests/${child}`)).status).toBe(404);
    expect((await get(`/v2/homebrew/core/openssl/3/manifests/sha256:${'f'.repeat(64)}`)).status).toBe(404);
    expect((await get(`/v2/homebrew/core/openssl/3/manifests/sha256:abc`)).status).toBe(400);

    const tags = await get('/v2/homebrew/core/openssl/3/tags/list');
    expect(tags.status).toBe(200);
    expect(JSON.parse(tags.body.toString())).toEqual({ name: 'homebrew/core/openssl/3', tags: ['3.2.0_1'] });
    expect((await get('/v2/homebrew/core/ca-certificates/tags/list')).status).toBe(200);
    expect((await get('/v2/homebrew/core/nonexistent/tags/list')).status).toBe(404);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a real OCI client (skopeo, Debian\'s package) against the /v2/ layout', () => {
  const skopeo = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) =>
      execFile('skopeo', args, { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('skopeo is required for these tests (apt-get install skopeo)'));
        else resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      }),
    );
  const image = () => `docker://${new URL(base).host}/homebrew/core/openssl/3`;

  test('reads the image index by tag and by digest, and lists the tags', async () => {
    const byTag = await skopeo('inspect', '--raw', '--tls-verify=false', `${image()}:3.2.0_1`);
    expect(byTag.code).toBe(0);
    expect(JSON.parse(byTag.stdout).manifests.length).toBeGreaterThan(0);
    const digest = `sha256:${sha(Buffer.from(byTag.stdout))}`;
    const byDigest = await skopeo('inspect', '--raw', '--tls-verify=false', `${image()}@${digest}`);
    expect([byDigest.code, byDigest.stdout]).toEqual([0, byTag.stdout]);
    const tags = await skopeo('list-tags', '--tls-verify=false', image());
    expect(tags.code).toBe(0);
    expect(JSON.parse(tags.stdout)).toEqual({ Repository: `${new URL(base).host}/homebrew/core/openssl/3`, Tags: ['3.2.0_1'] });
    // A digest the generation does not have is "manifest unknown", not a malformed request.
    const unknown = await skopeo('inspect', '--raw', '--tls-verify=false', `${image()}@sha256:${'f'.repeat(64)}`);
    expect(unknown.code).not.toBe(0);
    // Matched as skopeo prints a status: a bare /400/ also matched the fixture's random port (127.0.0.1:40005).
    expect(unknown.stderr).toMatch(/StatusCode: 404\b/);
    expect(unknown.stderr).not.toMatch(/StatusCode: 400\b|Bad Request/i);
  });
});

describe('registry layout (HOMEBREW_ARTIFACT_DOMAIN=<mirror>)', () => {
  test('/v2/, manifests and blobs as brew rewrites ghcr.io URLs', async () => {
    const v2 = await get('/v2/');
    expect([v2.status, v2.headers['docker-distribution-api-version']]).toEqual([200, 'registry/2.0']);
    const manifest = await get('/v2/homebrew/core/openssl/3/manifests/3.2.0_1');
    expect(manifest.headers['content-type']).toBe('application/vnd.oci.image.index.v1+json');
    const blob = await get(`/v2/homebrew/core/libsigcxx/2/blobs/sha256:${sha(bottles.libsigc)}`);
    expect(blob.body.equals(bottles.libsigc)).toBe(true);
    expect((await get(`/v2/homebrew/core/libsigcxx/2/blobs/sha256:${'0'.repeat(64)}`)).status).toBe(404);
  });
});

describe('bad paths', () => {
  test.each([
    ['/nope', 404],
    ['/bottles/nope-1.0.all.bottle.tar.gz', 404],
    ['/bottles/%2e%2e', 400],
    ['/bottles/..%2F..%2Fstate%2Fpublished', 400],
    ['/bottles/%ZZ', 400],
    ['/bottles/a%00b', 400],
    ['/api/..%2F..%2Fstate%2Fruns%2F_latest.json', 400],
    ['/api/../state/runs/_latest.json', 400],
    ['//etc/passwd', 400],
    ['/v2/homebrew/core/x/blobs/sha256:..%2F..%2Fetc', 400],
    ['/v2/homebrew/core/../../manifests/x', 400],
  ])('%s → %d with a JSON error and no internals', async (url, status) => {
    const res = await get(url);
    expect(res.status).toBe(status);
    const body = JSON.parse(res.body.toString());
    expect(Object.keys(body).sort()).toEqual(['error', 'message', 'requestId']);
    expect(res.body.toString()).not.toMatch(new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  test.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('%s → 405 with Allow: GET, HEAD', async (method) => {
    const res = await get('/api/formula.jws.json', {}, method);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: 'method_not_allowed' });
  });
});

describe('operations', () => {
  test('request ids are propagated or generated and logged; security headers are set', async () => {
    const mine = await get('/health', { 'x-request-id': 'trace-123' });
    expect(mine.headers['x-request-id']).toBe('trace-123');
    // Header names are case-insensitive; an id that is not a plain token is replaced, not echoed.
    expect((await get('/health', { 'X-Request-ID': 'Trace-ABC' })).headers['x-request-id']).toBe('Trace-ABC');
    expect((await get('/health', { 'x-request-id': 'bad id"' })).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await get('/health');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers['x-content-type-options']).toBe('nosniff');
    expect(generated.headers['content-security-policy']).toContain("default-src 'none'");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const logged = accessLog.map((l) => JSON.parse(l)).find((l) => l.requestId === 'trace-123');
    expect(logged).toMatchObject({ method: 'GET', path: '/health', status: 200, route: 'health' });
  });

  test('/health, /health/detailed, /metrics and /status', async () => {
    expect(JSON.parse((await get('/health')).body.toString())).toEqual({ status: 'ok' });
    const detailed = JSON.parse((await get('/health/detailed')).body.toString());
    expect(detailed).toMatchObject({ status: 'ok', checks: { store: { ok: true }, state: { ok: true }, cache: { ok: true, backend: 'memory' } } });
    expect(typeof detailed.checks.store.latencyMs).toBe('number');
    const metrics = (await get('/metrics')).body.toString();
    expect(metrics).toMatch(/mirror_requests_total\{route="bottle",status="200"\} \d+/);
    expect(metrics).toMatch(/mirror_request_duration_seconds_bucket\{route="api",le="\+Inf"\} \d+/);
    expect(metrics).toMatch(/mirror_bytes_served_total \d+/);
    expect(metrics).toMatch(/mirror_lookup_hit_ratio [\d.]+/);
    expect(metrics).toMatch(/mirror_generation_age_seconds [\d.]+/);
    const status = JSON.parse((await get('/status')).body.toString());
    expect(status.generation.id).toBe((await localStores(root).state.getPublished())!.generation);
    expect(status.lastRun).toMatchObject({ status: 'published', bottles: { transferred: formulae().length } });
  });

  test('bytes served count exactly what downloads and ranges delivered, and each download is in the access log', async () => {
    // Each /metrics response counts its own body only after rendering it, so a later scrape sees it.
    const scrape = async () => {
      const body = (await get('/metrics')).body;
      return { bytesServed: Number(/^mirror_bytes_served_total (\d+)$/m.exec(body.toString())![1]), length: body.length };
    };
    const before = await scrape();
    const url = '/bottles/libsigc%2B%2B%402-2.12.1.x86_64_linux.bottle.1.tar.gz';
    await get(url, { 'x-request-id': 'download-1' });
    await get(url, { range: 'bytes=0-99', 'x-request-id': 'download-2' });
    await get(url, { 'x-request-id': 'head-1' }, 'HEAD');
    const after = await scrape();
    expect(after.bytesServed - before.bytesServed).toBe(before.length + bottles.libsigc.length + 100);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const lines = accessLog.map((l) => JSON.parse(l));
    expect(lines.find((l) => l.requestId === 'download-1')).toMatchObject({ route: 'bottle', status: 200, bytes: bottles.libsigc.length, path: url });
    expect(lines.find((l) => l.requestId === 'download-2')).toMatchObject({ status: 206, bytes: 100 });
    expect(lines.find((l) => l.requestId === 'head-1')).toMatchObject({ status: 200, bytes: 0 });
  });

  test('a client over its limit gets 429 with Retry-After; /health is never limited', async () => {
    const limited = startServer(new MemoryRateLimiter({ ratePerSecond: 0.5, burst: 3 }));
    const port = await limited.listen(0, '127.0.0.1');
    const saved = base;
    base = `http://127.0.0.1:${port}`;
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await get('/api/cask.jws.json')).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limitedRes = await get('/api/cask.jws.json');
      expect(limitedRes.headers['retry-after']).toBe('2');
      expect((await get('/health')).status).toBe(200);
    } finally {
      base = saved;
      await limited.stop();
    }
  });

  test('a client past its byte budget gets 429 with Retry-After; HEAD, 304 and the API cost nothing; a Range pays its length (issue #25)', async () => {
    // A frozen clock: the budget refills by the hour, and a test must not depend on how long it takes.
    const size = bottles.openssl.length;
    const budget = size + 10;
    const limited = startServer(undefined, new MemoryRateLimiter(byteBudgetLimit(budget), () => 0));
    const port = await limited.listen(0, '127.0.0.1');
    const saved = base;
    base = `http://127.0.0.1:${port}`;
    const openssl = '/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz';
    try {
      expect((await get(openssl)).body.equals(bottles.openssl)).toBe(true); // 10 bytes left
      expect((await get(openssl, {}, 'HEAD')).status).toBe(200);
      expect((await get(openssl, { 'if-none-match': `"${sha(bottles.openssl)}"` })).status).toBe(304);
      const part = await get(openssl, { range: 'bytes=0-8' }); // 9 of the 10
      expect(part.status).toBe(206);
      expect(part.body.equals(bottles.openssl.subarray(0, 9))).toBe(true);
      expect((await get(openssl, { range: 'bytes=0-0' })).status).toBe(206); // the last byte
      const refused = await get(openssl);
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body.toString())).toMatchObject({ error: 'byte_budget_spent' });
      // One byte of budget comes back every 3600 / budget seconds.
      expect(refused.headers['retry-after']).toBe(String(Math.ceil(3600 / budget)));
      expect((await get(`/v2/homebrew/core/openssl/3/blobs/sha256:${sha(bottles.openssl)}`)).status).toBe(429); // both layouts
      expect((await get('/api/formula.jws.json')).status).toBe(200); // what is not a blob is not charged
      const metrics = (await get('/metrics')).body.toString();
      expect(metrics).toContain(`mirror_bytes_handed_out_total ${size + 10}`);
      expect(metrics).toContain('mirror_byte_budget_refusals_total 2');
    } finally {
      base = saved;
      await limited.stop();
    }
  });

  test('the limit applies before routing: floods of 404, 400 and 405 requests are limited too', async () => {
    const limited = startServer(new MemoryRateLimiter({ ratePerSecond: 0.5, burst: 3 }));
    const port = await limited.listen(0, '127.0.0.1');
    const saved = base;
    base = `http://127.0.0.1:${port}`;
    try {
      const statuses = [(await get('/nope')).status, (await get('/bottles/%ZZ')).status, (await get('/api/formula.jws.json', {}, 'DELETE')).status];
      expect(statuses).toEqual([404, 400, 405]);
      const refused = await get('/nope');
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body.toString())).toMatchObject({ error: 'rate_limited' });
      expect((await get('/health')).status).toBe(200); // the ALB's check still passes
    } finally {
      base = saved;
      await limited.stop();
    }
  });

  test('a new generation is switched to without restart, and no response mixes generations', async () => {
    const before = await get('/api/formula.jws.json');
    publishApi(upstream, formulae('1.25.1'), key.privateKey);
    const results: Response[] = [];
    let refreshing = true;
    const load = (async () => {
      while (refreshing) results.push(await get('/api/formula.jws.json'));
    })();
    await sync();
    await server.refresh();
    await new Promise((resolve) => setTimeout(resolve, 30));
    refreshing = false;
    await load;
    const after = await get('/api/formula.jws.json');
    expect(after.body.equals(before.body)).toBe(false);
    expect(results.every((r) => r.status === 200)).toBe(true);
    // The load really spanned the switch: both generations were served during it.
    expect(results.some((r) => r.body.equals(before.body)) && results.some((r) => r.body.equals(after.body))).toBe(true);
    for (const r of results) {
      expect(r.body.equals(before.body) || r.body.equals(after.body)).toBe(true);
      expect(r.headers.etag).toBe(`"${sha(r.body)}"`); // headers and body from the same generation
    }
    expect((await get('/bottles/wget-1.25.1.arm64_sonoma.bottle.tar.gz')).status).toBe(200);
    // A client that read the previous API just before the switch still gets that API's bottles…
    expect((await get('/bottles/wget-1.25.0.arm64_sonoma.bottle.tar.gz')).status).toBe(200);
    // …until the generation after: then a bottle no served generation names is a 404.
    publishApi(upstream, formulae('1.25.2'), key.privateKey);
    await sync();
    await server.refresh();
    expect((await get('/bottles/wget-1.25.2.arm64_sonoma.bottle.tar.gz')).status).toBe(200);
    expect((await get('/bottles/wget-1.25.0.arm64_sonoma.bottle.tar.gz')).status).toBe(404);
  });

  test('graceful stop: an in-flight download finishes completely', async () => {
    const draining = startServer();
    const port = await draining.listen(0, '127.0.0.1');
    const body = await new Promise<Buffer>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.once('data', (c) => {
          chunks.push(c);
          void draining.stop(); // SIGTERM arrives mid-download
          res.on('data', (d) => chunks.push(d));
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
    });
    expect(body.equals(bottles.openssl)).toBe(true);
  });

  test('graceful stop: a keep-alive connection busy at the stop is closed once its response is done, not at the keep-alive timeout', async () => {
    const draining = startServer();
    const port = await draining.listen(0, '127.0.0.1');
    const agent = new http.Agent({ keepAlive: true });
    let stopped: Promise<void> | undefined;
    const body = await new Promise<Buffer>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/bottles/big-1.0.arm64_sonoma.bottle.tar.gz', agent }, (res) => {
        const chunks: Buffer[] = [];
        res.pause(); // the response is still being written when the stop begins
        stopped = draining.stop();
        setTimeout(() => {
          res.on('data', (d) => chunks.push(d));
          res.resume();
        }, 300);
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
    });
    expect(body.equals(bottles.big)).toBe(true);
    const finished = Date.now();
    await stopped;
    expect(Date.now() - finished).toBeLessThan(5_000); // the keep-alive timeout is 125 s
    agent.destroy();
  });

  test('graceful stop: a download still running at the drain deadline is cut, so the process can exit', async () => {
    const draining = startServer();
    const port = await draining.listen(0, '127.0.0.1');
    let received = 0;
    const outcome = await new Promise<string>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/bottles/big-1.0.arm64_sonoma.bottle.tar.gz', agent: false }, (res) => {
        res.once('data', (d) => {
          received += d.length;
          res.pause(); // a client that stops reading
          void draining.stop(200).then(() => resolve('stopped'));
        });
        res.on('error', () => undefined);
      });
      req.on('error', () => undefined);
    });
    expect(outcome).toBe('stopped');
    expect(received).toBeLessThan(bottles.big.length);
  });
});

describe('npm run smoke, against this server', () => {
  test('/health, /status with a published generation and one bottle through the registry layout', async () => {
    const result = await smoke(base);
    expect(result.problems).toEqual([]);
    expect(result.generation).toBe((await localStores(root).state.getPublished())!.generation);
    expect(result.ok.at(-1)).toMatch(/^HEAD http:\/\/127\.0\.0\.1:\d+\/v2\/homebrew\/core\/\S+\/blobs\/sha256:[0-9a-f]{64}: 200$/);
  });

  test('a mirror with nothing published fails the smoke check, unless it is the first deploy', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-smoke-empty-'));
    const fresh = new MirrorServer({ ...localStores(empty), log: jsonLogger({}, () => undefined), limiter: new MemoryRateLimiter(), byteBudget: memoryByteBudget(), mode: 'proxy', pollMs: 60_000 });
    const port = await fresh.listen(0, '127.0.0.1');
    try {
      const url = `http://127.0.0.1:${port}`;
      expect((await smoke(url)).problems).toEqual([`${url}/status: no generation published yet`]);
      expect(await smoke(url, undefined, { requireGeneration: false })).toMatchObject({ problems: [], ok: [`${url}/health: 200`, `${url}/status: no generation published yet (the first sync is running)`] });
    } finally {
      await fresh.stop();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('range parsing', () => {
  test('single ranges, suffixes and open ends; anything else is unsatisfiable', () => {
    expect(parseRange(undefined, 100)).toBeUndefined();
    expect(parseRange('bytes=0-0', 100)).toEqual({ start: 0, end: 0 });
    expect(parseRange('bytes=90-200', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-5', 100)).toEqual({ start: 95, end: 99 });
    for (const bad of ['bytes=5-1', 'bytes=100-', 'items=0-1', 'bytes=0-1,5-6', 'bytes=-0', 'bytes=-']) {
      expect(() => parseRange(bad, 100)).toThrow('range not satisfiable');
    }
  });
});
