import { localStores } from '../../engine/wiring/local';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { jsonLogger } from '../../engine/logger';
import { emfSink } from '../../engine/metrics';
import { SyncOptions } from '../../engine/sync/contracts';
import { SYNC_LEASE } from '../../engine/sync/lease';
import { runSync } from '../../engine/sync/run-sync';
import { planRun } from '../../engine/sync/dry-run';
import { apiKey } from '../../engine/store-layout';
import { Upstream } from '../../engine/upstream/client';
import { FixtureFormula, publishApi, signApiFile, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

const key = testSigningKey();
let upstream: FixtureUpstream;
let root: string;

const bottle = (tag: string, size = 2048) => ({ tag, bytes: randomBytes(size) });
const baseFormulae = (): FixtureFormula[] => [
  { name: 'wget', version: '1.25.0', bottles: [bottle('arm64_sequoia'), bottle('x86_64_linux')] },
  { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [bottle('arm64_sequoia', 5000)] },
  { name: 'libsigc++@2', version: '2.12.1', rebuild: 1, bottles: [bottle('x86_64_linux')] },
  { name: 'ca-certificates', version: '2023-12-12', bottles: [bottle('all', 300)] },
];

function stores() {
  return localStores(root);
}
let metricLines: string[] = [];
function sync(extra: Partial<SyncOptions> = {}) {
  const lines: string[] = [];
  return runSync(
    {
      upstream: new Upstream(),
      ...stores(),
      log: jsonLogger({}, (line) => lines.push(line)),
      metrics: emfSink('test', { write: (line) => metricLines.push(line) }),
      transfer: { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, sleep: async () => undefined },
    },
    { apiUrl: upstream.apiRoot, publicKey: key.publicKey, maxMissingPercent: 0, ...extra },
  );
}
const blobCount = () => fs.readdirSync(path.join(root, 'blobs', 'sha256')).filter((f) => !f.startsWith('.')).length;

beforeEach(async () => {
  metricLines = [];
  upstream = await startFixtureUpstream();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-sync-'));
});
afterEach(async () => {
  await upstream.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a local sync against the fixture upstream', () => {
  test('full sync publishes a generation with every API file; a rerun transfers nothing', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const first = await sync();
    expect(first).toMatchObject({ published: true, bottles: { planned: 5, transferred: 5, skipped: 0, failed: 0 }, failures: [] });
    expect(blobCount()).toBe(5);
    const published = await stores().state.getPublished();
    expect(published!.generation).toBe(first.generation);
    expect(published!.files).toEqual([
      'cask.jws.json',
      'cask_tap_migrations.jws.json',
      'formula.jws.json',
      'formula_tap_migrations.jws.json',
      'internal/packages.arm64_sequoia.jws.json',
      'internal/packages.x86_64_linux.jws.json',
    ]);
    // Homebrew's signed bytes are published unchanged.
    const served = await stores().objects.getObject(apiKey(first.generation!, 'formula.jws.json'));
    expect(served!.toString()).toContain('"signatures"');
    // Names with @ and +, a rebuild and the all tag all got their manifests.
    for (const key of ['manifests/openssl/3/3.2.0_1', 'manifests/libsigcxx/2/2.12.1-1', 'manifests/ca-certificates/2023-12-12']) {
      expect(await stores().objects.hasObject(key)).toBe(true);
    }
    // The API origin never receives the registry token.
    expect(upstream.requests.filter((r) => r.origin === 'api').every((r) => r.authorization === undefined)).toBe(true);

    upstream.requests.length = 0;
    const second = await sync();
    // Nothing changed upstream: nothing is published or copied; the pointer only records that it was checked.
    expect(second).toMatchObject({ published: false, unchanged: true, generation: first.generation, bottles: { planned: 0, transferred: 0, skipped: 5 }, bytes: { transferred: 0 } });
    expect(second.error).toBeUndefined();
    expect(upstream.requests.filter((r) => r.origin !== 'api')).toEqual([]); // no blob, no manifest fetched again
    const after = await stores().state.getPublished();
    expect(after).toMatchObject({ generation: first.generation, publishedAt: published!.publishedAt, verifiedAt: expect.any(String) });
    expect(fs.readdirSync(path.join(root, 'api', 'generations'))).toEqual([first.generation]); // no API copy
    expect(fs.existsSync(path.join(root, 'runs', second.runId))).toBe(false); // nothing staged
    expect(await stores().state.getRun(second.runId)).toMatchObject({ status: 'unchanged', generation: first.generation });
    expect(await stores().state.acquireLease(SYNC_LEASE, 'next', 1000)).toBe(true); // lease released

    // One changed API file (re-signed: new bytes) is a new generation, even with no bottle to copy.
    upstream.setApiFile('cask.jws.json', signApiFile('[{"token":"firefox"}]', key.privateKey));
    await stores().state.releaseLease(SYNC_LEASE, 'next');
    const third = await sync();
    expect(third).toMatchObject({ published: true, bottles: { planned: 0, transferred: 0, skipped: 5 } });
    expect(third.unchanged).toBeUndefined();
  });

  test('one changed bottle: only it transfers; the replaced blob is marked orphaned, not deleted', async () => {
    const formulae = baseFormulae();
    const before = publishApi(upstream, formulae, key.privateKey);
    await sync();
    formulae[0] = { ...formulae[0], version: '1.25.1', bottles: [bottle('arm64_sequoia'), formulae[0].bottles[1]] };
    const after = publishApi(upstream, formulae, key.privateKey);
    const result = await sync();
    expect(result).toMatchObject({ published: true, bottles: { planned: 1, transferred: 1, skipped: 4 } });
    const old = before.get('wget:arm64_sequoia')!;
    expect(after.get('wget:arm64_sequoia')).not.toBe(old);
    const { blobs } = stores();
    expect(await blobs.has(old)).toBe(true);
    expect(await blobs.isOrphaned(old)).toBe(true);
    expect(await blobs.isOrphaned(after.get('wget:x86_64_linux')!)).toBe(false);
  });

  test('a 500 and a 429 that later succeed, and a truncated body, all end published', async () => {
    const shas = publishApi(upstream, baseFormulae(), key.privateKey);
    upstream.injectFaults(shas.get('wget:arm64_sequoia')!, [{ status: 500 }]);
    upstream.injectFaults(shas.get('openssl@3:arm64_sequoia')!, [{ status: 429, retryAfter: '1' }]);
    upstream.injectFaults(shas.get('ca-certificates:all')!, ['truncate']);
    await expect(sync()).resolves.toMatchObject({ published: true, bottles: { transferred: 5, failed: 0 } });
  });

  test('a permanent 404 and a persistent digest mismatch: published within maxMissing, refused above it', async () => {
    const shas = publishApi(upstream, baseFormulae(), key.privateKey);
    upstream.removeBlob(shas.get('wget:x86_64_linux')!);
    upstream.injectFaults(shas.get('ca-certificates:all')!, ['corrupt', 'corrupt', 'corrupt']);
    const refused = await sync({ maxMissingPercent: 1 });
    expect(refused.published).toBe(false);
    expect(refused.error).toMatch(/2 of 5 bottles \(40\.00%\) are permanently missing, above the 1% limit/);
    expect(refused.failures).toEqual(
      expect.arrayContaining([
        { name: 'wget', tag: 'x86_64_linux', reason: expect.stringMatching(/HTTP 404/) },
        { name: 'ca-certificates', tag: 'all', reason: expect.stringMatching(/body hashes to/) },
      ]),
    );
    expect(await stores().state.getPublished()).toBeUndefined();

    upstream.injectFaults(shas.get('ca-certificates:all')!, ['corrupt', 'corrupt', 'corrupt']);
    const accepted = await sync({ maxMissingPercent: 50 });
    expect(accepted).toMatchObject({ published: true, bottles: { failed: 2 } });
  });

  test('a bad signature or malformed JSON aborts and leaves the published mirror as it was', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const good = await sync();
    const other = testSigningKey();
    upstream.setApiFile('cask.jws.json', signApiFile('[]', other.privateKey));
    const badSignature = await sync();
    expect(badSignature).toMatchObject({ published: false, error: 'cask.jws.json: signature does not verify with key "homebrew-1"' });
    upstream.setApiFile('cask.jws.json', Buffer.from('{"payload": "[]", "signatures": ['));
    expect((await sync()).error).toMatch(/cask\.jws\.json: not valid JSON/);
    upstream.setApiFile('formula.jws.json', signApiFile('{"not": "an array"}', key.privateKey));
    upstream.setApiFile('cask.jws.json', signApiFile('[]', key.privateKey));
    expect((await sync()).error).toMatch(/formula.jws.json: is not a JSON array/);
    expect((await stores().state.getPublished())!.generation).toBe(good.generation);
  });

  test('two concurrent syncs: one runs, the other refuses without touching anything', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const results = await Promise.all([sync(), sync()]);
    expect(results.filter((r) => r.published)).toHaveLength(1);
    expect(results.filter((r) => !r.published)).toEqual([
      expect.objectContaining({ error: expect.stringMatching(/^another sync is running \(pid \d+ on .+, started .+\); nothing was changed/), bottles: { planned: 0, transferred: 0, skipped: 0, failed: 0 } }),
    ]);
    expect(blobCount()).toBe(5);
  });

  test('a crash mid-run: the lease expires, and the rerun transfers only what is missing', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const { state } = stores();
    // The crashed run had stored one blob, was mid-upload on another (a partial file), and still holds the lease.
    await sync({ tags: ['all'] });
    fs.writeFileSync(path.join(root, 'blobs', 'sha256', '.partial-crashed'), randomBytes(100));
    await state.acquireLease(SYNC_LEASE, 'crashed-run', 50);
    expect((await sync()).error).toMatch(/another sync is running/);
    await new Promise((resolve) => setTimeout(resolve, 60));
    upstream.requests.length = 0;
    const resumed = await sync();
    expect(resumed).toMatchObject({ published: true, bottles: { planned: 4, transferred: 4, skipped: 1 } });
    expect(upstream.requests.filter((r) => r.origin === 'cdn')).toHaveLength(4);
    expect(blobCount()).toBe(5); // the partial upload never counts as a blob
  });

  test('configured tags limit bottles and packages files (with the `all` bottles they fall back to); a tag without a packages file is a usage error', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const linux = await sync({ tags: ['x86_64_linux'] });
    // wget and libsigc++ for Linux, and ca-certificates' `all` bottle, which Linux falls back to.
    expect(linux).toMatchObject({ published: true, bottles: { transferred: 3 }, bytes: { transferred: 2048 + 2048 + 300 } });
    expect((await stores().state.getPublished())!.files).toContain('internal/packages.x86_64_linux.jws.json');
    const unknown = await sync({ tags: ['arm64_tahoe'] });
    expect(unknown).toMatchObject({ published: false, errorKind: 'usage' });
    expect(unknown.error).toMatch(/^upstream has no packages file for platform tag "arm64_tahoe"; known tags: /);
  });

  test('the run record keeps counts, bytes, duration and failures', async () => {
    const shas = publishApi(upstream, baseFormulae(), key.privateKey);
    upstream.removeBlob(shas.get('wget:x86_64_linux')!);
    const result = await sync({ maxMissingPercent: 50 });
    const run = await stores().state.getRun(result.runId);
    expect(run).toMatchObject({
      status: 'published',
      generation: result.generation,
      bottles: { planned: 5, transferred: 4, failed: 1 },
      bytesTransferred: 2048 + 5000 + 2048 + 300,
      failures: [{ name: 'wget', tag: 'x86_64_linux', permanent: true }],
    });
    expect(run!.durationMs).toBeGreaterThanOrEqual(0);
    // The same figures as EMF metrics, with a fresh generation age.
    expect(JSON.parse(metricLines[metricLines.length - 1])).toMatchObject({
      Environment: 'test',
      SyncSucceeded: 1,
      BottlesTransferred: 4,
      BottlesFailed: 1,
      BytesTransferred: 2048 + 5000 + 2048 + 300,
      PublishedGenerationAgeSeconds: 0,
    });
  });
});

