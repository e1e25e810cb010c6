import { SYNC_DEFAULTS } from '../defaults';
import { WantedBottle } from '../homebrew/wanted-bottles';
import { ObjectStore } from '../ports';
import { OCI_INDEX_MEDIA_TYPE, manifestKey } from '../store-layout';
import { Upstream, UpstreamError, readAll } from './upstream';
import { MirrorError } from '../errors';

export class ManifestError extends MirrorError {
  readonly kind = 'upstream-input';
}

interface IndexEntry {
  annotations?: Record<string, string>;
}

/**
 * Bottle sizes from an OCI image index: `sh.brew.bottle.size` of the entry
 * whose `sh.brew.bottle.digest` is the bottle's sha256 (brew matches the same
 * way). Bottles without the annotation (old indexes) are left out.
 */
export function sizesFromIndex(index: Buffer): Map<string, number> {
  return readIndex(index).sizes;
}

export interface ManifestResult {
  /** Bottle sizes by sha256 across every index. */
  readonly sizes: Map<string, number>;
  /** Indexes fetched from upstream in this call (the rest were already stored). */
  readonly fetched: number;
  /** (image, ref) pairs upstream could not provide, with the reason; `permanent` when retrying cannot help. */
  readonly failures: { image: string; ref: string; reason: string; permanent: boolean }[];
}

/** The index's bottle digests (`sh.brew.bottle.digest`) and the sizes of those that give one, from one parse. */
function readIndex(index: Buffer): { digests: Set<string>; sizes: Map<string, number> } {
  let parsed: { manifests?: IndexEntry[] };
  try {
    parsed = JSON.parse(index.toString('utf8'));
  } catch {
    throw new ManifestError('image index is not JSON');
  }
  if (!Array.isArray(parsed.manifests)) throw new ManifestError('image index has no "manifests" array');
  const digests = new Set<string>();
  const sizes = new Map<string, number>();
  for (const entry of parsed.manifests) {
    const digest = entry.annotations?.['sh.brew.bottle.digest'];
    if (typeof digest !== 'string') continue;
    digests.add(digest);
    const size = Number(entry.annotations?.['sh.brew.bottle.size']);
    if (Number.isSafeInteger(size) && size >= 0) sizes.set(digest, size);
  }
  return { digests, sizes };
}

/** The index must name every wanted bottle of its (image, ref): a hostile or wrong index is never stored. Returns its sizes. */
function requireWantedDigests(index: Buffer, wanted: readonly string[], image: string, ref: string): Map<string, number> {
  const { digests, sizes } = readIndex(index);
  const missing = wanted.filter((sha) => !digests.has(sha));
  if (missing.length > 0) throw new ManifestError(`image index ${image}:${ref} names no entry for bottle ${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  return sizes;
}

/**
 * Mirrors the OCI image index of every (image, manifest ref) in `wanted`,
 * byte for byte. Indexes are immutable, so one already stored is not
 * fetched again, unless it fails the same check as a new one: an index is
 * stored only if it names every wanted bottle's digest.
 */
export async function mirrorManifests(
  wanted: readonly WantedBottle[],
  deps: { upstream: Upstream; objects: ObjectStore; concurrency?: number; onProgress?: (done: number, total: number) => void },
): Promise<ManifestResult> {
  const pairs = [...new Map(wanted.map((b) => [`${b.image}\n${b.manifestRef}`, b])).values()];
  const digestsByPair = new Map<string, string[]>();
  for (const b of wanted) {
    const key = `${b.image}\n${b.manifestRef}`;
    const list = digestsByPair.get(key) ?? [];
    if (!list.includes(b.sha256)) list.push(b.sha256);
    digestsByPair.set(key, list);
  }
  const sizes = new Map<string, number>();
  const failures: ManifestResult['failures'] = [];
  let fetched = 0;
  let next = 0;
  let checked = 0;
  const worker = async () => {
    while (next < pairs.length) {
      const { image, manifestRef, rootUrl } = pairs[next++];
      const key = manifestKey(image, manifestRef);
      const wantedDigests = digestsByPair.get(`${image}\n${manifestRef}`)!;
      const stored = await deps.objects.getObject(key);
      // One stored before the digest check that fails it is fetched again.
      let indexSizes = stored ? sizesIfComplete(stored, wantedDigests, image, manifestRef) : undefined;
      if (!indexSizes) {
        try {
          const response = await deps.upstream.get(`${rootUrl}/${image}/manifests/${manifestRef}`, OCI_INDEX_MEDIA_TYPE);
          const body = await readAll(response, deps.upstream.limits.maxIndexBytes);
          indexSizes = requireWantedDigests(body, wantedDigests, image, manifestRef);
          await deps.objects.putObject(key, body);
          fetched++;
        } catch (error) {
          if (!(error instanceof UpstreamError || error instanceof ManifestError)) throw error;
          failures.push({ image, ref: manifestRef, reason: error.message, permanent: error instanceof ManifestError || error.permanent });
          continue;
        }
      }
      for (const [sha, size] of indexSizes) sizes.set(sha, size);
      deps.onProgress?.(++checked, pairs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, deps.concurrency ?? SYNC_DEFAULTS.manifestConcurrency) }, worker));
  return { sizes, fetched, failures };
}

/** The index's sizes if it names every wanted digest, else undefined. */
function sizesIfComplete(index: Buffer, wanted: readonly string[], image: string, ref: string): Map<string, number> | undefined {
  try {
    return requireWantedDigests(index, wanted, image, ref);
  } catch {
    return undefined;
  }
}
