import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { jsonLogger } from '../../engine/logger';
import { SYNC_LEASE, acquireRunLease, startHeartbeat } from '../../engine/sync/lease';
import { runSync } from '../../engine/sync/run-sync';
import { Upstream } from '../../engine/upstream/client';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { publishApi, signApiFile, testSigningKey } from '../fixtures/homebrew-api';
import { HostileUpstream, startHostileUpstream } from '../fixtures/hostile-upstream';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { bundleCli } from '../fixtures/cli-bundle';

/**
 * Issue #12 item 14: after kill -9, Ctrl-C or a stalled run, the next sync
 * proceeds at once, the dead run is recorded as abandoned, and nothing it
 * staged stays behind. The killed and interrupted syncs are the real
 * `bottles` command in a child process.
 */

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-crash-'));
const binary = path.join(work, 'bottles.js');
bundleCli(binary);
const key = testSigningKey();
const pemFile = path.join(work, 'key.pem');
fs.writeFileSync(pemFile, key.publicKey.export({ type: 'spki', format: 'pem' }));

let upstream: FixtureUpstream;
let hostile: HostileUpstream;
let store: string;
const log = jsonLogger({}, () => undefined);

beforeEach(async () => {
  upstream = await startFixtureUpstream();
  hostile = await startHostileUpstream({ trickleMs: 20 });
  store = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-crash-store-'));
});
afterEach(async () => {
  await Promise.all([upstream.close(), hostile.close()]);
  fs.rmSync(store, { recursive: true, force: true });
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/**
 * Publishes a first generation, then points one new bottle at a trickling URL so the next run hangs mid-download.
 * The bottle is larger than the 1 MiB the directory store checks in memory, so it streams into a partial file.
 */
async function publishThenHang(): Promise<string> {
  publishApi(upstream, [{ name: 'wget', version: '1.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(1000) }] }], key.privateKey);
  const first = await runSync(localSyncDeps(store, { log }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey });
  expect(first.published).toBe(true);
  publishApi(upstream, [{ name: 'wget', version: '1.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(1000) }] }, { name: 'curl', version: '8.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(2 * 1024 * 1024) }] }], key.privateKey);
  const formulae = JSON.parse(JSON.parse(upstream.apiFile('formula.jws.json')!.toString('utf8')).payload);
  formulae[1].bottle.stable.files.arm64_sequoia.url = `${hostile.url}/trickle`;
  upstream.setApiFile('formula.jws.json', signApiFile(JSON.stringify(formulae), key.privateKey));
  return first.generation!;
}

function startSync(): { proc: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const proc = spawn(process.execPath, [binary, 'sync', '--store', store, '--api-url', upstream.apiRoot, '--public-key', pemFile, '--without-brew', '--json']);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

const partials = () => fs.readdirSync(path.join(store, 'blobs', 'sha256')).filter((f) => f.startsWith('.partial-'));
const generations = () => fs.readdirSync(path.join(store, 'api', 'generations')).sort();

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a sync killed with SIGKILL', () => {
  test('the next sync proceeds at once, records the dead run as abandoned and removes its partial file and staged generation', async () => {
    const published = await publishThenHang();
    const { proc, done } = startSync();
    await waitFor(() => partials().length === 1); // mid-download of the trickling bottle
    const killed = (await localStores(store).state.readLease(SYNC_LEASE))!;
    expect(killed.holder).toMatchObject({ host: os.hostname(), pid: proc.pid });
    expect(generations()).toEqual([published, killed.owner].sort()); // its staged generation
    proc.kill('SIGKILL');
    await done;

    const started = Date.now();
    // Short windows and retries: the trickling bottle fails fast, so the time measured is the lease's.
    const fast = { upstream: new Upstream({ limits: { throughputWindowMs: 300 } }), transfer: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } } };
    const next = await runSync(localSyncDeps(store, { log, ...fast }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey });
    expect(Date.now() - started).toBeLessThan(10_000); // not the old 15-minute wait
    expect(next.error ?? '').not.toMatch(/another sync is running/);
    const { state } = localStores(store);
    expect(await state.getRun(killed.owner!)).toMatchObject({ status: 'abandoned', error: expect.stringContaining(`run ${next.runId} took the lease over`) });
    expect(partials()).toEqual([]);
    expect(generations()).not.toContain(killed.owner);
    // The trickling bottle failed this run too; the published generation is the first one still.
    expect((await state.getPublished())!.generation).toBe(published);
  }, 30_000);
});

