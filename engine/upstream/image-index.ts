import { MirrorError } from '../errors';

/**
 * Checks of an OCI image index (a formula's bottle manifest list) against
 * the digests Homebrew's signed API gives: the sync stores an index only if
 * it names every wanted bottle, and pull-through applies the same check.
 */
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
export function requireWantedDigests(index: Buffer, wanted: readonly string[], image: string, ref: string): Map<string, number> {
  const { digests, sizes } = readIndex(index);
  const missing = wanted.filter((sha) => !digests.has(sha));
  if (missing.length > 0) throw new ManifestError(`image index ${image}:${ref} names no entry for bottle ${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  return sizes;
}
