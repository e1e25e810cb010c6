import { MirrorError } from '../errors';
/**
 * Homebrew's naming rules for bottles, restated from brew (see
 * Homebrew/brew `github_packages.rb`, `software_spec.rb`, `utils/bottles.rb`): versions, file names, GHCR image names,
 * manifest tags and per-platform ref names. The percent-encoding and rebuild
 * suffixes are where mirrors break, so every rule here is tested against the
 * worked examples in `test/unit/homebrew-names.test.ts`.
 */

export interface BottleCoordinates {
  /** Formula short name, e.g. `python@3.12` (a `user/repo/` tap prefix is dropped). */
  readonly name: string;
  /** Stable version, e.g. `3.12.3`. */
  readonly version: string;
  /** Formula revision; 0 when absent. */
  readonly revision: number;
  /** Bottle rebuild; 0 when absent. */
  readonly rebuild: number;
  /** Platform tag, e.g. `arm64_sonoma`, `x86_64_linux`, `all`. */
  readonly tag: string;
}

export class BottleNameError extends MirrorError {
  readonly kind = 'upstream-input';
}

const MANIFEST_TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const PLATFORM_TAG = /^[a-z0-9_]+$/;

/** The short name brew uses in file names; refuses names that could escape a directory. */
/** A formula's short name: Homebrew's characters, at most 128 of them. */
const FORMULA_NAME = /^[A-Za-z0-9@+._-]{1,128}$/;

export function shortName(name: string): string {
  const short = name.split('/').pop() ?? '';
  // Homebrew's names are letters, digits and `@+._-`; anything else (spaces, quotes, control
  // characters, 200-character names) cannot be a real formula and must not reach a key or a path.
  if (short === '.' || short === '..' || !FORMULA_NAME.test(short)) {
    throw new BottleNameError(`unsafe formula name ${JSON.stringify(name)}`);
  }
  return short;
}

/** `version` when revision is 0, else `version_revision`. */
export function pkgVersion(version: string, revision: number): string {
  // eslint-disable-next-line no-control-regex
  if (version === '' || /[/\u0000-\u001f\u007f]/.test(version)) throw new BottleNameError(`unsafe version ${JSON.stringify(version)}`);
  return revision > 0 ? `${version}_${revision}` : version;
}

/** `.<tag>.bottle[.<rebuild>].tar.gz` — the rebuild sits between `.bottle` and `.tar.gz`. */
export function bottleExtension(tag: string, rebuild: number): string {
  if (!PLATFORM_TAG.test(tag)) throw new BottleNameError(`invalid platform tag ${JSON.stringify(tag)}`);
  return `.${tag}.bottle${rebuild > 0 ? `.${rebuild}` : ''}.tar.gz`;
}

/** Ruby's ERB::Util.url_encode: every byte but `A-Za-z0-9_-.~` becomes `%XX` (uppercase hex). */
export function urlEncode(value: string): string {
  if (/^[A-Za-z0-9_.~-]*$/.test(value)) return value; // most names: nothing to encode
  return Array.from(Buffer.from(value, 'utf8'))
    .map((byte) => {
      const c = String.fromCharCode(byte);
      return /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** `name-pkg_version.tag.bottle[.rebuild].tar.gz` before encoding (the flat mirror's file). */
export function flatFileName(b: BottleCoordinates): string {
  return `${shortName(b.name)}-${pkgVersion(b.version, b.revision)}${bottleExtension(b.tag, b.rebuild)}`;
}

/** What brew requests from a flat HOMEBREW_BOTTLE_DOMAIN: the flat file name, percent-encoded. */
export function encodedFlatFileName(b: BottleCoordinates): string {
  return urlEncode(flatFileName(b));
}

/** `name--pkg_version.tag.bottle[.rebuild].tar.gz`: brew's cache name and the OCI layer title. */
export function ghcrBasename(b: BottleCoordinates): string {
  return `${shortName(b.name)}--${pkgVersion(b.version, b.revision)}${bottleExtension(b.tag, b.rebuild)}`;
}

/** GHCR repository under the root: `@` → `/`, then `+` → `x` (`libsigc++@2` → `libsigcxx/2`). */
export function imageName(name: string): string {
  return shortName(name).replace(/@/g, '/').replace(/\+/g, 'x');
}

/** Tag of the OCI image index: `pkg_version`, plus `-rebuild` when rebuild > 0. */
export function manifestTag(b: Omit<BottleCoordinates, 'tag'>): string {
  const tag = `${pkgVersion(b.version, b.revision)}${b.rebuild > 0 ? `-${b.rebuild}` : ''}`;
  if (!MANIFEST_TAG.test(tag)) throw new BottleNameError(`manifest tag ${JSON.stringify(tag)} is not a valid OCI tag`);
  return tag;
}

/** `org.opencontainers.image.ref.name` of the platform entry: `pkg_version.tag[.rebuild]` (dots). */
export function platformRefName(b: BottleCoordinates): string {
  return `${pkgVersion(b.version, b.revision)}.${b.tag}${b.rebuild > 0 ? `.${b.rebuild}` : ''}`;
}

export const DEFAULT_GHCR_ROOT = 'https://ghcr.io/v2/homebrew/core';

/** `<root>/<image>/blobs/sha256:<sha>`. */
export function blobUrl(name: string, sha256: string, root: string = DEFAULT_GHCR_ROOT): string {
  return `${root}/${imageName(name)}/blobs/sha256:${sha256}`;
}

/** `<root>/<image>/manifests/<manifest tag>`. */
export function manifestUrl(b: Omit<BottleCoordinates, 'tag'>, root: string = DEFAULT_GHCR_ROOT): string {
  return `${root}/${imageName(b.name)}/manifests/${manifestTag(b)}`;
}