describe('local faults and a failing upstream end the run fast, with their own reason', () => {
  test('a full disk stops the run with ENOSPC as the reason, never blames or trips the upstream breaker, and keeps the lease free', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const local = stores();
    const full = Object.assign(Object.create(Object.getPrototypeOf(local.blobs)), local.blobs);
    full.put = async () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, open '/data/blobs/sha256/.partial-1'"), { code: 'ENOSPC' });
    };
    const breakerCalls: string[] = [];
    const breaker = {
      allowRequest: async () => true,
      recordSuccess: async () => void breakerCalls.push('success'),
      recordFailure: async () => void breakerCalls.push('failure'),
    };
    const sleeps: number[] = [];
    const summary = await runSync(
      {
        upstream: new Upstream(),
        ...local,
        blobs: full,
        log: jsonLogger({}, () => undefined),
        transfer: { breaker, sleep: async (ms) => void sleeps.push(ms) },
      },
      { apiUrl: upstream.apiRoot, publicKey: key.publicKey, concurrency: 1 },
    );
    expect(summary).toMatchObject({ published: false, errorKind: 'local-environment' });
    expect(summary.error).toBe('the store refused a write (ENOSPC): ENOSPC: no space left on device; fix the store and rerun (nothing was published)');
    expect(breakerCalls).toEqual([]); // a local fault is not the upstream's
    expect(sleeps).toEqual([]); // and is not retried
    expect(upstream.requests.filter((r) => r.origin === 'cdn')).toHaveLength(1); // no other bottle was started
    expect(await local.state.acquireLease(SYNC_LEASE, 'next', 1000)).toBe(true);
  });

  test('an open circuit fails the run at once with that reason: no waiting, no requests, for any number of bottles', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, version: '1.0', bottles: [bottle('arm64_sequoia', 100)] }));
    publishApi(upstream, many, key.privateKey);
    const sleeps: number[] = [];
    const closed = { allowRequest: async () => false, recordSuccess: async () => undefined, recordFailure: async () => undefined };
    const summary = await runSync(
      { upstream: new Upstream(), ...stores(), log: jsonLogger({}, () => undefined), transfer: { breaker: closed, sleep: async (ms) => void sleeps.push(ms) } },
      { apiUrl: upstream.apiRoot, publicKey: key.publicKey },
    );
    expect(summary.published).toBe(false);
    expect(summary.error).toMatch(/^40 bottle\(s\) failed transiently \((not started: )?circuit open for 127\.0\.0\.1:\d+: upstream is failing, not sending requests\); rerun to finish$/);
    expect(sleeps).toEqual([]);
    expect(upstream.requests.filter((r) => r.origin === 'registry' && r.path.includes('/blobs/'))).toEqual([]);
  });
});

