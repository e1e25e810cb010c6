import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { jsonLogger } from '../../engine/logger';
import { loadSnapshot } from '../../engine/serve/snapshot';
import { SYNC_LEASE } from '../../engine/sync/lease';
import { runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { bundleCli } from '../fixtures/cli-bundle';

/** Issue #13 item 5: the store no longer only grows. */
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-gc-'));
const binary = path.join(work, 'bottles.js');
bundleCli(binary);
const key = testSigningKey();
let upstream: FixtureUpstream;
let root: string;
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
beforeEach(async () => {
  upstream = await startFixtureUpstream();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-gc-store-'));
});
afterEach(async () => {
  await upstream.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const log = jsonLogger({}, () => undefined);
const generations = () => fs.readdirSync(path.join(root, 'api', 'generations')).sort();
const blobs = () => fs.readdirSync(path.join(root, 'blobs', 'sha256')).filter((f) => !f.startsWith('.'));
const gc = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [binary, 'gc', '--store', root, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr })),
  );

/** Publishes `versions.length` generations; each version of wget replaces the previous bottle (orphaning it). */
async function publishSeries(versions: string[]): Promise<Map<string, string>[]> {
  const series: Map<string, string>[] = [];
  for (const version of versions) {
    const formulae: FixtureFormula[] = [
      { name: 'wget', version, bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(1000) }] },
      { name: 'curl', version: '8.0', bottles: [{ tag: 'arm64_sequoia', bytes: Buffer.from('the same curl bottle every time') }] },
    ];
    series.push(publishApi(upstream, formulae, key.privateKey));
    const summary = await runSync(localSyncDeps(root, { log }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey, maxDropPercent: 100 });
    expect(summary.published).toBe(true);
  }
  return series;
}

/** Back-dates an orphan mark (the grace period counts from it). */
const ageOrphan = (sha: string, days: number) => fs.writeFileSync(path.join(root, 'orphaned', sha), new Date(Date.now() - days * 86_400_000).toISOString());

test('every publish keeps the published generation and the two before it; staged plans go', async () => {
  await publishSeries(['1.0', '1.1', '1.2', '1.3', '1.4']);
  const published = (await localStores(root).state.getPublished())!.generation;
  expect(generations()).toHaveLength(3);
  expect(generations()).toContain(published);
  expect(fs.existsSync(path.join(root, 'runs')) ? fs.readdirSync(path.join(root, 'runs')) : []).toEqual([]);
  // Orphans stay within their grace period: every wget bottle is still stored.
  expect(blobs()).toHaveLength(6);
});

test('bottles gc: expired orphans go unless a kept generation names them; old run records go; the mirror still loads', async () => {
  const series = await publishSeries(['1.0', '1.1', '1.2']);
  const [first, second] = series.map((s) => s.get('wget:arm64_sequoia')!);
  ageOrphan(first, 100);
  ageOrphan(second, 100); // named by a generation --keep 2 keeps
  fs.mkdirSync(path.join(root, 'runs', 'stale-run', 'batches'), { recursive: true });
  const oldRecord = path.join(root, 'state', 'runs', 'old-run.json');
  fs.writeFileSync(oldRecord, '{"runId":"old-run","status":"failed","startedAt":"2024-01-01T00:00:00Z"}');
  fs.utimesSync(oldRecord, new Date('2024-01-01'), new Date('2024-01-01'));

  const result = await gc('--keep', '2', '--json');
  expect(result.code).toBe(0);
  const report = JSON.parse(result.stdout);
  expect(report).toMatchObject({ generationsRemoved: [expect.any(String)], stagedRunsRemoved: 1, runRecordsRemoved: 1, orphansRemoved: 1, bytesFreed: 1000 });
  expect(generations()).toHaveLength(2);
  expect(blobs()).not.toContain(first);
  expect(blobs()).toContain(second); // past its grace, but the kept older generation names it
  expect(fs.existsSync(path.join(root, 'orphaned', first))).toBe(false);
  expect(fs.existsSync(oldRecord)).toBe(false);
  expect(fs.existsSync(path.join(root, 'state', 'runs', '_latest.json'))).toBe(true);
  const published = (await localStores(root).state.getPublished())!;
  expect((await loadSnapshot(localStores(root).objects, published)).bottles.size).toBe(2);

  const human = await gc();
  expect(human.stdout).toBe('kept 2 generation(s), removed 0; removed 0 orphaned bottle(s) (0 B), 0 staged plan(s), 0 run record(s)\n');
});

test('bottles gc refuses while a sync holds the lease, and removes nothing', async () => {
  await publishSeries(['1.0', '1.1', '1.2', '1.3']);
  fs.mkdirSync(path.join(root, 'runs', 'in-flight'), { recursive: true });
  await localStores(root).state.acquireLease(SYNC_LEASE, 'running-sync', 60_000, { holder: { host: 'elsewhere', pid: 1, startedAt: new Date().toISOString() } });
  const result = await gc('--keep', '1');
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^bottles: another sync is running \(pid 1 on elsewhere/);
  expect(generations()).toHaveLength(3);
  expect(fs.existsSync(path.join(root, 'runs', 'in-flight'))).toBe(true);
  expect((await gc('--keep', '0')).code).toBe(2);
});
