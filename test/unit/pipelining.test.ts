import { ReadAhead, WriteBehind, forEachLimited } from '../../engine/transfer/pipelining';

/** A promise with its resolve and reject handed out, to hold a write open. */
function gate<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A WriteBehind holding one slow write open and one that has failed with `message`. */
async function slowAndFailed(message: string) {
  const behind = new WriteBehind(4);
  const slow = gate();
  const state = { slowDone: false };
  await behind.add(async () => {
    await slow.promise;
    state.slowDone = true;
  });
  await behind.add(async () => Promise.reject(new Error(message)));
  return { behind, slow, state };
}

describe('WriteBehind: store writes overlapped with reading a bundle', () => {
  test('never runs more than its limit at once, and add waits for room', async () => {
    const behind = new WriteBehind(2);
    const gates = [gate(), gate(), gate()];
    let running = 0;
    let most = 0;
    const write = (i: number) => async () => {
      running++;
      most = Math.max(most, running);
      await gates[i].promise;
      running--;
    };
    await behind.add(write(0));
    await behind.add(write(1));
    let thirdAdded = false;
    const third = behind.add(write(2)).then(() => (thirdAdded = true));
    await tick();
    expect(thirdAdded).toBe(false); // two are running: the third waits
    gates[0].resolve();
    await third;
    expect(thirdAdded).toBe(true);
    gates[1].resolve();
    gates[2].resolve();
    await behind.drain();
    expect(most).toBe(2);
    expect(running).toBe(0);
  });

  test('the first failure is thrown by the next add, and by drain once every write has finished', async () => {
    const { behind, slow, state } = await slowAndFailed('disk full');
    await behind.add(async () => Promise.reject(new Error('second')));
    await tick();
    await expect(behind.add(async () => undefined)).rejects.toThrow('disk full');
    const drained = behind.drain();
    slow.resolve();
    await expect(drained).rejects.toThrow('disk full');
    expect(state.slowDone).toBe(true);
  });

  test('settle waits for every write and throws nothing', async () => {
    const { behind, slow, state } = await slowAndFailed('broken');
    const settled = behind.settle();
    slow.resolve();
    await expect(settled).resolves.toBeUndefined();
    expect(state.slowDone).toBe(true);
  });
});

test('forEachLimited calls every item once, at most `limit` at once', async () => {
  let running = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    running++;
    most = Math.max(most, running);
    await tick();
    seen.push(n);
    running--;
  });
  expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  expect(most).toBe(3);
});

describe('ReadAhead: small files read before their turn, handed over in order', () => {
  test('keeps the order whatever order the reads finish in, and reads at most `limit` ahead', async () => {
    const reads = new Map<string, ReturnType<typeof gate<Buffer>>>();
    const started: string[] = [];
    const items = ['a', 'big', 'c', 'd', 'e'];
    const ahead = new ReadAhead(items, 3, (item) => {
      if (item === 'big') return undefined; // streamed by the caller
      started.push(item);
      const g = gate<Buffer>();
      reads.set(item, g);
      return g.promise;
    });
    const first = ahead.shift();
    await tick();
    expect(started).toEqual(['a', 'c']); // three items ahead: a, big (not read), c
    reads.get('c')!.resolve(Buffer.from('C'));
    reads.get('a')!.resolve(Buffer.from('A'));
    expect(await first).toEqual({ item: 'a', body: Buffer.from('A') });
    expect(await ahead.shift()).toEqual({ item: 'big', body: undefined });
    expect(started).toEqual(['a', 'c', 'd']); // never more than three held: big, c, d
    expect(await ahead.shift()).toEqual({ item: 'c', body: Buffer.from('C') });
    expect(started).toEqual(['a', 'c', 'd', 'e']);
    reads.get('d')!.resolve(Buffer.from('D'));
    reads.get('e')!.resolve(Buffer.from('E'));
    expect((await ahead.shift())!.item).toBe('d');
    expect((await ahead.shift())!.item).toBe('e');
    expect(await ahead.shift()).toBeUndefined();
  });

  test('a failed read is thrown when its turn comes, not before', async () => {
    const ahead = new ReadAhead(['ok', 'bad'], 2, (item) => (item === 'bad' ? Promise.reject(new Error('damaged')) : Promise.resolve(Buffer.from(item))));
    expect((await ahead.shift())!.item).toBe('ok');
    await expect(ahead.shift()).rejects.toThrow('damaged');
  });
});
