import { promises as fs } from 'fs';
import * as path from 'path';
import { RunLeftovers } from '../../ports';
import { STORE_PREFIXES, keySegments } from '../../store-layout';

/** Files a write in progress lives in until it is renamed into place (blob and object stores alike). */
const PARTIAL = /^\.partial-/;

/**
 * Cleans up after runs in a directory store: `.partial-*` files of writes a
 * crash cut short, and the staged objects (unpublished API generation, plan
 * and results) of runs that failed, were interrupted or were abandoned.
 * Called only by the holder of the run lease, so nothing it removes is in use.
 */
export class DirectoryRunLeftovers implements RunLeftovers {
  constructor(private readonly root: string) {}

  async removePartials(): Promise<number> {
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (PARTIAL.test(entry.name)) {
          await fs.rm(full, { force: true });
          removed++;
        }
      }
    };
    // Only the trees the stores write through `.partial-*` files; state/ has its own scheme.
    for (const prefix of [STORE_PREFIXES.blobs, STORE_PREFIXES.manifests, STORE_PREFIXES.api, STORE_PREFIXES.runs]) {
      await walk(path.join(this.root, ...keySegments(prefix.slice(0, -1))));
    }
    return removed;
  }

  async discardRun(runId: string): Promise<void> {
    for (const prefix of [STORE_PREFIXES.api, STORE_PREFIXES.runs]) {
      await fs.rm(path.join(this.root, ...keySegments(`${prefix}${runId}`)), { recursive: true, force: true });
    }
  }
}
