import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { PublishedGeneration, RunRecord, StateStore } from '../../ports';

const NAME = /^[A-Za-z0-9_.-]+$/;

interface LeaseFile {
  owner: string;
  expiresAt: number;
}

/**
 * Sync state embedded in the store directory (`<root>/state/`), so `bottles
 * sync` needs no server. Every write is write-then-rename (atomic on POSIX).
 * Leases are files created with O_EXCL; an expired lease is taken over by
 * renaming it away first, which only one contender can do.
 */
export class FileStateStore implements StateStore {
  private readonly dir: string;

  constructor(
    root: string,
    private readonly now: () => number = Date.now,
  ) {
    this.dir = path.join(root, 'state');
  }

  private file(...parts: string[]): string {
    for (const part of parts) if (!NAME.test(part)) throw new Error(`unsafe state name ${JSON.stringify(part)}`);
    return path.join(this.dir, ...parts);
  }

  private async readJson<T>(file: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fs.readFile(file, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async writeJson(file: string, value: unknown): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.${randomUUID()}.partial`;
    await fs.writeFile(partial, `${JSON.stringify(value, null, 2)}\n`);
    await fs.rename(partial, file);
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const file = this.file('leases', `${name}.json`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const lease: LeaseFile = { owner, expiresAt: this.now() + ttlMs };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(file, JSON.stringify(lease), { flag: 'wx' });
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const current = await this.readJson<LeaseFile>(file);
      if (current && current.expiresAt > this.now()) return current.owner === owner;
      // Expired (or vanished): move it aside; only one contender's rename succeeds.
      try {
        await fs.rename(file, `${file}.expired-${randomUUID()}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return false;
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const file = this.file('leases', `${name}.json`);
    const current = await this.readJson<LeaseFile>(file);
    if (!current || current.owner !== owner) return false;
    await this.writeJson(file, { owner, expiresAt: this.now() + ttlMs });
    return true;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    const file = this.file('leases', `${name}.json`);
    const current = await this.readJson<LeaseFile>(file);
    if (current?.owner === owner) await fs.rm(file, { force: true });
  }

  async getPublished(): Promise<PublishedGeneration | undefined> {
    return this.readJson<PublishedGeneration>(this.file('published.json'));
  }

  async setPublished(next: PublishedGeneration, expected: string | undefined): Promise<boolean> {
    // Serialize the compare-and-swap with a short lease of its own.
    const owner = randomUUID();
    for (let i = 0; i < 50 && !(await this.acquireLease('published-pointer', owner, 10_000)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    try {
      const current = await this.getPublished();
      if (current?.generation !== expected) return false;
      await this.writeJson(this.file('published.json'), next);
      return true;
    } finally {
      await this.releaseLease('published-pointer', owner);
    }
  }

  async putRun(run: RunRecord): Promise<void> {
    await this.writeJson(this.file('runs', `${run.runId}.json`), run);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.readJson<RunRecord>(this.file('runs', `${runId}.json`));
  }
}
