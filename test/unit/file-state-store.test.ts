import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileStateStore } from '../../engine/adapters/local/file-state-store';

let root: string;
let clock: number;
const store = () => new FileStateStore(root, () => clock);
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-state-'));
  clock = 1_000_000;
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('embedded state store', () => {
  test('of many simultaneous contenders exactly one takes the lease', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store().acquireLease('sync', `run-${i}`, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('a crashed holder blocks only until its lease expires', async () => {
    expect(await store().acquireLease('sync', 'crashed', 60_000)).toBe(true);
    expect(await store().acquireLease('sync', 'next', 60_000)).toBe(false);
    clock += 60_001;
    expect(await store().acquireLease('sync', 'next', 60_000)).toBe(true);
    expect(await store().renewLease('sync', 'crashed', 60_000)).toBe(false); // the old holder learns it lost the lease
  });

  test('renew extends only the owner’s lease; release frees it only for the owner', async () => {
    const s = store();
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
    const s = store();
    const gen = (generation: string) => ({ generation, runId: generation, publishedAt: '2026-11-22T03:10:00Z', files: ['formula.jws.json'] });
    expect(await s.getPublished()).toBeUndefined();
    expect(await s.setPublished(gen('g1'), undefined)).toBe(true);
    expect(await s.setPublished(gen('g2'), undefined)).toBe(false); // stale expectation
    const both = await Promise.all([s.setPublished(gen('g2'), 'g1'), store().setPublished(gen('g3'), 'g1')]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(['g2', 'g3']).toContain((await s.getPublished())!.generation);
  });

  test('run records round-trip; names cannot escape the state directory', async () => {
    const s = store();
    await s.putRun({ runId: 'r1', status: 'running', startedAt: '2026-11-22T03:00:00Z' });
    expect(await s.getRun('r1')).toEqual({ runId: 'r1', status: 'running', startedAt: '2026-11-22T03:00:00Z' });
    await expect(s.getRun('../../etc/passwd')).rejects.toThrow(/unsafe state name/);
  });
});
