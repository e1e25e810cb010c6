import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DynamoDbStateStore } from '../../engine/adapters/aws/dynamodb-state-store';
import { FileStateStore } from '../../engine/adapters/local/file-state-store';
import { StateStore } from '../../engine/ports';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';

/** The same behaviour from both state adapters: embedded files (bottles CLI) and DynamoDB (dynalite). */
let dynamo: LocalDynamoDb;
let tmp: string;
let tables = 0;
let clock = 1_000_000;

beforeAll(async () => {
  dynamo = await startLocalDynamoDb();
});
afterAll(() => dynamo.close());
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-state-'));
  clock = 1_000_000;
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Factory = () => Promise<() => StateStore>;
const adapters: [string, Factory][] = [
  ['file', async () => () => new FileStateStore(tmp, () => clock)],
  [
    'dynamodb',
    async () => {
      const table = `state-${++tables}`;
      await dynamo.createStateTable(table);
      return () => new DynamoDbStateStore(dynamo.client, table, () => clock);
    },
  ],
];

describe.each(adapters)('%s state store', (_name, factory) => {
  test('the writer pin: absent, set, read by a fresh client, replaced, cleared', async () => {
    const store = await factory();
    expect(await store().readWriterPin()).toBeUndefined();
    await store().pinWriter({ region: 'us-west-2', since: '2026-11-27T12:00:00Z', reason: 'us-east-1 outage' });
    expect(await store().readWriterPin()).toEqual({ region: 'us-west-2', since: '2026-11-27T12:00:00Z', reason: 'us-east-1 outage' });
    await store().pinWriter({ region: 'us-east-1', since: '2026-11-29T08:00:00Z' });
    expect(await store().readWriterPin()).toEqual({ region: 'us-east-1', since: '2026-11-29T08:00:00Z' });
    await store().pinWriter(undefined);
    expect(await store().readWriterPin()).toBeUndefined();
  });

  test('of many simultaneous contenders exactly one takes the lease', async () => {
    const store = await factory();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store().acquireLease('sync', `run-${i}`, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('a crashed holder blocks only until its lease expires', async () => {
    const store = await factory();
    expect(await store().acquireLease('sync', 'crashed', 60_000)).toBe(true);
    expect(await store().acquireLease('sync', 'next', 60_000)).toBe(false);
    clock += 60_001;
    expect(await store().acquireLease('sync', 'next', 60_000)).toBe(true);
    expect(await store().renewLease('sync', 'crashed', 60_000)).toBe(false);
  });

  test('a lease records its holder; a dead holder is taken over only by naming it, and a renewal keeps the holder', async () => {
    const s = (await factory())();
    const holder = { host: 'builder-1', pid: 4242, startedAt: '2026-11-27T03:00:00.000Z' };
    expect(await s.readLease('sync')).toBeUndefined();
    expect(await s.acquireLease('sync', 'dead-run', 60_000, { holder })).toBe(true);
    expect(await s.readLease('sync')).toEqual({ owner: 'dead-run', expiresAtMs: clock + 60_000, holder });
    clock += 1000;
    expect(await s.renewLease('sync', 'dead-run', 60_000)).toBe(true);
    expect(await s.readLease('sync')).toEqual({ owner: 'dead-run', expiresAtMs: clock + 60_000, holder });
    // Unexpired: refused, unless the caller names the owner it knows to be dead.
    expect(await s.acquireLease('sync', 'next', 60_000, { takeOverFrom: 'someone-else' })).toBe(false);
    expect(await s.acquireLease('sync', 'next', 60_000, { takeOverFrom: 'dead-run' })).toBe(true);
    expect((await s.readLease('sync'))!.owner).toBe('next');
    // A second taker naming the same dead owner loses: the lease has moved on.
    expect(await s.acquireLease('sync', 'third', 60_000, { takeOverFrom: 'dead-run' })).toBe(false);
  });

  test('renew extends only the owner’s lease; release frees it only for the owner', async () => {
    const s = (await factory())();
    await s.acquireLease('sync', 'a', 1000);
    clock += 900;
    expect(await s.renewLease('sync', 'a', 1000)).toBe(true);
    clock += 900;
    expect(await s.acquireLease('sync', 'b', 1000)).toBe(false);
    await s.releaseLease('sync', 'b');
    expect(await s.acquireLease('sync', 'b', 1000)).toBe(false);
    await s.releaseLease('sync', 'a');
    expect(await s.acquireLease('sync', 'b', 1000)).toBe(true);
  });

  test('the published pointer flips by compare-and-swap', async () => {
    const store = await factory();
    const s = store();
    const gen = (generation: string) => ({ generation, runId: generation, publishedAt: '2026-11-22T03:10:00Z', files: ['formula.jws.json'] });
    expect(await s.getPublished()).toBeUndefined();
    expect(await s.setPublished(gen('g1'), undefined)).toBe(true);
    expect(await s.setPublished(gen('g2'), undefined)).toBe(false);
    const both = await Promise.all([s.setPublished(gen('g2'), 'g1'), store().setPublished(gen('g3'), 'g1')]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(['g2', 'g3']).toContain((await s.getPublished())!.generation);
    expect((await s.getPublished())!.files).toEqual(['formula.jws.json']);
  });

  test('the finalize countdown is atomic: of 30 concurrent finishes exactly one sees zero', async () => {
    const store = await factory();
    await store().startCountdown('r1', 30);
    expect(await store().addToCountdown('r1', 2)).toBe(32); // a batch handed work to two continuations
    const seen = await Promise.all(Array.from({ length: 32 }, () => store().addToCountdown('r1', -1)));
    expect(seen.filter((v) => v === 0)).toHaveLength(1);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i));
  });

  test('run records round-trip', async () => {
    const s = (await factory())();
    const run = { runId: 'r1', status: 'failed' as const, startedAt: '2026-11-22T03:00:00Z', error: 'x', failures: [{ name: 'a', tag: 'all', reason: 'HTTP 404', permanent: true }] };
    expect(await s.latestRun()).toBeUndefined();
    await s.putRun(run);
    expect(await s.getRun('r1')).toEqual(run);
    expect(await s.getRun('r2')).toBeUndefined();
    const later = { runId: 'r2', status: 'running' as const, startedAt: '2026-11-29T03:00:00Z' };
    await s.putRun(later);
    expect(await s.latestRun()).toEqual(later);
  });
});
