import {
  BottleNameError,
  blobUrl,
  encodedFlatFileName,
  ghcrBasename,
  imageName,
  manifestTag,
  manifestUrl,
  platformRefName,
  urlEncode,
} from '../../engine/homebrew/bottle-names';

// Worked examples of brew's naming rules (restated from Homebrew/brew 6.0.18), column by column.
const examples = [
  ['wget', '1.25.0', 0, 0, 'arm64_sequoia', 'wget-1.25.0.arm64_sequoia.bottle.tar.gz', 'wget--1.25.0.arm64_sequoia.bottle.tar.gz', 'wget', '1.25.0', '1.25.0.arm64_sequoia'],
  ['gtop', '1.1.5', 0, 1, 'arm64_sequoia', 'gtop-1.1.5.arm64_sequoia.bottle.1.tar.gz', 'gtop--1.1.5.arm64_sequoia.bottle.1.tar.gz', 'gtop', '1.1.5-1', '1.1.5.arm64_sequoia.1'],
  ['openssl@3', '3.2.0', 1, 0, 'arm64_sonoma', 'openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz', 'openssl@3--3.2.0_1.arm64_sonoma.bottle.tar.gz', 'openssl/3', '3.2.0_1', '3.2.0_1.arm64_sonoma'],
  ['openssl@3', '3.1.2', 0, 1, 'sonoma', 'openssl%403-3.1.2.sonoma.bottle.1.tar.gz', 'openssl@3--3.1.2.sonoma.bottle.1.tar.gz', 'openssl/3', '3.1.2-1', '3.1.2.sonoma.1'],
  ['ca-certificates', '2023-12-12', 0, 0, 'all', 'ca-certificates-2023-12-12.all.bottle.tar.gz', 'ca-certificates--2023-12-12.all.bottle.tar.gz', 'ca-certificates', '2023-12-12', '2023-12-12.all'],
  ['python@3.12', '3.12.3', 0, 0, 'arm64_sonoma', 'python%403.12-3.12.3.arm64_sonoma.bottle.tar.gz', 'python@3.12--3.12.3.arm64_sonoma.bottle.tar.gz', 'python/3.12', '3.12.3', '3.12.3.arm64_sonoma'],
  ['gtk+3', '3.24.43', 0, 0, 'x86_64_linux', 'gtk%2B3-3.24.43.x86_64_linux.bottle.tar.gz', 'gtk+3--3.24.43.x86_64_linux.bottle.tar.gz', 'gtkx3', '3.24.43', '3.24.43.x86_64_linux'],
  ['libsigc++@2', '2.12.1', 0, 1, 'arm64_linux', 'libsigc%2B%2B%402-2.12.1.arm64_linux.bottle.1.tar.gz', 'libsigc++@2--2.12.1.arm64_linux.bottle.1.tar.gz', 'libsigcxx/2', '2.12.1-1', '2.12.1.arm64_linux.1'],
  ['cowsay', '3.04', 1, 0, 'x86_64_linux', 'cowsay-3.04_1.x86_64_linux.bottle.tar.gz', 'cowsay--3.04_1.x86_64_linux.bottle.tar.gz', 'cowsay', '3.04_1', '3.04_1.x86_64_linux'],
] as const;

describe('bottle naming rules (URL-RULES.md §7)', () => {
  test.each(examples)('%s %s rev %d rebuild %d %s', (name, version, revision, rebuild, tag, flat, basename, image, manifest, ref) => {
    const b = { name, version, revision, rebuild, tag };
    expect(encodedFlatFileName(b)).toBe(flat);
    expect(ghcrBasename(b)).toBe(basename);
    expect(imageName(name)).toBe(image);
    expect(manifestTag(b)).toBe(manifest);
    expect(platformRefName(b)).toBe(ref);
  });

  test('blob and manifest URLs under the GHCR root', () => {
    expect(blobUrl('python@3.12', 'fd301f96783de7d57e8d704ca0967e5cf111350acbf1ad8bec36fa27bb75fc3c')).toBe(
      'https://ghcr.io/v2/homebrew/core/python/3.12/blobs/sha256:fd301f96783de7d57e8d704ca0967e5cf111350acbf1ad8bec36fa27bb75fc3c',
    );
    expect(manifestUrl({ name: 'openssl@3', version: '3.2.0', revision: 1, rebuild: 0 })).toBe(
      'https://ghcr.io/v2/homebrew/core/openssl/3/manifests/3.2.0_1',
    );
  });

  test('url encoding matches ERB::Util.url_encode, multi-byte included', () => {
    expect(urlEncode('a b/c~d_e-f.g')).toBe('a%20b%2Fc~d_e-f.g');
    expect(urlEncode('é')).toBe('%C3%A9');
  });

  test('a tap prefix is dropped from file names', () => {
    expect(encodedFlatFileName({ name: 'homebrew/core/wget', version: '1.25.0', revision: 0, rebuild: 0, tag: 'all' })).toBe(
      'wget-1.25.0.all.bottle.tar.gz',
    );
  });

  test.each([
    [{ name: '..', version: '1', revision: 0, rebuild: 0, tag: 'all' }, /unsafe formula name/],
    [{ name: 'x', version: '1/2', revision: 0, rebuild: 0, tag: 'all' }, /unsafe version/],
    [{ name: 'x', version: '1', revision: 0, rebuild: 0, tag: '../etc' }, /invalid platform tag/],
  ])('rejects names that could escape the store: %p', (b, message) => {
    expect(() => encodedFlatFileName(b)).toThrow(BottleNameError);
    expect(() => encodedFlatFileName(b)).toThrow(message);
  });

  test('refuses a manifest tag brew would refuse', () => {
    expect(() => manifestTag({ name: 'x', version: '-1', revision: 0, rebuild: 0 })).toThrow(/not a valid OCI tag/);
  });
});
