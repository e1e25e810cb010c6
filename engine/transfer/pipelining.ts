/**
 * Overlapping a bundle's many small store operations. A Homebrew-size
 * generation is tens of thousands of small files (image indexes, bottles of a
 * few KB); done one after another, each costs a round of file-system or S3
 * latency and the transfer runs at a fraction of the disk's speed.
 */

/** What one worker holds in memory at most: files up to this size are read whole and written behind. */
export const PIPELINED_FILE_BYTES = 1024 * 1024;

/** Store operations in flight at once (`--concurrency`): at most this many × PIPELINED_FILE_BYTES of memory. */
export const DEFAULT_TRANSFER_CONCURRENCY = 16;

/**
 * Runs store writes in the background, at most `limit` at a time, while the
 * caller goes on reading the bundle. The first failure is kept and thrown by
 * the next `add` or by `drain`, which waits for every write.
 */
export class WriteBehind {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  async add(write: () => Promise<void>): Promise<void> {
    this.rethrow();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.rethrow();
    const task: Promise<void> = write()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
    this.rethrow();
  }

  /** Waits for every write, failed or not, and throws nothing (for cleanup after another error). */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error;
  }
}

/** Calls `each` on every item, at most `limit` at once. */
export async function forEachLimited<T>(items: Iterable<T>, limit: number, each: (item: T) => Promise<void>): Promise<void> {
  const pending = new WriteBehind(limit);
  for (const item of items) await pending.add(() => each(item));
  await pending.drain();
}

/**
 * Starts reading the next few small files while the current one is being
 * written, and hands them over in order. Large files (`null` from `load`'s
 * filter) are left to the caller to stream when their turn comes.
 */
export class ReadAhead<T> {
  private readonly queue: { item: T; body?: Promise<Buffer> }[] = [];
  private next = 0;

  constructor(
    private readonly items: readonly T[],
    private readonly limit: number,
    private readonly load: (item: T) => Promise<Buffer> | undefined,
  ) {}

  /** The next item, with its body when it was small enough to read ahead. */
  async shift(): Promise<{ item: T; body?: Buffer } | undefined> {
    while (this.queue.length < this.limit && this.next < this.items.length) {
      const item = this.items[this.next++];
      const body = this.load(item);
      body?.catch(() => undefined); // observed when its turn comes; not an unhandled rejection meanwhile
      this.queue.push({ item, body });
    }
    const head = this.queue.shift();
    if (!head) return undefined;
    return { item: head.item, body: head.body ? await head.body : undefined };
  }
}