describe('a correctly signed but wrong file cannot wipe the mirror', () => {
  const published = async () => (await stores().state.getPublished())!;

  test('the signed cask list served as formula.jws.json is refused; the published generation stays', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const first = await sync();
    expect(first.published).toBe(true);
    upstream.setApiFile('formula.jws.json', signApiFile(JSON.stringify([{ token: 'firefox', name: ['Firefox'] }]), key.privateKey));
    const swapped = await sync();
    expect(swapped).toMatchObject({ published: false, errorKind: 'upstream-input', error: 'formula.jws.json: entry #0 has no "name" (is this the right file?)' });
    expect((await published()).generation).toBe(first.generation);
  });

  test('a packages file for another tag is refused', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    upstream.setApiFile('internal/packages.arm64_sequoia.jws.json', signApiFile(JSON.stringify({ metadata: { bottle_tag: 'x86_64_linux' }, formulae: {} }), key.privateKey));
    expect((await sync()).error).toBe('internal/packages.arm64_sequoia.jws.json: is for bottle tag "x86_64_linux", not "arm64_sequoia"');
  });

  test('a signed empty list drops every bottle: refused unless forced, and the published generation stays', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    const first = await sync();
    expect((await published()).bottles).toBe(5);
    upstream.setApiFile('formula.jws.json', signApiFile('[]', key.privateKey));
    const emptied = await sync();
    expect(emptied.published).toBe(false);
    expect(emptied.error).toBe('the new API names 0 bottles, 100.0% fewer than the 5 published (limit 10%); not publishing it (if the drop is intended, raise --max-drop or pass --force)');
    expect((await published()).generation).toBe(first.generation);
    // Nothing was marked orphaned either: the bottles stay for the generation still served.
    expect(fs.existsSync(path.join(root, 'orphaned')) ? fs.readdirSync(path.join(root, 'orphaned')) : []).toEqual([]);
    const forced = await sync({ maxDropPercent: 100 });
    expect(forced.published).toBe(true);
    expect((await published()).bottles).toBe(0);
  });
});

