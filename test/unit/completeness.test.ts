import { LIST_INSTEAD_OF_HEAD_ABOVE, missingObjects } from '../../engine/serve/completeness';
import { GenerationSnapshot } from '../../engine/serve/snapshot';
import { blobKey, bottleIndexKey } from '../../engine/store-layout';
import { BlobStore, ObjectStore } from '../../engine/ports';

/* eslint-disable @typescript-eslint/no-explicit-any */
const sha = (i: number) => i.toString(16).padStart(64, '0');
const snapshot = (generation: string, blobs: string[]): GenerationSnapshot =>
  ({ generation: { generation }, blobs: new Set(blobs), manifests: new Set<string>() }) as any;

/** A store holding `stored`, counting the HEADs and listings it answers. */
function stores(stored: Set<string>) {
  const calls = { heads: 0, listings: 0 };
  const blobs = {
    has: async (s: string) => (calls.heads++, stored.has(s)),
    list: async function* () {
      calls.listings++;
      yield* stored;
    },
  } as unknown as BlobStore;
  const objects = { hasObject: async () => true } as unknown as ObjectStore;
  return { stores: { blobs, objects }, calls };
}

describe('which objects of a generation a store lacks', () => {
  test('a weekly run’s few new bottles: one HEAD each, nothing for the bottles already served', async () => {
    const served = Array.from({ length: 5000 }, (_, i) => sha(i));
    const added = [sha(90_001), sha(90_002), sha(90_003)];
    const { stores: s, calls } = stores(new Set([...served, added[0], added[1]]));
    const missing = await missingObjects(s, snapshot('g2', [...served, ...added]), snapshot('g1', served));
    expect(missing).toEqual({ count: 1, examples: [blobKey(added[2])] });
    expect(calls).toEqual({ heads: 3, listings: 0 });
  });

  test(`a task starting with no generation: above ${LIST_INSTEAD_OF_HEAD_ABOVE} new bottles, one listing instead of a HEAD each`, async () => {
    const all = Array.from({ length: 43_125 }, (_, i) => sha(i));
    const { stores: s, calls } = stores(new Set(all.slice(0, -2)));
    const missing = await missingObjects(s, snapshot('g1', all), undefined);
    expect(missing.count).toBe(2);
    expect(missing.examples).toEqual([blobKey(all[43_123]), blobKey(all[43_124])]);
    expect(calls).toEqual({ heads: 0, listings: 1 });
  });

  test('the bottle index is required whatever else is there', async () => {
    const { stores: s } = stores(new Set([sha(1)]));
    const noIndex = { ...s, objects: { hasObject: async (key: string) => key !== bottleIndexKey('g1') } as unknown as ObjectStore };
    expect(await missingObjects(noIndex, snapshot('g1', [sha(1)]), undefined)).toEqual({ count: 1, examples: [bottleIndexKey('g1')] });
  });
});
