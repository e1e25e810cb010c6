import { WantedBottle, wantedBottles } from '../../engine/homebrew/wanted-bottles';
import { planSync } from '../../engine/sync/plan';
import { DEFAULT_ROUTING, routePlan } from '../../engine/sync/route';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const sha = (n: number) => n.toString(16).padStart(64, '0');

/** Synthetic formula API: `count` formulae with one bottle each on `tags`. */
function api(count: number, tags = ['arm64_sonoma']): WantedBottle[] {
  return wantedBottles(
    Array.from({ length: count }, (_, i) => ({
      name: `f${i}`,
      versions: { stable: '1.0' },
      bottle: {
        stable: {
          rebuild: 0,
          files: Object.fromEntries(tags.map((tag, t) => [tag, { sha256: sha(i * tags.length + t + 1), url: `https://ghcr.io/v2/homebrew/core/f${i}/blobs/sha256:${sha(i * tags.length + t + 1)}` }])),
        },
      },
    })),
  );
}

describe('planning', () => {
  test('a fresh store transfers every distinct blob; sizes add up', () => {
    const wanted = api(3);
    const sizes = new Map(wanted.map((b, i) => [b.sha256, (i + 1) * MIB]));
    const plan = planSync(wanted, sizes, new Set());
    expect(plan.transfers.map((t) => t.size)).toEqual([3 * MIB, 2 * MIB, 1 * MIB]);
    expect(plan).toMatchObject({ wantedBlobs: 3, skipped: 0, orphans: [], bytesToTransfer: 6 * MIB, unknownSizes: 0 });
  });

  test('stored blobs are skipped, so a second plan after a full sync is empty', () => {
    const wanted = api(4);
    const plan = planSync(wanted, new Map(), new Set(wanted.map((b) => b.sha256)));
    expect(plan.transfers).toEqual([]);
    expect(plan.skipped).toBe(4);
  });

  test('one changed bottle: only its new blob transfers and the old one becomes an orphan', () => {
    const before = api(3);
    const after = before.map((b, i) => (i === 1 ? { ...b, sha256: sha(999) } : b));
    const plan = planSync(after, new Map([[sha(999), 5 * MIB]]), new Set(before.map((b) => b.sha256)));
    expect(plan.transfers.map((t) => t.sha256)).toEqual([sha(999)]);
    expect(plan.orphans).toEqual([before[1].sha256]);
    expect(plan.bytesToTransfer).toBe(5 * MIB);
  });

  test('identical bottles (same sha256 under two names or tags) are transferred once', () => {
    const wanted = api(2);
    const duplicate = { ...wanted[1], name: 'alias', sha256: wanted[0].sha256 };
    const plan = planSync([...wanted, duplicate], new Map(), new Set());
    expect(plan.wantedBlobs).toBe(2);
    expect(plan.transfers).toHaveLength(2);
    expect(plan.unknownSizes).toBe(2);
  });
});

describe('routing across the Lambda threshold', () => {
  const planOf = (sizes: number[]) => {
    const wanted = api(sizes.length);
    return planSync(wanted, new Map(wanted.map((b, i) => [b.sha256, sizes[i]])), new Set());
  };

  test('nothing to transfer dispatches nothing', () => {
    expect(routePlan(planOf([]))).toEqual({ kind: 'nothing' });
  });

  test('at most the threshold: worker batches bounded by bytes and by count', () => {
    const route = routePlan(planOf([3 * GIB, 3 * GIB, 2 * GIB, 1 * GIB, 1 * GIB]));
    expect(route.kind).toBe('lambda');
    if (route.kind !== 'lambda') return;
    const batchBytes = route.batches.map((b) => b.reduce((s, t) => s + (t.size ?? 0), 0));
    expect(batchBytes.every((bytes) => bytes <= DEFAULT_ROUTING.maxBatchBytes)).toBe(true);
    expect(batchBytes.reduce((a, b) => a + b, 0)).toBe(10 * GIB);
    expect(route.batches).toHaveLength(3); // 3+1, 3+1, 2

    const many = routePlan(planOf(Array.from({ length: 450 }, () => MIB)), { ...DEFAULT_ROUTING, maxBatchItems: 200 });
    expect(many.kind === 'lambda' && many.batches.map((b) => b.length)).toEqual([200, 200, 50]);
  });

  test('exactly 20 GiB stays on Lambda; one byte more goes to Fargate', () => {
    expect(routePlan(planOf([4 * GIB, 4 * GIB, 4 * GIB, 4 * GIB, 4 * GIB])).kind).toBe('lambda');
    const over = routePlan(planOf([4 * GIB, 4 * GIB, 4 * GIB, 4 * GIB, 4 * GIB, 1]));
    expect(over).toEqual({ kind: 'fargate', reason: `${20 * GIB + 1} bytes exceed the Lambda threshold of ${20 * GIB}` });
  });

  test('a single bottle too big for a worker goes to Fargate even under the threshold', () => {
    const route = routePlan(planOf([5 * GIB]));
    expect(route).toEqual({ kind: 'fargate', reason: `f0 arm64_sonoma (${5 * GIB} bytes) is larger than a worker batch` });
  });

  test('unknown sizes are estimated, not ignored, when routing', () => {
    const wanted = api(400);
    const plan = planSync(wanted, new Map(), new Set());
    const route = routePlan(plan, { ...DEFAULT_ROUTING, lambdaThresholdBytes: 10 * GIB, unknownSizeEstimate: 64 * MIB });
    expect(route.kind).toBe('fargate'); // 400 × 64 MiB = 25 GiB estimated
  });
});
