import { MirrorError } from '../errors';
import { PublishedGeneration } from '../ports';
import { STORE_PREFIXES, isSha256, requireSafeKey } from '../store-layout';

/**
 * A bundle carries one published generation into a network with no way out
 * (issue #23). It is a plain ustar archive, optionally cut into volumes of a
 * fixed size (`<out>.001`, `<out>.002`, … as `split -b` names them), so
 * `cat <out>.* | tar -t` lists it and `tar -x` then `sha256sum -c SHA256SUMS`
 * checks it without this tool:
 *
 * ```
 * bundle.json                          this manifest: every entry below with its size and sha256
 * SHA256SUMS                           the same digests, in sha256sum's format
 * api/generations/<gen>/<file>         the signed API files, byte for byte
 * api/generations/<gen>/_mirror/…      the bottle index, brew.json, install.sh
 * manifests/<image>/<ref>              the OCI image indexes
 * blobs/sha256/<hex>                   bottles, brew.git's packs, portable Rubies
 * ```
 *
 * The entries are in that order and the importer demands it: the signed API
 * is checked before anything it vouches for is read.
 */
export const BUNDLE_FORMAT = 'homebrew-bottles-sync/bundle';
export const BUNDLE_VERSION = 1;
export const MANIFEST_PATH = 'bundle.json';
export const SUMS_PATH = 'SHA256SUMS';

/** The manifest is read whole: a Homebrew-size generation's is a few MB. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export interface BundleEntry {
  /** The store key the file is kept under, which is also its path in the archive. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: typeof BUNDLE_VERSION;
  /** When the bundle was written (ISO 8601). */
  readonly createdAt: string;
  /** The generation's published record, as the exporting store had it. */
  readonly generation: PublishedGeneration;
  /** The generation this bundle builds on (`--since`): the importing store must have it. */
  readonly base?: string;
  /** Every file after this manifest, in archive order. */
  readonly entries: readonly BundleEntry[];
  /**
   * Blobs and image indexes the generation names that the exporting store did not have
   * either (bottles published as missing within `--max-missing`): the importer does not
   * look for them.
   */
  readonly absent: { readonly blobs: readonly string[]; readonly manifests: readonly string[] };
  /** Set when the archive is cut into volumes: each but the last is exactly `bytes` long. */
  readonly volumes?: { readonly count: number; readonly bytes: number };
}

/** A bundle that is not what it claims: damaged, tampered with, incomplete, or from elsewhere. */
export class BundleError extends MirrorError {
  readonly kind = 'verification';
}

/** SHA256SUMS as `sha256sum -c` reads it: two spaces, then the path. */
export function sumsFile(entries: readonly BundleEntry[]): Buffer {
  return Buffer.from(entries.filter((e) => e.path !== SUMS_PATH).map((e) => `${e.sha256}  ${e.path}\n`).join(''), 'utf8');
}

const GENERATION_ID = /^[0-9A-Za-z_.-]{1,128}$/;

/** The order entries must come in: the signed API first, then what it vouches for. */
export function entryRank(path: string, generation: string): number {
  if (path === SUMS_PATH) return 0;
  const api = `${STORE_PREFIXES.api}${generation}/`;
  if (path.startsWith(`${api}_mirror/`)) return 2;
  if (path.startsWith(api)) return 1;
  if (path.startsWith(STORE_PREFIXES.manifests)) return 3;
  if (path.startsWith(STORE_PREFIXES.blobs) && isSha256(path.slice(STORE_PREFIXES.blobs.length))) return 4;
  return -1;
}

/** Parses and checks a manifest's shape; every path is a safe store key of this generation's kinds. */
export function parseManifest(body: Buffer): BundleManifest {
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(body.toString('utf8')) as BundleManifest;
  } catch (error) {
    throw new BundleError(`${MANIFEST_PATH} is not JSON (${(error as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new BundleError(`${MANIFEST_PATH}: ${what}`);
  };
  if (manifest?.format !== BUNDLE_FORMAT) fail(`not a bundle of this tool (format ${JSON.stringify(manifest?.format)})`);
  if (manifest.version !== BUNDLE_VERSION) fail(`version ${JSON.stringify(manifest.version)}; this tool reads version ${BUNDLE_VERSION}`);
  const generation = manifest.generation?.generation;
  if (typeof generation !== 'string' || !GENERATION_ID.test(generation)) fail('no valid generation');
  if (!Array.isArray(manifest.generation.files) || !manifest.generation.files.every((f) => typeof f === 'string')) fail('the generation lists no API files');
  if (manifest.base !== undefined && (typeof manifest.base !== 'string' || !GENERATION_ID.test(manifest.base))) fail('invalid base generation');
  if (!Array.isArray(manifest.entries) || manifest.entries[0]?.path !== SUMS_PATH) fail(`entries must start with ${SUMS_PATH}`);
  if (!Array.isArray(manifest.absent?.blobs) || !Array.isArray(manifest.absent?.manifests)) fail('no list of absent objects');
  let rank = 0;
  const seen = new Set<string>();
  for (const entry of manifest.entries) {
    if (typeof entry?.path !== 'string' || !Number.isSafeInteger(entry.size) || entry.size < 0 || typeof entry.sha256 !== 'string' || !isSha256(entry.sha256)) {
      fail(`malformed entry ${JSON.stringify(entry).slice(0, 200)}`);
    }
    if (entry.path !== SUMS_PATH) requireSafeKey(entry.path);
    const next = entryRank(entry.path, generation);
    if (next < 0) fail(`${entry.path} is not a file a generation is made of`);
    if (next < rank) fail(`${entry.path} is out of order (the signed API comes before what it vouches for)`);
    if (seen.has(entry.path)) fail(`${entry.path} is listed twice`);
    if (next === 4 && entry.path.slice(STORE_PREFIXES.blobs.length) !== entry.sha256) fail(`${entry.path} is listed with another digest`);
    seen.add(entry.path);
    rank = next;
  }
  const volumes = manifest.volumes;
  if (volumes !== undefined && (!Number.isSafeInteger(volumes.count) || volumes.count < 1 || !Number.isSafeInteger(volumes.bytes) || volumes.bytes < 1)) fail('invalid volume layout');
  return manifest;
}

/** `<out>.001`: volume `index` (0-based) of a split bundle, as `split -d -a 3 --numeric-suffixes=1` names it. */
export const volumeName = (out: string, index: number): string => `${out}.${String(index + 1).padStart(3, '0')}`;

/**
 * Which of two generations was published first. Run ids sort by their start
 * second only (two runs in one second differ by a random suffix), so the
 * publish time decides, to the millisecond, and the id only breaks a tie.
 */
export function isOlder(candidate: PublishedGeneration, published: PublishedGeneration): boolean {
  if (candidate.publishedAt !== published.publishedAt) return candidate.publishedAt < published.publishedAt;
  return candidate.generation < published.generation;
}
