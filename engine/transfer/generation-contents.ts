import { decodeBottleIndex } from '../bottle-index';
import { brewBlobs, loadBrewRecord } from '../brew/brew-record';
import { caskBlobs, loadCaskRecord } from '../casks/cask-record';
import { ObjectStore } from '../ports';
import { apiKey, bottleIndexKey, brewRecordKey, caskRecordKey, installScriptKey, manifestKey, selectionRecordKey, tapRecordKey } from '../store-layout';
import { loadTapRecord, tapBlobs } from '../taps/tap-record';
import { BundleError } from './bundle-format';

/** Everything one generation is made of in a store, by key and digest. */
export interface GenerationContents {
  /** Its API files and `_mirror/` files, by store key. */
  readonly files: string[];
  /** Store keys of the image indexes its bottles name. */
  readonly manifests: Set<string>;
  /** Blobs it names: bottles, brew.git's packs, portable Rubies, cask files, taps' packs and downloads. */
  readonly blobs: Set<string>;
}

/**
 * What a generation names, from its bottle index, brew record and cask record (never from
 * formula.jws.json: a bundle is made of generations this version of the sync
 * wrote, which all have an index).
 */
export async function generationContents(objects: ObjectStore, generation: string, apiFiles: readonly string[]): Promise<GenerationContents> {
  const index = await objects.getObject(bottleIndexKey(generation));
  if (!index) throw new BundleError(`generation ${generation} is not in this store (no bottle index at ${bottleIndexKey(generation)})`);
  const manifests = new Set<string>();
  const blobs = new Set<string>();
  for (const bottle of decodeBottleIndex(index)) {
    manifests.add(manifestKey(bottle.image, bottle.manifestRef));
    blobs.add(bottle.sha256);
  }
  const brew = await loadBrewRecord(objects, generation);
  for (const sha of brewBlobs(brew)) blobs.add(sha);
  const files = apiFiles.map((file) => apiKey(generation, file));
  files.push(bottleIndexKey(generation));
  if (brew) files.push(brewRecordKey(generation));
  if (brew?.installScript) files.push(installScriptKey(generation));
  // Cask files are blobs like bottles: an import checks each hashes to its name.
  const casks = await loadCaskRecord(objects, generation);
  for (const sha of caskBlobs(casks)) blobs.add(sha);
  if (casks) files.push(caskRecordKey(generation));
  // A tap's packs and downloads too: its record names each by digest.
  const taps = await loadTapRecord(objects, generation);
  for (const sha of tapBlobs(taps)) blobs.add(sha);
  if (taps) files.push(tapRecordKey(generation));
  if (await objects.hasObject(selectionRecordKey(generation))) files.push(selectionRecordKey(generation));
  return { files, manifests, blobs };
}
