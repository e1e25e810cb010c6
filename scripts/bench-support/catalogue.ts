/**
 * The Homebrew-size catalogue the scale and transfer benchmarks share
 * (issue #13): on the fixture upstream (test/fixtures/upstream-server.ts, a
 * registry that redirects blobs to a CDN origin, and the API origin), 7,500
 * formulae with names using `@` and `+`, six platform tags plus `all` (one
 * formula in twenty has only an `all` bottle): about 43,000 bottles, a 33 MB
 * `formula.jws.json` and a 2.3 MB `internal/packages.<tag>.jws.json` per tag,
 * as upstream's are.
 *
 * brew itself too (issue #22): a Homebrew/brew-size repository (40,000
 * commits over 5,000 files: about 150 MB packed and 240,000 objects, served
 * by `git http-backend`), three releases pinning four portable Rubies of 12 MB
 * each, and the install script.
 */
import { createHash, KeyObject, randomBytes } from 'crypto';
import { imageName, manifestTag, platformRefName } from '../../engine/homebrew/bottle-names';
import { signApiFile, testSigningKey } from '../../test/fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../../test/fixtures/upstream-server';
import { GitUpstream, PortableRubyPin, startGitUpstream } from '../../test/fixtures/git-upstream';

export const TAGS = ['arm64_tahoe', 'arm64_sequoia', 'arm64_sonoma', 'sonoma', 'arm64_linux', 'x86_64_linux'];
/** brew.git's size, and each portable Ruby's (brew 6.0.18's arm64_big_sur Ruby is about 12 MB). */
const BREW_HISTORY = { commits: 40_000, files: 5_000 };
const RUBY_BYTES = 12 * 1024 ** 2;

export interface Formula {
  name: string;
  version: string;
  revision: number;
  rebuild: number;
  /** tag → sha256 */
  files: Record<string, string>;
  deps: string[];
}


export function nameOf(i: number): string {
  if (i % 50 === 1) return `python@3.${i % 40}`;
  if (i % 97 === 2) return `libsigc++@${i % 5}-${i}`;
  if (i % 113 === 3) return `gtk+${i}`;
  return `formula-${i.toString(36)}`;
}

/** The scale catalogue's bottles: small, so that 43,000 of them fit in the fixture upstream's memory. */
export const SMALL_BOTTLE_BYTES = 48;

