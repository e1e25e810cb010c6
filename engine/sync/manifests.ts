import { SYNC_DEFAULTS } from '../defaults';
import { WantedBottle } from '../homebrew/wanted-bottles';
import { ObjectStore } from '../ports';
import { OCI_INDEX_MEDIA_TYPE, manifestKey } from '../store-layout';
import { Upstream, UpstreamError, readAll } from '../upstream/client';
import { ManifestError, requireWantedDigests } from '../upstream/image-index';

export interface ManifestResult {
  /** Bottle sizes by sha256 across every index. */
  readonly sizes: Map<string, number>;
  /** Indexes fetched from upstream in this call (the rest were already stored). */
  readonly fetched: number;
  /** (image, ref) pairs upstream could not provide, with the reason; `permanent` when retrying cannot help. */
  readonly failures: { image: string; ref: string; reason: string; permanent: boolean }[];
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
