import { Logger } from '../logger';
import { BlobStore } from '../ports';
import { isSha256 } from '../store-layout';
import { Upstream, cutAt } from '../upstream/client';
import { BrewRelease, PinnedRuby } from './brew-record';
import { WorkingRepository } from './brew-git';

/** Where each brew release pins its portable Ruby (`cmd/vendor-install.sh` reads these). */
export const VENDOR_DIR = 'Library/Homebrew/vendor';
const VERSION_FILE = 'portable-ruby-version';
/** `portable-ruby-<platform>` files, e.g. `portable-ruby-arm64-darwin`. */
const PLATFORM_FILE = /^portable-ruby-([a-z0-9_]+-[a-z0-9_]+)$/;
const RUBY_VERSION = /^[0-9][0-9A-Za-z._]*$/;
const RUBY_TAG = /^[a-z0-9_]+$/;

/** The flat file name brew asks `HOMEBREW_BOTTLE_DOMAIN` for. */
export const portableRubyFile = (version: string, rubyTag: string): string => `portable-ruby-${version}.${rubyTag}.bottle.tar.gz`;

/** `ruby_TAG=…` and `ruby_SHA=…` of one vendor file (shell assignments, optionally quoted). */
export function parseVendorFile(text: string): { rubyTag: string; sha256: string } | undefined {
  const value = (name: string) => new RegExp(`^\\s*${name}=["']?([^"'\\s]+)["']?\\s*$`, 'm').exec(text)?.[1];
  const rubyTag = value('ruby_TAG');
  const sha256 = value('ruby_SHA');
  return rubyTag && sha256 && RUBY_TAG.test(rubyTag) && isSha256(sha256) ? { rubyTag, sha256 } : undefined;
}

/**
 * The portable Rubies one release pins, read from its tree at `ref`
 * (`refs/tags/<tag>`, or the default branch for its head); a release without
 * readable pins says why.
 */
export async function pinnedRubies(repo: WorkingRepository, release: { readonly tag: string; readonly ref: string; readonly head?: boolean }): Promise<BrewRelease> {
  const { tag, ref } = release;
  const head = release.head ? { head: true } : {};
  const version = (await repo.readFile(ref, `${VENDOR_DIR}/${VERSION_FILE}`))?.trim();
  if (!version || !RUBY_VERSION.test(version)) return { tag, ...head, rubies: [], error: `${VENDOR_DIR}/${VERSION_FILE} is missing or malformed` };
  const rubies: PinnedRuby[] = [];
  for (const name of (await repo.listDirectory(ref, VENDOR_DIR)).sort()) {
    const platform = PLATFORM_FILE.exec(name)?.[1];
    if (!platform || name === VERSION_FILE) continue;
    const pin = parseVendorFile((await repo.readFile(ref, `${VENDOR_DIR}/${name}`)) ?? '');
    if (!pin) return { tag, ...head, rubyVersion: version, rubies: [], error: `${VENDOR_DIR}/${name} has no ruby_TAG and ruby_SHA` };
    rubies.push({ platform, ...pin, file: portableRubyFile(version, pin.rubyTag) });
  }
  if (rubies.length === 0) return { tag, ...head, rubyVersion: version, rubies: [], error: `${VENDOR_DIR} pins no portable Ruby` };
  return { tag, ...head, rubyVersion: version, rubies };
}

export interface PortableRubyDeps {
  readonly upstream: Upstream;
  readonly blobs: BlobStore;
  readonly log: Logger;
}

/**
 * Stores every Ruby the release pins, from `<registry>/v2/homebrew/core/portable-ruby/blobs/sha256:<pin>`
 * (anonymous token, as for bottles). The blob store keeps a body only if it hashes to the pin, the only
 * bytes brew accepts. A pin missing upstream fails that platform of this release only: its other
 * platforms are still stored and served.
 */
export async function storePinnedRubies(deps: PortableRubyDeps, registryUrl: string, release: BrewRelease, fetched?: { count: number; bytes: number }): Promise<BrewRelease> {
  if (release.error) return release;
  const stored: PinnedRuby[] = [];
  for (const ruby of release.rubies) {
    try {
      let size = await deps.blobs.size(ruby.sha256);
      if (size === undefined) {
        const response = await deps.upstream.get(`${registryUrl.replace(/\/+$/, '')}/v2/homebrew/core/portable-ruby/blobs/sha256:${ruby.sha256}`, undefined, true, true);
        const expected = { sha256: ruby.sha256, length: response.length };
        // A body of unknown length is cut at the API file cap (a portable Ruby is about 15 MB), never written without end.
        const body = cutAt(response.body, response.length ?? deps.upstream.limits.maxApiFileBytes, response.url);
        size = (await deps.blobs.put(body, expected)).bytes;
        if (fetched) {
          fetched.count++;
          fetched.bytes += size;
        }
      }
      stored.push({ ...ruby, size });
    } catch (error) {
      const reason = `portable Ruby ${ruby.file} (sha256 ${ruby.sha256.slice(0, 12)}…): ${(error as Error).message}`;
      deps.log.warn('a pinned portable Ruby could not be stored; this platform of the release is not covered', { release: release.tag, platform: ruby.platform, reason });
      stored.push({ ...ruby, error: reason });
    }
  }
  return { ...release, rubies: stored };
}
