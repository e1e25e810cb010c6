import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { AcquireOptions, LeaseHolder, LeaseState, PublishedGeneration, RunRecord, StateStore, WriterPin } from '../../ports';

const NAME = /^[A-Za-z0-9_.-]+$/;
const VERSION = /^(\d{12})\.json$/;
/** Versions kept behind the newest one; older ones are pruned (nobody reads them). */
const KEEP_VERSIONS = 16;

interface Lease {
  owner: string | null;
  expiresAt: number;
  holder?: LeaseHolder;
}

/**
 * Sync state embedded in the store directory (`<root>/state/`), so `bottles
 * sync` needs no server.
 *
 * Contended records (leases, the published pointer, countdowns) are
 * directories of numbered versions. Writing version n+1 is a compare-and-swap:
 * the content is written aside and hard-linked to `<n+1>.json`, which fails
 * if another writer got there first. No step ever reads a half-written file
 * or replaces someone else's write, so concurrent processes on one machine
 * agree without a lock server.
 */
export class FileStateStore implements StateStore {
  private readonly dir: string;

  constructor(
    root: string,
    private readonly now: () => number = Date.now,
  ) {
    this.dir = path.join(root, 'state');
  }

  private path(...parts: string[]): string {
    for (const part of parts) if (!NAME.test(part)) throw new Error(`unsafe state name ${JSON.stringify(part)}`);
    return path.join(this.dir, ...parts);
  }

  /** Newest version of a versioned record. */
  private async latest<T>(record: string): Promise<{ version: number; value: T } | undefined> {
    for (;;) {
      const names = await fs.readdir(record).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [] as string[];
        throw error;
      });
      const versions = names.map((n) => VERSION.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
      if (versions.length === 0) return undefined;
      const version = Math.max(...versions);
      try {
        const value = JSON.parse(await fs.readFile(path.join(record, `${String(version).padStart(12, '0')}.json`), 'utf8')) as T;
        return { version, value };
      } catch (error) {
        // Pruned by writers racing far ahead of this reader: look again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }

  /** Writes `value` as `version` unless that version exists already; true if this call wrote it. */
  private async compareAndSwap(record: string, version: number, value: unknown): Promise<boolean> {
    await fs.mkdir(record, { recursive: true });
    const candidate = path.join(record, `.${randomUUID()}.candidate`);
    await fs.writeFile(candidate, JSON.stringify(value));
    try {
      await fs.link(candidate, path.join(record, `${String(version).padStart(12, '0')}.json`));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await fs.rm(candidate, { force: true });
    }
    const stale = version - KEEP_VERSIONS;
    if (stale > 0) await fs.rm(path.join(record, `${String(stale).padStart(12, '0')}.json`), { force: true });
    return true;
  }

  /** Applies `change` to the newest value until a compare-and-swap succeeds; `undefined` from `change` means no write. */
  private async update<T, R>(record: string, change: (current: T | undefined) => { next: T; result: R } | { result: R }): Promise<R> {
    for (;;) {
      const current = await this.latest<T>(record);
      const decision = change(current?.value);
      if (!('next' in decision)) return decision.result;
      if (await this.compareAndSwap(record, (current?.version ?? 0) + 1, decision.next)) return decision.result;
    }
  }

  private async writeJson(file: string, value: unknown): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.${randomUUID()}.partial`;
    await fs.writeFile(partial, `${JSON.stringify(value, null, 2)}\n`);
    await fs.rename(partial, file);
  }

  async acquireLease(name: string, owner: string, ttlMs: number, options: AcquireOptions = {}): Promise<boolean> {
    return this.update<Lease, boolean>(this.path('leases', name), (current) => {
      const held = current && current.owner !== null && current.expiresAt > this.now();
      if (held && current.owner !== owner && current.owner !== options.takeOverFrom) return { result: false };
      return { next: { owner, expiresAt: this.now() + ttlMs, holder: options.holder }, result: true };
    });
  }

  async readLease(name: string): Promise<LeaseState | undefined> {
    const lease = (await this.latest<Lease>(this.path('leases', name)))?.value;
    return lease && { owner: lease.owner, expiresAtMs: lease.expiresAt, holder: lease.holder };
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.update<Lease, boolean>(this.path('leases', name), (current) =>
      current?.owner === owner ? { next: { ...current, expiresAt: this.now() + ttlMs }, result: true } : { result: false },
    );
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.update<Lease, void>(this.path('leases', name), (current) =>
      current?.owner === owner ? { next: { owner: null, expiresAt: 0 }, result: undefined } : { result: undefined },
    );
  }

  async readWriterPin(): Promise<WriterPin | undefined> {
    return (await this.latest<WriterPin | null>(this.path('writer')))?.value ?? undefined;
  }

  async pinWriter(pin: WriterPin | undefined): Promise<void> {
    await this.update<WriterPin | null, void>(this.path('writer'), () => ({ next: pin ?? null, result: undefined }));
  }

  async getPublished(): Promise<PublishedGeneration | undefined> {
    return (await this.latest<PublishedGeneration>(this.path('published')))?.value;
  }

  async setPublished(next: PublishedGeneration, expected: string | undefined): Promise<boolean> {
    return this.update<PublishedGeneration, boolean>(this.path('published'), (current) =>
      current?.generation === expected ? { next, result: true } : { result: false },
    );
  }

  async putRun(run: RunRecord): Promise<void> {
    await this.writeJson(this.path('runs', `${run.runId}.json`), run);
    await this.writeJson(this.path('runs', '_latest.json'), run);
  }

  async latestRun(): Promise<RunRecord | undefined> {
    return this.getRun('_latest');
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.path('runs', `${runId}.json`), 'utf8')) as RunRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async startCountdown(runId: string, outstanding: number): Promise<void> {
    await this.update<{ outstanding: number }, void>(this.path('countdowns', runId), () => ({ next: { outstanding }, result: undefined }));
  }

  async addToCountdown(runId: string, delta: number): Promise<number> {
    return this.update<{ outstanding: number }, number>(this.path('countdowns', runId), (current) => {
      const outstanding = (current?.outstanding ?? 0) + delta;
      return { next: { outstanding }, result: outstanding };
    });
  }
}
