import { ObjectStore } from '../ports';
import { brewRecordKey } from '../store-layout';

/**
 * What one generation serves of brew itself, for a machine whose only way
 * out is the mirror. Written by the sync's brew phase into the run's staged
 * generation (`_mirror/brew.json`), so it is published, and ages out, with
 * the generation's API files. Every blob it names is stored before the
 * record is written: a client never sees refs whose objects are missing.
 */
export interface BrewRecord {
  readonly brewGit?: BrewGitRecord;
  /**
   * The newest brew release tags, newest first, each with the portable Rubies
   * it pins, then the default branch's head (`head: true`): a client that ran
   * a developer command follows the branch, and needs what its head pins.
   */
  readonly releases: readonly BrewRelease[];
  /** sha256 and size of the mirrored install.sh (stored beside this record). */
  readonly installScript?: { readonly sha256: string; readonly size: number };
}

export interface StoredFile {
  readonly sha256: string;
  readonly size: number;
}

/** brew.git as git's dumb HTTP protocol reads it: the files `git update-server-info` writes, and the packs. */
export interface BrewGitRecord {
  /** Where it was fetched from (credentials and query never kept). */
  readonly remote: string;
  readonly defaultBranch: string;
  /** The default branch's commit. */
  readonly head: string;
  readonly tags: number;
  /** `HEAD`, `info/refs` and `objects/info/packs`, byte for byte. */
  readonly files: Readonly<Record<'HEAD' | 'info/refs' | 'objects/info/packs', string>>;
  /** `pack-<sha1>.pack` and `.idx` by file name, each stored as a blob. */
  readonly packs: Readonly<Record<string, StoredFile>>;
}

/** One portable Ruby a brew release pins (`Library/Homebrew/vendor/portable-ruby-<platform>`). */
export interface PinnedRuby {
  /** `arm64-darwin`, `x86_64-linux`, …: the vendor file's suffix. */
  readonly platform: string;
  /** brew's bottle tag for it (`ruby_TAG`), e.g. `arm64_big_sur`. */
  readonly rubyTag: string;
  /** `ruby_SHA`: brew refuses any other bytes. */
  readonly sha256: string;
  /** `portable-ruby-<version>.<rubyTag>.bottle.tar.gz`, the flat name brew asks the bottle domain for. */
  readonly file: string;
  /** Bytes, once stored. */
  readonly size?: number;
  /** Why this platform's Ruby is not stored (missing upstream, wrong bytes): the release's other platforms are still served. */
  readonly error?: string;
}

export interface BrewRelease {
  /** The release tag, e.g. `6.0.18`; for the default branch's head, the branch's name. */
  readonly tag: string;
  /** The default branch's head rather than a release tag. */
  readonly head?: boolean;
  /** `portable-ruby-version`, e.g. `4.0.6`. */
  readonly rubyVersion?: string;
  readonly rubies: readonly PinnedRuby[];
  /** Why none of this release's pins could be read (an unreadable vendor file); a missing blob is its platform's `error`. */
  readonly error?: string;
}

/** A release/platform pair a generation does not serve, and why (`platform` is `*` when the release's pins were unreadable). */
export interface UncoveredRuby {
  readonly release: string;
  readonly platform: string;
  readonly reason: string;
}

/** The portable Rubies a generation serves: every stored pin of every readable release, whatever its siblings did. */
export const servedRubies = (record: BrewRecord | undefined): PinnedRuby[] =>
  (record?.releases ?? []).filter((r) => !r.error).flatMap((r) => r.rubies.filter((ruby) => !ruby.error));

/** The releases a generation covers: those with at least one platform's Ruby stored (release tags, then the branch head). */
export const coveredReleases = (record: BrewRecord | undefined): string[] =>
  (record?.releases ?? []).filter((r) => !r.error && r.rubies.some((ruby) => !ruby.error)).map((r) => r.tag);

/** Every release/platform pair that is not served, and why. */
export const uncoveredRubies = (record: BrewRecord | undefined): UncoveredRuby[] =>
  (record?.releases ?? []).flatMap((r) =>
    r.error ? [{ release: r.tag, platform: '*', reason: r.error }] : r.rubies.filter((ruby) => ruby.error).map((ruby) => ({ release: r.tag, platform: ruby.platform, reason: ruby.error! })),
  );

/** Every blob a record names: packs and portable Rubies (kept from orphan expiry while a kept generation names them). */
export function brewBlobs(record: BrewRecord | undefined): string[] {
  if (!record) return [];
  const packs = Object.values(record.brewGit?.packs ?? {}).map((p) => p.sha256);
  const rubies = servedRubies(record).map((ruby) => ruby.sha256);
  return [...new Set([...packs, ...rubies])];
}

export async function loadBrewRecord(objects: Pick<ObjectStore, 'getObject'>, generation: string): Promise<BrewRecord | undefined> {
  const body = await objects.getObject(brewRecordKey(generation));
  return body ? (JSON.parse(body.toString('utf8')) as BrewRecord) : undefined;
}
