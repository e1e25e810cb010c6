import { promises as fs } from 'fs';
import * as path from 'path';
import { decodeBottleIndex } from '../../bottle-index';
import { formulaEntries, wantedBottles } from '../../homebrew/wanted-bottles';
import { Housekeeping, HousekeepingPolicy, HousekeepingReport, StateStore } from '../../ports';
import { STORE_PREFIXES, apiKey, bottleIndexKey, isSha256, keySegments } from '../../store-layout';
import { recordedBlobs } from '../../generation-records';

/**
 * Housekeeping of a directory store, what the bucket's lifecycle rules do in
 * AWS: keeps the published generation and the few before it, drops staged
 * plans and old run records, and deletes orphaned blobs once their grace
 * period is over unless a kept generation still names them. Called only by
 * the holder of the run lease (after a publish, or `bottles gc`).
 */
export class DirectoryHousekeeping implements Housekeeping {
  constructor(
    private readonly root: string,
    private readonly state: StateStore,
  ) {}

  private dir(prefix: string): string {
    return path.join(this.root, ...keySegments(prefix.replace(/\/$/, '')));
  }

  async collect(policy: HousekeepingPolicy, now: Date): Promise<HousekeepingReport> {
    const published = await this.state.getPublished();
    const generationsDir = this.dir(STORE_PREFIXES.api);
    const generations = await newestFirst(generationsDir);
    // The published one, and the newest others up to the count (rollback targets).
    const kept = new Set(published ? [published.generation] : []);
    for (const g of generations) if (kept.size < policy.keepGenerations && g !== published?.generation) kept.add(g);
    const dropped = generations.filter((g) => !kept.has(g));
    for (const g of dropped) await fs.rm(path.join(generationsDir, g), { recursive: true, force: true });

    const runsDir = this.dir(STORE_PREFIXES.runs);
    const stagedRuns = await list(runsDir);
    for (const run of stagedRuns) await fs.rm(path.join(runsDir, run), { recursive: true, force: true });

    const runRecords = await this.dropOldRunRecords(now, policy.runRecordDays);
    const { blobs, bytes } = await this.dropExpiredOrphans(now, policy.orphanGraceDays, [...kept]);
    return { generationsKept: [...kept], generationsRemoved: dropped, stagedRunsRemoved: stagedRuns.length, runRecordsRemoved: runRecords, orphansRemoved: blobs, bytesFreed: bytes };
  }

  private async dropOldRunRecords(now: Date, days: number): Promise<number> {
    const dir = path.join(this.root, 'state', 'runs');
    let removed = 0;
    for (const name of await list(dir)) {
      if (!name.endsWith('.json') || name === '_latest.json') continue;
      const stat = await fs.stat(path.join(dir, name)).catch(() => undefined);
      if (stat && now.getTime() - stat.mtimeMs > days * 86_400_000) {
        await fs.rm(path.join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** Orphans marked longer ago than the grace period, unless a kept generation names them again. */
  private async dropExpiredOrphans(now: Date, graceDays: number, kept: string[]): Promise<{ blobs: number; bytes: number }> {
    const marks = path.join(this.root, 'orphaned');
    const expired: string[] = [];
    for (const sha of await list(marks)) {
      if (!isSha256(sha)) continue;
      const markedAt = Date.parse(await fs.readFile(path.join(marks, sha), 'utf8').catch(() => ''));
      if (!Number.isNaN(markedAt) && now.getTime() - markedAt > graceDays * 86_400_000) expired.push(sha);
    }
    if (expired.length === 0) return { blobs: 0, bytes: 0 };
    const named = await this.blobsNamedBy(kept);
    let blobs = 0;
    let bytes = 0;
    for (const sha of expired) {
      if (named.has(sha)) continue;
      const file = path.join(this.dir(STORE_PREFIXES.blobs), sha);
      bytes += (await fs.stat(file).catch(() => undefined))?.size ?? 0;
      await fs.rm(file, { force: true });
      await fs.rm(path.join(marks, sha), { force: true });
      blobs++;
    }
    return { blobs, bytes };
  }

  private async blobsNamedBy(generations: string[]): Promise<Set<string>> {
    const named = new Set<string>();
    for (const generation of generations) {
      // brew.git, portable Rubies, cask files and taps: what the generation's `_mirror/` records name.
      const records = { getObject: (key: string) => fs.readFile(path.join(this.root, ...keySegments(key))).catch(() => undefined) };
      for (const sha of await recordedBlobs(records, generation)) named.add(sha);
      const index = await fs.readFile(path.join(this.root, ...keySegments(bottleIndexKey(generation)))).catch(() => undefined);
      if (index) {
        for (const b of decodeBottleIndex(index)) named.add(b.sha256);
        continue;
      }
      const formula = await fs.readFile(path.join(this.root, ...keySegments(apiKey(generation, 'formula.jws.json'))), 'utf8').catch(() => undefined);
      if (!formula) continue;
      const payload = (JSON.parse(formula) as { payload: string }).payload;
      for (const b of wantedBottles(formulaEntries(payload), undefined, true, [])) named.add(b.sha256);
    }
    return named;
  }
}

async function list(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
}

/**
 * Generation directories, newest first: by when they were staged (the
 * directory's mtime), then by id. Ids sort by their start second only, and
 * two runs can start in the same second.
 */
async function newestFirst(dir: string): Promise<string[]> {
  const names = await list(dir);
  const staged = await Promise.all(names.map(async (name) => ({ name, at: (await fs.stat(path.join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0 })));
  return staged.sort((a, b) => b.at - a.at || (a.name < b.name ? 1 : -1)).map((g) => g.name);
}
