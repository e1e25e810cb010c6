import { IndexedBottle, decodeBottleIndex } from '../bottle-index';
import { SHA256_HEX } from '../store-layout';

const SHA_BYTES = 32;

/** A copy of `text` that does not keep the whole decoded index alive, as a slice of it would. */
const own = (text: string): string => Buffer.from(text, 'utf8').toString('utf8');

/** What fetching a named bottle needs: where upstream keeps it and the digest it must hash to. */
export type NamedBottle = Pick<IndexedBottle, 'sha256' | 'image' | 'manifestRef'>;

/**
 * Bottles of the mirrored tags the signed API names but a partial mirror did
 * not mirror (from `namedBottlesKey`): the only things pull-through may fetch.
 * A whole mirror has none.
 *
 * At Homebrew's size that is some 50,000 bottles, held by every serving
 * process for as long as its generation is served, so they are kept compact
 * (issue #24, "within the serve memory budget"): the names in one map to a
 * row number, the digests as bytes in one buffer searched in sorted order,
 * and each image index once, with its bottles as a range of rows. A bottle's
 * record is built only when a request asks for it. 52,000 bottles take about
 * 9 MiB this way, against 22 MiB as maps of records (measured with
 * `--expose-gc`; the whole process: `npm run bench:scale`).
 */
export class NamedBottles {
  /** Flat file name → row. */
  private readonly rows = new Map<string, number>();
  /** Row → its sha256 as 32 bytes, at `row * 32`. */
  private readonly digests: Buffer;
  /** Rows in ascending digest order, for the `/v2/…/blobs/sha256:<hex>` route. */
  private readonly byDigest: Uint32Array;
  /** Row → the image index it belongs to. */
  private readonly manifestOfRow: Uint32Array;
  /** `<image>:<ref>` → image index number; its image and ref; its rows, `manifestRows[manifestStart[m]…manifestStart[m + 1]]`. */
  private readonly manifestIds = new Map<string, number>();
  private readonly manifestImages: string[] = [];
  private readonly manifestRefs: string[] = [];
  private readonly manifestStart: Uint32Array;
  private readonly manifestRows: Uint32Array;

  /** The named index's bottles, less those `mirrored` already serves (by flat file name). */
  constructor(index: Buffer | undefined, mirrored: ReadonlyMap<string, string>) {
    const digests: string[] = [];
    const manifestOf: number[] = [];
    for (const b of index ? decodeBottleIndex(index) : []) {
      if (mirrored.has(b.flatFile) || this.rows.has(b.flatFile)) continue;
      this.rows.set(own(b.flatFile), digests.length);
      digests.push(b.sha256);
      manifestOf.push(this.manifestNumber(b.image, b.manifestRef));
    }
    this.digests = Buffer.alloc(digests.length * SHA_BYTES);
    digests.forEach((hex, row) => this.digests.write(hex, row * SHA_BYTES, SHA_BYTES, 'hex'));
    this.byDigest = Uint32Array.from(digests.keys()).sort((a, b) => this.compareDigests(a, b));
    this.manifestOfRow = Uint32Array.from(manifestOf);
    // Rows grouped by image index (a counting sort: counts, then starts, then placement).
    this.manifestStart = new Uint32Array(this.manifestImages.length + 1);
    for (const m of manifestOf) this.manifestStart[m + 1]++;
    for (let m = 0; m < this.manifestImages.length; m++) this.manifestStart[m + 1] += this.manifestStart[m];
    const next = this.manifestStart.slice(0, -1);
    this.manifestRows = new Uint32Array(digests.length);
    manifestOf.forEach((m, row) => (this.manifestRows[next[m]++] = row));
  }

  /** How many bottles may be fetched on request. */
  get size(): number {
    return this.rows.size;
  }

  /** By unencoded flat file name. */
  byName(flatFile: string): NamedBottle | undefined {
    const row = this.rows.get(flatFile);
    return row === undefined ? undefined : this.record(row);
  }

  /** By sha256 in lowercase hex. */
  bySha(sha256: string): NamedBottle | undefined {
    if (!SHA256_HEX.test(sha256)) return undefined;
    const wanted = Buffer.from(sha256, 'hex');
    let low = 0;
    let high = this.byDigest.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const row = this.byDigest[middle];
      const order = this.digestOf(row).compare(wanted);
      if (order === 0) return this.record(row);
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return undefined;
  }

  /** `<image>:<manifest ref>` → the bottle digests the signed API gives for it (an index must name them all). */
  manifest(id: string): readonly string[] | undefined {
    const m = this.manifestIds.get(id);
    if (m === undefined) return undefined;
    const digests = new Set<string>();
    for (let i = this.manifestStart[m]; i < this.manifestStart[m + 1]; i++) digests.add(this.digestOf(this.manifestRows[i]).toString('hex'));
    return [...digests];
  }

  private manifestNumber(image: string, ref: string): number {
    const id = `${image}:${ref}`;
    let m = this.manifestIds.get(id);
    if (m === undefined) {
      m = this.manifestImages.length;
      this.manifestIds.set(own(id), m);
      this.manifestImages.push(own(image));
      this.manifestRefs.push(own(ref));
    }
    return m;
  }

  private record(row: number): NamedBottle {
    const m = this.manifestOfRow[row];
    return { sha256: this.digestOf(row).toString('hex'), image: this.manifestImages[m], manifestRef: this.manifestRefs[m] };
  }

  private digestOf(row: number): Buffer {
    return this.digests.subarray(row * SHA_BYTES, (row + 1) * SHA_BYTES);
  }

  private compareDigests(a: number, b: number): number {
    return this.digestOf(a).compare(this.digestOf(b));
  }
}
