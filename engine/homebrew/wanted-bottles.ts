import { BottleCoordinates, DEFAULT_GHCR_ROOT, flatFileName, imageName, manifestTag, platformRefName, pkgVersion, shortName } from './bottle-names';
import { isSha256 } from '../store-layout';
import { ALL_TAG, olderMacosTags } from './platform-tags';
import { MirrorError } from '../errors';
import { JsonShapeError, jsonArrayElements } from './json-elements';

/** One bottle the mirror must hold, derived from the verified formula API. */
export interface WantedBottle extends BottleCoordinates {
  readonly pkgVersion: string;
  readonly sha256: string;
  /** Where upstream serves the blob (taken verbatim from the API). */
  readonly upstreamUrl: string;
  /** GHCR repository, e.g. `openssl/3`. */
  readonly image: string;
  /** Tag of the OCI image index, e.g. `3.2.0_1` or `1.1.5-1`. */
  readonly manifestRef: string;
  /** `org.opencontainers.image.ref.name` of this platform's entry in the index. */
  readonly platformRef: string;
  /** Unencoded flat file name, e.g. `openssl@3-3.2.0_1.arm64_sonoma.bottle.tar.gz`. */
  readonly flatFile: string;
  /** Registry root the formula's bottles live under (`bottle.stable.root_url`); manifests are fetched from it. */
  readonly rootUrl: string;
}

export class ApiShapeError extends MirrorError {
  readonly kind = 'upstream-input';
}

interface FormulaEntry {
  name?: unknown;
  versions?: { stable?: unknown };
  revision?: unknown;
  bottle?: { stable?: { rebuild?: unknown; root_url?: unknown; files?: Record<string, { url?: unknown; sha256?: unknown }> } };
}


/** A formula left out of the wanted set because its entry is unusable (unsafe name, bad digest or URL). */
export interface SkippedFormula {
  readonly name: string;
  readonly reason: string;
  /** Wanted tags the entry lists bottles for (`(unknown)` when it lists none readably): what it counts against `--max-missing`. */
  readonly tags: string[];
}

/**
 * Every bottle of `formulae` (the parsed `formula.jws.json` payload) for the
 * wanted platform tags. `tags` undefined means every tag upstream has,
 * including `all`. With `allFallback` (the default), a formula that has no
 * bottle for a wanted platform contributes its `all` bottle, as brew falls
 * back to it on that platform.
 *
 * With `skipped`, one unusable formula is reported there and left out, so it
 * cannot abort a run over thousands of good ones; without it, it throws.
 */
export function wantedBottles(formulae: unknown, tags?: ReadonlySet<string>, allFallback = true, skipped?: SkippedFormula[]): WantedBottle[] {
  // An array, or formulae parsed one at a time (`formulaEntries`).
  const iterable = Array.isArray(formulae) || (typeof formulae === 'object' && formulae !== null && Symbol.iterator in formulae);
  if (!iterable) throw new ApiShapeError('formula payload must be a JSON array of formulae');
  const out: WantedBottle[] = [];
  let index = -1;
  for (const raw of formulae as Iterable<unknown>) {
    index++;
    try {
      out.push(...formulaBottles(raw as FormulaEntry, index, tags, allFallback));
    } catch (error) {
      if (!skipped || !(error instanceof MirrorError)) throw error;
      const entry = raw as FormulaEntry;
      const files = entry?.bottle?.stable?.files;
      const listed = files && typeof files === 'object' ? Object.keys(files).filter((t) => !tags || tags.has(t)) : [];
      skipped.push({ name: typeof entry?.name === 'string' ? entry.name.slice(0, 200) : `#${index}`, reason: error.message, tags: listed.length > 0 ? listed : ['(unknown)'] });
    }
  }
  return out;
}

/**
 * A copy of `s` that does not keep the text it was parsed from alive. V8
 * may return strings from JSON.parse as slices of its input; kept in a
 * wanted bottle, a slice would pin its whole piece of formula.jws.json
 * (measured: 44 MB retained for 43,000 bottles instead of 13 MB).
 */
const detach = (s: string): string => (` ${s}`).slice(1);

/**
 * A wanted bottle as stored for planning: its coordinates, digest and root,
 * with every derived name (image, refs, flat file, the usual upstream URL)
 * computed when asked. 43,000 bottles with those names stored took 47 MB;
 * as getters they cost a fraction, and planning reads only a few of them.
 */