describe('the bottles brew chooses on macOS (issue #22)', () => {
  const formulae = (): FixtureFormula[] => [
    { name: 'sequoia-only', version: '1.0', bottles: [bottle('arm64_sequoia', 700)] },
    { name: 'tahoe-built', version: '2.0', dependencies: ['sequoia-only'], bottles: [bottle('arm64_tahoe', 300), bottle('arm64_sequoia', 400)] },
  ];

  test('an arm64_tahoe mirror includes a formula whose only bottle is arm64_sequoia; the dry run counts it', async () => {
    const shas = publishApi(upstream, formulae(), key.privateKey, { extraPackageTags: ['arm64_tahoe'] });
    const dry = await planRun({ upstream: new Upstream(), ...stores(), log: jsonLogger({}, () => undefined) }, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: ['arm64_tahoe'] });
    expect([dry.total.bottles, dry.total.toTransfer]).toEqual([2, 2]);
    expect(dry.tags.map((t) => [t.tag, t.bottles]).sort()).toEqual([['arm64_sequoia', 1], ['arm64_tahoe', 1]]);
    const run = await sync({ tags: ['arm64_tahoe'] });
    expect(run).toMatchObject({ published: true, bottles: { transferred: 2 } });
    const stored = fs.readdirSync(path.join(root, 'blobs', 'sha256')).filter((f) => !f.startsWith('.'));
    expect(stored.sort()).toEqual([shas.get('sequoia-only:arm64_sequoia'), shas.get('tahoe-built:arm64_tahoe')].sort());
  });

  test('a partial mirror follows the packages file’s choice (bottle_tag ":arm64_sequoia") through dependencies', async () => {
    const shas = publishApi(upstream, formulae(), key.privateKey, { extraPackageTags: ['arm64_tahoe'] });
    const run = await sync({ tags: ['arm64_tahoe'], formulae: ['tahoe-built'] });
    expect(run).toMatchObject({ published: true, bottles: { transferred: 2 } });
    const stored = fs.readdirSync(path.join(root, 'blobs', 'sha256')).filter((f) => !f.startsWith('.'));
    expect(stored.sort()).toEqual([shas.get('sequoia-only:arm64_sequoia'), shas.get('tahoe-built:arm64_tahoe')].sort());
  });
});