/** Adds a formula's bottles (of `bottleBytes` random bytes each) and image index to the fixture upstream. */
export function addFormula(upstream: FixtureUpstream, f: Omit<Formula, 'files'>, tags: string[], bottleBytes = SMALL_BOTTLE_BYTES): Formula {
  const image = imageName(f.name);
  const files: Record<string, string> = {};
  const manifests = tags.map((tag) => {
    const bytes = randomBytes(bottleBytes);
    const { sha256 } = upstream.addBlob(image, bytes);
    files[tag] = sha256;
    return {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${randomBytes(32).toString('hex')}`,
      size: 1200,
      platform: { architecture: tag.startsWith('arm64') ? 'arm64' : 'amd64', os: tag.endsWith('linux') ? 'linux' : 'darwin', 'os.version': `macOS ${tag}` },
      annotations: {
        'org.opencontainers.image.ref.name': platformRefName({ ...f, tag }),
        'sh.brew.bottle.digest': sha256,
        'sh.brew.bottle.size': String(bytes.length),
        'sh.brew.tab': JSON.stringify({ homebrew_version: '6.0.18', built_as_bottle: true, poured_from_bottle: false, time: 1795000000 }),
      },
    };
  });
  const ref = manifestTag(f);
  upstream.addManifest(image, ref, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests, annotations: { 'org.opencontainers.image.ref.name': ref } })));
  return { ...f, files };
}

/** A formula.jws.json entry about as large as upstream's (4.4 KB). */
function formulaEntry(f: Formula, root: string): object {
  const filler = (n: number) => 'lorem ipsum dolor sit amet '.repeat(n).trim();
  return {
    name: f.name,
    full_name: f.name,
    tap: 'homebrew/core',
    oldnames: [],
    aliases: [],
    versioned_formulae: [],
    desc: filler(2),
    license: 'MIT',
    homepage: `https://example.org/${f.name}`,
    versions: { stable: f.version, head: 'HEAD', bottle: true },
    urls: { stable: { url: `https://example.org/${f.name}-${f.version}.tar.gz`, tag: null, revision: null, using: null, checksum: randomBytes(32).toString('hex') }, head: { url: `https://github.com/example/${f.name}.git`, branch: 'main', using: null } },
    revision: f.revision,
    version_scheme: 0,
    compatibility_version: null,
    autobump: true,
    no_autobump_message: null,
    skip_livecheck: false,
    bottle: { stable: { rebuild: f.rebuild, root_url: root, files: Object.fromEntries(Object.entries(f.files).map(([tag, sha256]) => [tag, { cellar: ':any_skip_relocation', url: `${root}/${imageName(f.name)}/blobs/sha256:${sha256}`, sha256 }])) } },
    pour_bottle_only_if: null,
    keg_only: false,
    keg_only_reason: null,
    options: [],
    build_dependencies: ['pkgconf', 'cmake'],
    dependencies: f.deps,
    test_dependencies: [],
    recommended_dependencies: [],
    optional_dependencies: [],
    uses_from_macos: [{ zlib: 'build' }, 'curl'],
    uses_from_macos_bounds: [{}, {}],
    requirements: [],
    conflicts_with: [],
    conflicts_with_reasons: [],
    link_overwrite: [],
    caveats: filler(2),
    installed: [],
    linked_keg: null,
    pinned: false,
    outdated: false,
    deprecated: false,
    deprecation_date: null,
    deprecation_reason: null,
    deprecation_replacement_formula: null,
    deprecation_replacement_cask: null,
    disabled: false,
    disable_date: null,
    disable_reason: null,
    post_install_defined: false,
    service: null,
    tap_git_head: randomBytes(20).toString('hex'),
    ruby_source_path: `Formula/${f.name[0]}/${f.name}.rb`,
    ruby_source_checksum: { sha256: randomBytes(32).toString('hex') },
    head_dependencies: { build_dependencies: ['autoconf', 'automake'], dependencies: f.deps, test_dependencies: [], recommended_dependencies: [], optional_dependencies: [], uses_from_macos: ['zlib'], uses_from_macos_bounds: [{}] },
    variations: Object.fromEntries(TAGS.slice(4).map((tag) => [tag, { dependencies: [...f.deps, 'gettext'], build_dependencies: ['pkgconf'], uses_from_macos: ['zlib', 'curl', 'libxml2'], caveats: filler(1) }])),
    analytics: { install: { '30d': { [f.name]: 1234 }, '90d': { [f.name]: 3456 }, '365d': { [f.name]: 12345 } } },
  };
}

/** Publishes the signed API for `formulae` on the fixture's API origin; returns the formula.jws.json size. */
export function publish(upstream: FixtureUpstream, formulae: Formula[], key: { privateKey: KeyObject }): number {
  const formulaFile = signApiFile(JSON.stringify(formulae.map((f) => formulaEntry(f, upstream.registryRoot))), key.privateKey);
  upstream.setApiFile('formula.jws.json', formulaFile);
  upstream.setApiFile('cask.jws.json', signApiFile(JSON.stringify([{ token: 'firefox' }]), key.privateKey));
  upstream.setApiFile('formula_tap_migrations.jws.json', signApiFile('{}', key.privateKey));
  upstream.setApiFile('cask_tap_migrations.jws.json', signApiFile('{}', key.privateKey));
  for (const tag of TAGS) {
    const packages: Record<string, object> = {};
    for (const f of formulae) {
      const own = f.files[tag];
      const sha = own ?? f.files.all;
      if (!sha) continue;
      packages[f.name] = {
        desc: 'lorem ipsum dolor',
        ruby_source_checksum: randomBytes(32).toString('hex'),
        stable_dependencies: f.deps,
        stable_version: f.version,
        ...(f.revision ? { revision: f.revision } : {}),
        ...(f.rebuild ? { bottle_rebuild: f.rebuild } : {}),
        ...(own ? {} : { bottle_tag: ':all' }),
        bottle_cellar: ':any',
        bottle_checksum: sha,
      };
    }
    upstream.setApiFile(`internal/packages.${tag}.jws.json`, signApiFile(JSON.stringify({ metadata: { homebrew_version: '6.0.18', bottle_tag: tag, generated_at: 1795000000 }, formulae: packages }), key.privateKey));
  }
  return formulaFile.length;
}

/** Three brew releases, each pinning its own Ruby for four platforms, as brew's vendor files do. */
export function brewReleases(git: GitUpstream, registry: FixtureUpstream): PortableRubyPin[] {
  let pins: PortableRubyPin[] = [];
  const platforms: [string, string][] = [['arm64-darwin', 'arm64_big_sur'], ['x86_64-darwin', 'catalina'], ['arm64-linux', 'arm64_linux'], ['x86_64-linux', 'x86_64_linux']];
  for (const [i, version] of ['6.0.16', '6.0.17', '6.0.18'].entries()) {
    pins = platforms.map(([platform, rubyTag]) => {
      const bytes = randomBytes(RUBY_BYTES);
      registry.addBlob('portable-ruby', bytes);
      return { platform, rubyTag, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
    git.release(version, `4.0.${4 + i}`, pins);
  }
  registry.setApiFile('install.sh', Buffer.from(`#!/bin/bash\n# install.sh stand-in\n${'# '.repeat(20_000)}\n`));
  return pins;
}

export interface Catalogue {
  readonly upstream: FixtureUpstream;
  readonly brewGit: GitUpstream;
  readonly formulae: Formula[];
  /** The newest release's Ruby pins (a later release may pin the same ones). */
  readonly newestPins: PortableRubyPin[];
  readonly key: { publicKey: KeyObject; privateKey: KeyObject };
  readonly bottles: number;
  /** Each bottle's size. */
  readonly bottleBytes: number;
  readonly formulaBytes: number;
  readonly packagesBytes: number;
  close(): Promise<void>;
}

/**
 * Builds `count` formulae, brew.git and its releases on fresh fixture upstreams, and publishes the signed API.
 * `bottleBytes` sizes every bottle (@default SMALL_BOTTLE_BYTES): the transfer benchmark's byte-realistic
 * profile uses a few hundred formulae of megabyte bottles, as Homebrew's are, instead of 7,500 of tiny ones.
 */
export async function buildCatalogue(count: number, options: { readonly bottleBytes?: number } = {}): Promise<Catalogue> {
  const key = testSigningKey();
  const upstream = await startFixtureUpstream();
  const formulae: Formula[] = [];
  for (let i = 0; i < count; i++) {
    const onlyAll = i % 20 === 0;
    const f = { name: nameOf(i), version: `${1 + (i % 9)}.${i % 17}.${i % 5}`, revision: i % 11 === 0 ? 1 : 0, rebuild: i % 13 === 0 ? 1 : 0, deps: i > 10 ? [nameOf(i - 1), nameOf(i - 7)] : [] };
    formulae.push(addFormula(upstream, f, onlyAll ? ['all'] : TAGS, options.bottleBytes));
  }
  const brewGit = await startGitUpstream({ history: BREW_HISTORY });
  const newestPins = brewReleases(brewGit, upstream);
  const formulaBytes = publish(upstream, formulae, key);
  return {
    upstream,
    brewGit,
    formulae,
    newestPins,
    key,
    bottles: formulae.reduce((n, f) => n + Object.keys(f.files).length, 0),
    bottleBytes: options.bottleBytes ?? SMALL_BOTTLE_BYTES,
    formulaBytes,
    packagesBytes: upstream.apiFile(`internal/packages.${TAGS[0]}.jws.json`)!.length,
    close: async () => {
      await upstream.close();
      await brewGit.close();
    },
  };
}

/** The `bottles sync` arguments that mirror the catalogue, brew included, into `store`. */
export function catalogueSyncArgs(catalogue: Catalogue, store: string, pemFile: string): string[] {
  const { upstream, brewGit } = catalogue;
  const brewArgs = ['--brew-git-url', brewGit.url, '--registry-url', new URL(upstream.registryRoot).origin, '--install-script-url', `${upstream.apiRoot}/install.sh`];
  return ['sync', '--store', store, '--api-url', upstream.apiRoot, '--public-key', pemFile, '--concurrency', '32', ...brewArgs, '--json'];
}
