import { StoredFile } from '../brew/brew-record';
import { ObjectStore } from '../ports';
import { tapRecordKey } from '../store-layout';

/**
 * What one generation serves of third-party taps (`_mirror/taps.json`),
 * written by the run's tap phase into its staged generation: each tap's
 * rewritten repository and the downloads it names. Every blob it names is
 * stored before the record is written.
 */
export interface TapRecord {
  readonly taps: readonly MirroredTap[];
  /** Taps that could not be mirrored this run at all (the previous week's copy, when there was one, is kept). */
  readonly failures: readonly { readonly tap: string; readonly reason: string }[];
}

export interface MirroredTap {
  /** `user/repo`. */
  readonly name: string;
  readonly git: TapGitRecord;
  /** Every verified download the rewritten tap points at the mirror for. */
  readonly downloads: readonly TapFileRecord[];
  /** Formulae and casks of the tap (by file) that are not fully mirrored, and why. */
  readonly failures: readonly TapFileFailure[];
  /** Formula and cask files whose every download is mirrored. */
  readonly mirrored: readonly string[];
  /** When this copy was made; older than the generation when a failed week kept it. */
  readonly mirroredAt: string;
}

/** A rewritten tap as git's dumb HTTP protocol reads it, and upstream's refs for the next fetch. */
export interface TapGitRecord {
  /** Where it was fetched from (credentials never kept). */
  readonly remote: string;
  /** The branch clients follow. */
  readonly branch: string;
  /** The rewritten branch's head: a descendant of every earlier generation's head (append-only). */
  readonly head: string;
  /** Upstream's default-branch commit it was rewritten from. */
  readonly upstreamHead: string;
  /** `HEAD`, `info/refs` and `objects/info/packs` as served. */
  readonly files: Readonly<Record<'HEAD' | 'info/refs' | 'objects/info/packs', string>>;
  /** Upstream's branches and tags (`<sha>\t<ref>` lines under `refs/upstream/`), never served. */
  readonly upstreamRefs: string;
  readonly packs: Readonly<Record<string, StoredFile>>;
}

/** One download the mirror serves at `<mirror>/dl/<host><path>`. */
export interface TapFileRecord {
  /** `<host><path><query>` of the upstream URL: the route's key. */
  readonly key: string;
  /** The upstream URL (credentials never kept). */
  readonly url: string;
  readonly sha256: string;
  readonly size: number;
  /** Formula and cask files that name it. */
  readonly files: readonly string[];
}

export interface TapFileFailure {
  readonly file: string;
  readonly reason: string;
}

/** Every blob a record names: each tap's packs and downloads. */
export function tapBlobs(record: TapRecord | undefined): string[] {
  const blobs = new Set<string>();
  for (const tap of record?.taps ?? []) {
    for (const pack of Object.values(tap.git.packs)) blobs.add(pack.sha256);
    for (const file of tap.downloads) blobs.add(file.sha256);
  }
  return [...blobs];
}

export async function loadTapRecord(objects: Pick<ObjectStore, 'getObject'>, generation: string): Promise<TapRecord | undefined> {
  const body = await objects.getObject(tapRecordKey(generation));
  return body ? (JSON.parse(body.toString('utf8')) as TapRecord) : undefined;
}