describe('a replayed packages file is refused (issue #22)', () => {
  const file = 'internal/packages.arm64_sequoia.jws.json';
  const WEEK = 7 * 24 * 3600;

  test('older than the published one by metadata.generated_at: refused, naming the file and both times, unless forced', async () => {
    const formulae = baseFormulae();
    publishApi(upstream, formulae, key.privateKey, { generatedAt: 1795000000 });
    expect((await sync()).published).toBe(true);
    publishApi(upstream, formulae, key.privateKey, { generatedAt: 1795000000 + WEEK });
    const current = await sync();
    expect(current.published).toBe(true);
    // Last week's file, still correctly signed, served again (a stale cache or someone in the path).
    publishApi(upstream, formulae, key.privateKey, { generatedAt: 1795000000 });
    const replayed = await sync();
    expect(replayed).toMatchObject({
      published: false,
      errorKind: 'upstream-input',
      error: `${file} was generated at ${new Date(1795000000 * 1000).toISOString()}, before the published one (${new Date((1795000000 + WEEK) * 1000).toISOString()}); a replayed file is not published (if it is intended, pass --force)`,
    });
    expect((await stores().state.getPublished())!.generation).toBe(current.generation);
    const forced = await sync({ force: true });
    expect(forced.published).toBe(true);
    expect((await stores().state.getPublished())!.packagesGeneratedAt).toMatchObject({ [file]: 1795000000 });
  });

  test('the same or a newer time is published, and a generation recorded before the times were kept imposes nothing', async () => {
    const formulae = baseFormulae();
    publishApi(upstream, formulae, key.privateKey, { generatedAt: 1795000000 });
    const first = await sync();
    const { packagesGeneratedAt, ...older } = (await stores().state.getPublished())!;
    expect(packagesGeneratedAt).toEqual({ [file]: 1795000000, 'internal/packages.x86_64_linux.jws.json': 1795000000 });
    expect(await stores().state.setPublished(older, first.generation)).toBe(true);
    publishApi(upstream, formulae, key.privateKey, { generatedAt: 1794000000 });
    expect((await sync()).published).toBe(true);
  });
});

