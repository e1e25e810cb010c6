import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { jsonLogger } from '../../engine/logger';
import { MirrorServer } from '../../engine/serve/server';
import { SyncOptions } from '../../engine/sync/contracts';
import { runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

/** Issue #13 item 6: `--formulae` mirrors what a team uses, with its runtime dependencies, per tag. */
const key = testSigningKey();
let upstream: FixtureUpstream;
let root: string;
const b = (tag: string) => ({ tag, bytes: randomBytes(200) });
const catalogue: FixtureFormula[] = [
  { name: 'wget', version: '1.25.0', dependencies: ['openssl@3', 'libidn2'], bottles: [b('arm64_sequoia'), b('x86_64_linux')] },
  { name: 'openssl@3', version: '3.2.0', dependencies: ['ca-certificates'], bottles: [b('arm64_sequoia'), b('x86_64_linux')] },
  { name: 'libidn2', version: '2.3.7', bottles: [b('arm64_sequoia'), b('x86_64_linux')] },
  { name: 'ca-certificates', version: '2025-09-09', bottles: [b('all')] },
  { name: 'curl', version: '8.0', dependencies: ['openssl@3'], bottles: [b('arm64_sequoia'), b('x86_64_linux')] },
];

beforeEach(async () => {
  upstream = await startFixtureUpstream();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-partial-'));
  publishApi(upstream, catalogue, key.privateKey);
});
afterEach(async () => {
  await upstream.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const sync = (extra: Partial<SyncOptions>) =>
  runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey, maxDropPercent: 100, ...extra });

test('the requested formulae and their runtime dependencies per tag, the `all` bottle a tag falls back to; nothing else', async () => {
  const summary = await sync({ formulae: ['wget'] });
  expect(summary).toMatchObject({ published: true, bottles: { transferred: 7, failed: 0 } }); // 3 formulae × 2 tags + ca-certificates' all bottle
  const cdn = upstream.requests.filter((r) => r.origin === 'registry' && r.path.includes('/blobs/')).map((r) => r.path.split('/')[4]);
  expect(new Set(cdn)).toEqual(new Set(['wget', 'openssl', 'libidn2', 'ca-certificates']));

  const server = new MirrorServer({ ...localStores(root), log: jsonLogger({}, () => undefined), limiter: new MemoryRateLimiter(), byteBudget: memoryByteBudget(), mode: 'proxy', pollMs: 60_000 });
  const port = await server.listen(0, '127.0.0.1');
  const status = (p: string) => new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject));
  try {
    expect(await status('/bottles/wget-1.25.0.arm64_sequoia.bottle.tar.gz')).toBe(200);
    expect(await status('/bottles/openssl%403-3.2.0.x86_64_linux.bottle.tar.gz')).toBe(200);
    expect(await status('/bottles/ca-certificates-2025-09-09.all.bottle.tar.gz')).toBe(200);
    expect(await status('/bottles/curl-8.0.arm64_sequoia.bottle.tar.gz')).toBe(404); // outside the subset: a clean 404
    // brew needs the whole API: curl is still in it.
    expect(await status('/api/formula.jws.json')).toBe(200);
    const formula = fs.readFileSync(path.join(root, 'api', 'generations', summary.generation!, 'formula.jws.json'), 'utf8');
    expect(formula).toContain('curl');
  } finally {
    await server.stop();
  }
});

test('a different selection is a new generation, not "unchanged"; the full mirror again is too', async () => {
  const first = await sync({ formulae: ['libidn2'] });
  expect(first.bottles.transferred).toBe(2);
  const same = await sync({ formulae: ['libidn2'] });
  expect(same.unchanged).toBe(true);
  const wider = await sync({ formulae: ['libidn2', 'curl'] });
  expect(wider).toMatchObject({ published: true, bottles: { transferred: 5 } }); // curl, openssl@3 ×2 + ca-certificates
  const narrower = await sync({ formulae: ['libidn2'] });
  expect(narrower).toMatchObject({ published: true, bottles: { transferred: 0 } });
  expect(narrower.unchanged).toBeUndefined();
  const full = await sync({});
  expect(full).toMatchObject({ published: true, bottles: { transferred: 2, skipped: 7 } }); // only wget's two were never selected before
});

test('an unknown formula is a usage error naming it', async () => {
  const result = await sync({ formulae: ['wget', 'no-such-formula'] });
  expect(result.published).toBe(false);
  expect(result.errorKind).toBe('usage');
  expect(result.error).toMatch(/--formulae: no bottled formula named "no-such-formula"/);
});