class ListedBottle implements WantedBottle {
  /** The upstream URL, kept only when it is not the usual `<root>/<image>/blobs/sha256:<hex>`. */
  private readonly unusualUrl?: string;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly revision: number,
    readonly rebuild: number,
    readonly tag: string,
    readonly sha256: string,
    readonly rootUrl: string,
    url: string,
  ) {
    if (url !== this.usualUrl()) this.unusualUrl = detach(url);
  }

  get pkgVersion(): string {
    return pkgVersion(this.version, this.revision);
  }
  get image(): string {
    return imageName(this.name);
  }
  get manifestRef(): string {
    return manifestTag(this);
  }
  get platformRef(): string {
    return platformRefName(this);
  }
  get flatFile(): string {
    return flatFileName(this);
  }
  get upstreamUrl(): string {
    return this.unusualUrl ?? this.usualUrl();
  }
  private usualUrl(): string {
    return `${this.rootUrl}/${imageName(this.name)}/blobs/sha256:${this.sha256}`;
  }
}

/** One formula's bottles for the wanted tags; throws on an unusable entry. */
/**
 * The bottles of other macOS versions that brew on a mirrored macOS tag pours:
 * for a tag without a bottle of its own nor an `all` one (which brew takes
 * first), the newest older macOS bottle of the same architecture.
 */
function olderMacosFallbacks(tags: ReadonlySet<string>, files: Record<string, unknown>): Set<string> {
  const chosen = new Set<string>();
  if (ALL_TAG in files) return chosen;
  for (const tag of tags) {
    if (tag in files) continue;
    const older = olderMacosTags(tag).find((candidate) => candidate in files);
    if (older) chosen.add(older);
  }
  return chosen;
}

function formulaBottles(entry: FormulaEntry, index: number, tags: ReadonlySet<string> | undefined, allFallback: boolean): WantedBottle[] {
  const out: WantedBottle[] = [];
  const where = typeof entry?.name === 'string' ? `formula ${JSON.stringify(entry.name)}` : `formula #${index}`;
  const files = entry?.bottle?.stable?.files;
  if (files === undefined || files === null) return out; // no bottles (e.g. bottle :unneeded or disabled)
  if (typeof entry.name !== 'string') throw new ApiShapeError(`${where} has no name`);
  const version = entry.versions?.stable;
  if (typeof version !== 'string') throw new ApiShapeError(`${where} has bottles but no stable version`);
  const revision = entry.revision === undefined || entry.revision === null ? 0 : Number(entry.revision);
  const rebuild = entry.bottle?.stable?.rebuild === undefined ? 0 : Number(entry.bottle.stable.rebuild);
  if (!Number.isInteger(revision) || revision < 0 || !Number.isInteger(rebuild) || rebuild < 0) {
    throw new ApiShapeError(`${where} has an invalid revision or rebuild`);
  }
  const name = detach(shortName(entry.name));
  const stable = detach(version);
  const rootUrl = typeof entry.bottle?.stable?.root_url === 'string' ? detach(entry.bottle.stable.root_url) : DEFAULT_GHCR_ROOT;
  const usesAll = tags !== undefined && allFallback && [...tags].some((t) => t !== ALL_TAG && !(t in files));
  const olderMacos = tags === undefined ? undefined : olderMacosFallbacks(tags, files);
  for (const [tag, file] of Object.entries(files)) {
    if (tags && !tags.has(tag) && !(tag === ALL_TAG && usesAll) && !olderMacos?.has(tag)) continue;
    if (typeof file?.sha256 !== 'string' || !isSha256(file.sha256)) {
      throw new ApiShapeError(`${where} bottle ${tag} has no valid sha256`);
    }
    if (typeof file.url !== 'string' || !/^https?:\/\//.test(file.url)) {
      throw new ApiShapeError(`${where} bottle ${tag} has no http(s) URL`);
    }
    const bottle = new ListedBottle(name, stable, revision, rebuild, tag, detach(file.sha256), rootUrl, file.url);
    // The derived names are computed on use; computed once here so a name brew could not use fails now, not later.
    void [bottle.manifestRef, bottle.flatFile, bottle.pkgVersion];
    out.push(bottle);
  }
  return out;
}

/**
 * formula.jws.json's entries, parsed one at a time (the whole graph would be
 * a few hundred MB), each checked to be a formula: a correctly signed cask
 * list served under this name fails here.
 */
export function* formulaEntries(payload: string | Iterable<string>): Generator<unknown, void, undefined> {
  let index = 0;
  try {
    for (const entry of jsonArrayElements(payload)) {
      if (typeof (entry as { name?: unknown } | null)?.name !== 'string') throw new ApiShapeError(`formula.jws.json: entry #${index} has no "name" (is this the right file?)`);
      index++;
      yield entry;
    }
  } catch (error) {
    if (error instanceof JsonShapeError) throw new ApiShapeError(`formula.jws.json: ${error.message}`);
    throw error;
  }
}