describe('one odd formula does not abort the run', () => {
  const odd = (name: string) => ({
    name,
    versions: { stable: '1.0' },
    revision: 0,
    bottle: { stable: { rebuild: 0, root_url: upstream.registryRoot, files: { arm64_sequoia: { cellar: ':any', sha256: 'a'.repeat(64), url: `${upstream.registryRoot}/x/blobs/sha256:${'a'.repeat(64)}` } } } },
  });
  /** Re-signs the fixture's formula.jws.json with `extra` entries appended. */
  function appendFormulae(extra: unknown[]) {
    const formulae = JSON.parse(JSON.parse(upstream.apiFile('formula.jws.json')!.toString('utf8')).payload) as unknown[];
    upstream.setApiFile('formula.jws.json', signApiFile(JSON.stringify([...formulae, ...extra]), key.privateKey));
  }

  test('an unsafe or over-long name is skipped, reported, and counted against the missing limit', async () => {
    publishApi(upstream, baseFormulae(), key.privateKey);
    appendFormulae([odd('has space'), odd('n'.repeat(300))]);
    // 5 good bottles and 2 skipped: 2 of 7 missing is 28.6 %.
    const refused = await sync({ maxMissingPercent: 20 });
    expect(refused.published).toBe(false);
    expect(refused.error).toMatch(/2 of 7 bottles \(28.57%\) are permanently missing/);
    expect(refused.failures.map((f) => f.name.slice(0, 12))).toEqual(['has space', 'n'.repeat(12)]);
    expect(refused.failures[0]).toMatchObject({ tag: 'arm64_sequoia', reason: expect.stringMatching(/^skipped: unsafe formula name/) });
    expect(blobCount()).toBe(5); // the good bottles were still copied

    const accepted = await sync({ maxMissingPercent: 30 });
    expect(accepted).toMatchObject({ published: true, bottles: { failed: 2 } });
    // The published generation serves the good formulae; the skipped ones were never requested upstream.
    expect(upstream.requests.some((r) => r.path.includes('/x/'))).toBe(false);
  });
});
