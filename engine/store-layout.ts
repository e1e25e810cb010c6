import { MirrorError } from './errors';
/**
 * The store layout: every key the engine reads or writes, in one place. The
 * S3 bucket and the local directory store use the same keys, and the IAM
 * grants in `constructs/` scope each workload to the prefixes named here.
 *
 * ```
 * blobs/sha256/<hex>                 bottles, content-addressed
 * manifests/<image>/<ref>            OCI image indexes, byte-exact
 * api/generations/<gen>/<file>       signed API files of one generation
 * api/generations/<gen>/_mirror/bottles.tsv   its bottle index, for the mirror's lookups
 * api/generations/<gen>/_mirror/brew.json     brew itself: brew.git's refs and packs, portable Rubies
 * api/generations/<gen>/_mirror/install.sh    Homebrew/install's script, byte for byte
 * api/generations/<gen>/_mirror/casks.json    its cask files
 * api/generations/<gen>/_mirror/taps.json     its third-party taps: rewritten repositories and downloads
 * api/generations/<gen>/_mirror/selection.json  Brewfile entries the mirror cannot serve
 * runs/<runId>/run.json              a run's staged plan summary
 * runs/<runId>/batches/<id>.json     one batch of transfers
 * runs/<runId>/results/<id>.json     what that batch did
 * ```
 */

/** Lowercase hex sha256, the address of every blob. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

export const isSha256 = (value: string): boolean => SHA256_HEX.test(value);

/** A git pack or its index as git names them, in sha1 and sha256 repositories (brew.git's packs). */
const GIT_PACK_FILE = /^pack-(?:[0-9a-f]{40}|[0-9a-f]{64})\.(?:pack|idx)$/;

export const isGitPackFile = (name: string): boolean => GIT_PACK_FILE.test(name);

/** Top-level prefixes, each ending in `/`; IAM grants append `*`. */
export const STORE_PREFIXES = {
  blobs: 'blobs/sha256/',
  manifests: 'manifests/',
  api: 'api/generations/',
  runs: 'runs/',
} as const;

export type StorePrefix = keyof typeof STORE_PREFIXES;

/** Thrown for a key that could leave its prefix or the store (`..`, empty segments) or a malformed digest. */
export class UnsafeKeyError extends MirrorError {
  readonly kind = 'upstream-input';
}

export function requireSha256(sha256: string): string {
  if (!isSha256(sha256)) throw new UnsafeKeyError(`not a sha256 digest: ${JSON.stringify(sha256)}`);
  return sha256;
}

/** Characters a key segment may hold on every store (brew names use `@` and `+`; tags and refs `_`, `.`, `-`). */
const SAFE_SEGMENT = /^[A-Za-z0-9@+_.~=-]+$/;

/**
 * Checks a whole object key: `/`-separated segments of safe characters, none
 * of them `.` or `..`. Returns the key, so callers can wrap an expression.
 */
export function requireSafeKey(key: string): string {
  const segments = key.split('/');
  if (segments.some((s) => s === '.' || s === '..' || !SAFE_SEGMENT.test(s))) {
    throw new UnsafeKeyError(`unsafe object key ${JSON.stringify(key)}`);
  }
  return key;
}

/** Key segments of a safe key, for adapters that map keys to paths. */
export const keySegments = (key: string): string[] => requireSafeKey(key).split('/');

export const blobKey = (sha256: string): string => `${STORE_PREFIXES.blobs}${requireSha256(sha256)}`;

/** The sha256 a blob key names, or undefined for anything else under the prefix. */
export function blobDigestOf(key: string): string | undefined {
  if (!key.startsWith(STORE_PREFIXES.blobs)) return undefined;
  const sha = key.slice(STORE_PREFIXES.blobs.length);
  return isSha256(sha) ? sha : undefined;
}

/** An image index: `manifests/<image>/<manifest tag>` (the image may contain `/`). */
export const manifestKey = (image: string, ref: string): string => `${STORE_PREFIXES.manifests}${image}/${ref}`;

/** A published API file; served only once the published pointer names the generation. */
export const apiKey = (generation: string, file: string): string => `${STORE_PREFIXES.api}${generation}/${file}`;

/** A generation's bottle index (`engine/bottle-index.ts`): beside its API files, never served as one. */
export const bottleIndexKey = (generation: string): string => `${STORE_PREFIXES.api}${generation}/_mirror/bottles.tsv`;
/**
 * A partial mirror's (`--formulae`) other index: every bottle of the mirrored tags the signed API
 * names, in the bottle index's format. Pull-through fetches only what it lists (issue #24).
 */
export const namedBottlesKey = (generation: string): string => `${STORE_PREFIXES.api}${generation}/_mirror/named-bottles.tsv`;

/**
 * What a generation serves of brew itself (`engine/brew/brew-record.ts`): brew.git's refs and the
 * packs (stored as blobs) they need, and the pinned portable Rubies (blobs too). Beside its API files.
 */
export const brewRecordKey = (generation: string): string => `${STORE_PREFIXES.api}${generation}/_mirror/brew.json`;

/** What one generation serves of casks (`engine/casks/cask-record.ts`), beside its API files. */
export const caskRecordKey = (generation: string): string => `${STORE_PREFIXES.api}${generation}/_mirror/casks.json`;

/** What its selection asked for that the mirror cannot serve (Brewfile `mas`, `vscode`, … entries). */
export const selectionRecordKey = (generation: string): string => `${STORE_PREFIXES.api}${generation}/_mirror/selection.json`;

/** Its third-party taps: each rewritten repository's refs and packs, and the downloads it points at the mirror for. */
export const tapRecordKey = (generation: string): string => `${STORE_PREFIXES.api}${generation}/_mirror/taps.json`;

/** The generation's copy of Homebrew/install's `install.sh`. */
export const installScriptKey = (generation: string): string => `${STORE_PREFIXES.api}${generation}/_mirror/install.sh`;

/** A run's staged objects, so only ids travel between processes. */
export const runKeys = {
  summary: (runId: string): string => `${STORE_PREFIXES.runs}${runId}/run.json`,
  batch: (runId: string, batchId: string): string => `${STORE_PREFIXES.runs}${runId}/batches/${batchId}.json`,
  result: (runId: string, batchId: string): string => `${STORE_PREFIXES.runs}${runId}/results/${batchId}.json`,
};

/** Media type of the OCI image indexes kept under `manifests/`. */
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
