import { BrewRecord, brewBlobs, loadBrewRecord } from './brew/brew-record';
import { caskBlobs, loadCaskRecord } from './casks/cask-record';
import { ObjectStore } from './ports';
import { TapRecord, loadTapRecord, tapBlobs } from './taps/tap-record';

/**
 * Blobs a generation names besides its bottles, from its `_mirror/` records:
 * brew.git's packs and the portable Rubies (brew.json), cask files
 * (casks.json), and each tap's packs and downloads (taps.json). One place, so
 * the orphan marks, housekeeping, export and import agree on what a
 * generation keeps.
 */
export async function recordedBlobs(objects: Pick<ObjectStore, 'getObject'>, generation: string): Promise<string[]> {
  const [brew, casks, taps] = await Promise.all([loadBrewRecord(objects, generation), loadCaskRecord(objects, generation), loadTapRecord(objects, generation)]);
  return [...new Set([...brewBlobs(brew), ...caskBlobs(casks), ...tapBlobs(taps)])];
}

/** The blobs a bundle's brew.json or taps.json names, or why it cannot be read. */
export function blobsNamedIn(file: 'brew.json' | 'taps.json', body: Buffer): string[] | string {
  try {
    const record = JSON.parse(body.toString('utf8')) as BrewRecord & TapRecord;
    return file === 'brew.json' ? brewBlobs(record) : tapBlobs(record);
  } catch {
    return `${file} is not JSON`;
  }
}