describe('Ctrl-C', () => {
  test('stops within seconds with exit 130: run recorded as interrupted, lease released, nothing staged left, mirror unchanged', async () => {
    const published = await publishThenHang();
    const { proc, done } = startSync();
    await waitFor(() => partials().length === 1);
    const runId = (await localStores(store).state.readLease(SYNC_LEASE))!.owner!;
    const signalled = Date.now();
    proc.kill('SIGINT');
    const result = await done;
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(result.code).toBe(130);
    const summary = JSON.parse(result.stdout.trim());
    expect(summary).toMatchObject({ runId, published: false, error: expect.stringMatching(/^interrupted: /) });
    const { state } = localStores(store);
    expect(await state.getRun(runId)).toMatchObject({ status: 'interrupted' });
    expect((await state.readLease(SYNC_LEASE))!.owner).toBeNull();
    expect(partials()).toEqual([]);
    expect(generations()).toEqual([published]);
    expect(fs.existsSync(path.join(store, 'runs', runId))).toBe(false);
    expect((await state.getPublished())!.generation).toBe(published);
  }, 30_000);
});

describe('the lease', () => {
  // A TTL long enough that a loaded machine's timer delays cannot lapse a lease that is being renewed.
  const policy = { ttlMs: 1500, heartbeatMs: 100 };

  test('a live holder is refused, named; one on another host that went silent is taken over after one TTL', async () => {
    const { state } = localStores(store);
    const elsewhere = { host: 'other-host', pid: 1234, startedAt: new Date().toISOString() };
    await state.putRun({ runId: 'silent-run', status: 'running', startedAt: elsewhere.startedAt });
    expect(await acquireRunLease(state, 'silent-run', { policy, holder: elsewhere })).toEqual({ acquired: true, abandoned: undefined });
    // Same host, but the pid is alive (this process): refused, with who holds it.
    const refused = await acquireRunLease(state, 'mine', { policy, holder: { ...elsewhere, host: 'other-host', pid: 99 }, isAlive: () => true });
    expect(refused).toMatchObject({ acquired: false, holder: elsewhere });
    // A different host cannot be checked: only the TTL frees it.
    expect((await acquireRunLease(state, 'mine', { policy, holder: { host: os.hostname(), pid: process.pid, startedAt: '' } })).acquired).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, policy.ttlMs + 50));
    expect(await acquireRunLease(state, 'mine', { policy, holder: { host: os.hostname(), pid: process.pid, startedAt: '' } })).toEqual({ acquired: true, abandoned: 'silent-run' });
  });

  test('the heartbeat renews only while the run makes progress: a stalled run lets its lease lapse', async () => {
    const { state } = localStores(store);
    const holder = { host: os.hostname(), pid: process.pid, startedAt: '' };
    await acquireRunLease(state, 'busy', { policy, holder });
    let progress = Date.now();
    const busy = setInterval(() => (progress = Date.now()), 20);
    const stopBusy = startHeartbeat(state, 'busy', policy, () => progress, log);
    await new Promise((resolve) => setTimeout(resolve, policy.ttlMs * 2));
    expect((await acquireRunLease(state, 'other', { policy, holder: { ...holder, pid: 1 }, isAlive: () => true })).acquired).toBe(false);
    clearInterval(busy); // the run stalls from here on
    await new Promise((resolve) => setTimeout(resolve, policy.ttlMs * 3));
    expect(await acquireRunLease(state, 'other', { policy, holder: { ...holder, pid: 1 }, isAlive: () => true })).toEqual({ acquired: true, abandoned: 'busy' });
    stopBusy();
  });
});
