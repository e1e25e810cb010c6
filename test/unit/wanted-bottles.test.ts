import { ApiShapeError, SkippedFormula, wantedBottles } from '../../engine/homebrew/wanted-bottles';
import { reference } from '../reference';

const wget = JSON.parse(reference('formula-sample.json').toString('utf8'));

const formula = (name: string, version: string, revision: number, rebuild: number, files: Record<string, string>) => ({
  name,
  versions: { stable: version },
  revision,
  bottle: {
    stable: {
      rebuild,
      root_url: 'https://ghcr.io/v2/homebrew/core',
      files: Object.fromEntries(
        Object.entries(files).map(([tag, sha]) => [tag, { cellar: ':any', sha256: sha, url: `https://ghcr.io/v2/homebrew/core/x/blobs/sha256:${sha}` }]),
      ),
    },
  },
});
const sha = (c: string) => c.repeat(64);

describe('wanted bottle set', () => {
  test('every bottle of the real wget sample, with upstream URL, image and refs', () => {
    const wanted = wantedBottles([wget]);
    const tags = Object.keys(wget.bottle.stable.files);
    expect(wanted.map((b) => b.tag)).toEqual(tags);
    const arm = wanted.find((b) => b.tag === 'arm64_monterey')!;
    expect(arm).toMatchObject({
      name: 'wget',
      pkgVersion: '1.21.2',
      rebuild: 0,
      sha256: '571ef7b59ebab2aa947485aa33bf612d001d51f5bbc89b59d00ac39712b846c8',
      upstreamUrl: 'https://ghcr.io/v2/homebrew/core/wget/blobs/sha256:571ef7b59ebab2aa947485aa33bf612d001d51f5bbc89b59d00ac39712b846c8',
      image: 'wget',
      manifestRef: '1.21.2',
      platformRef: '1.21.2.arm64_monterey',
      flatFile: 'wget-1.21.2.arm64_monterey.bottle.tar.gz',
    });
  });

  test('names with @ and +, a revision, a rebuild and the all tag', () => {
    const wanted = wantedBottles([
      formula('openssl@3', '3.2.0', 1, 0, { arm64_sonoma: sha('a') }),
      formula('libsigc++@2', '2.12.1', 0, 1, { arm64_linux: sha('b') }),
      formula('ca-certificates', '2023-12-12', 0, 0, { all: sha('c') }),
    ]);
    expect(wanted.map((b) => [b.image, b.manifestRef, b.platformRef, b.flatFile])).toEqual([
      ['openssl/3', '3.2.0_1', '3.2.0_1.arm64_sonoma', 'openssl@3-3.2.0_1.arm64_sonoma.bottle.tar.gz'],
      ['libsigcxx/2', '2.12.1-1', '2.12.1.arm64_linux.1', 'libsigc++@2-2.12.1.arm64_linux.bottle.1.tar.gz'],
      ['ca-certificates', '2023-12-12', '2023-12-12.all', 'ca-certificates-2023-12-12.all.bottle.tar.gz'],
    ]);
  });

  test('configured tags filter the set; formulae without bottles are skipped', () => {
    const wanted = wantedBottles(
      [formula('a', '1', 0, 0, { all: sha('1') }), formula('b', '1', 0, 0, { x86_64_linux: sha('2'), arm64_sonoma: sha('3') }), { name: 'no-bottle', versions: { stable: '1' } }],
      new Set(['all', 'x86_64_linux']),
    );
    expect(wanted.map((b) => `${b.name}:${b.tag}`)).toEqual(['a:all', 'b:x86_64_linux']);
  });

  test('a platform falls back to a formula’s `all` bottle only where it has none of its own', () => {
    const payload = [
      formula('ca-certificates', '2023-12-12', 0, 0, { all: sha('c') }),
      formula('wget', '1.25.0', 0, 0, { arm64_sequoia: sha('d'), x86_64_linux: sha('e') }),
      // Both an own bottle and an `all` one: the platform uses its own.
      formula('both', '1.0', 0, 0, { arm64_sequoia: sha('f'), all: sha('1') }),
    ];
    const names = (tags: string[], fallback?: boolean) => wantedBottles(payload, new Set(tags), fallback).map((b) => `${b.name}:${b.tag}`);
    expect(names(['arm64_sequoia'])).toEqual(['ca-certificates:all', 'wget:arm64_sequoia', 'both:arm64_sequoia']);
    expect(names(['arm64_sequoia'], false)).toEqual(['wget:arm64_sequoia', 'both:arm64_sequoia']);
    expect(names(['all'])).toEqual(['ca-certificates:all', 'both:all']);
  });

  test('on macOS brew pours an older macOS bottle of the same architecture when a formula has none of its own nor an `all` one (#22)', () => {
    const payload = [
      // Only built for Sequoia: brew on Tahoe pours the Sequoia bottle.
      formula('sequoia-only', '1.0', 0, 0, { arm64_sequoia: sha('a'), sequoia: sha('b') }),
      // Several older ones: the newest older one, nothing else.
      formula('older', '1.0', 0, 0, { arm64_sonoma: sha('c'), arm64_ventura: sha('d'), x86_64_linux: sha('e') }),
      // An `all` bottle comes first in brew's choice; with --without-all it is left out, and so is the older one.
      formula('has-all', '1.0', 0, 0, { all: sha('f'), arm64_sonoma: sha('1') }),
      // Its own bottle: only that.
      formula('own', '1.0', 0, 0, { arm64_tahoe: sha('2'), arm64_sequoia: sha('3') }),
      // Another architecture never stands in.
      formula('intel-only', '1.0', 0, 0, { sonoma: sha('4') }),
    ];
    const names = (tags: string[], fallback?: boolean) => wantedBottles(payload, new Set(tags), fallback).map((b) => `${b.name}:${b.tag}`);
    expect(names(['arm64_tahoe'])).toEqual(['sequoia-only:arm64_sequoia', 'older:arm64_sonoma', 'has-all:all', 'own:arm64_tahoe']);
    expect(names(['arm64_tahoe'], false)).toEqual(['sequoia-only:arm64_sequoia', 'older:arm64_sonoma', 'own:arm64_tahoe']);
    expect(names(['tahoe'])).toEqual(['sequoia-only:sequoia', 'has-all:all', 'intel-only:sonoma']);
    // Two tags falling back to one bottle want it once; Linux never falls back to macOS.
    expect(names(['arm64_tahoe', 'arm64_sequoia', 'arm64_linux'])).toEqual(['sequoia-only:arm64_sequoia', 'older:arm64_sonoma', 'has-all:all', 'own:arm64_tahoe', 'own:arm64_sequoia']);
  });

  test.each([
    [{}, /must be a JSON array/],
    [[{ name: 'x', bottle: { stable: { files: { all: { sha256: sha('a'), url: 'https://x' } } } } }], /"x" has bottles but no stable version/],
    [[formula('x', '1', 0, 0, { all: 'not-a-sha' })], /bottle all has no valid sha256/],
    [[{ ...formula('x', '1', 0, 0, { all: sha('a') }), revision: -1 }], /invalid revision or rebuild/],
  ])('malformed API data is rejected with a clear reason (%#)', (payload, message) => {
    expect(() => wantedBottles(payload)).toThrow(ApiShapeError);
    expect(() => wantedBottles(payload)).toThrow(message);
  });

  test('an odd formula is skipped and reported when the caller collects skips; the others stay wanted', () => {
    const payload = [
      formula('wget', '1.25.0', 0, 0, { arm64_sequoia: sha('a') }),
      formula('has space', '1.0', 0, 0, { arm64_sequoia: sha('b'), x86_64_linux: sha('c') }),
      formula('x'.repeat(200), '1.0', 0, 0, { arm64_sequoia: sha('d') }),
      formula('quote"s', '1.0', 0, 0, { arm64_sequoia: sha('e') }),
      formula('bad-sha', '1.0', 0, 0, { arm64_sequoia: 'nope' }),
      formula('curl', '8.0', 0, 0, { arm64_sequoia: sha('f') }),
    ];
    expect(() => wantedBottles(payload)).toThrow(/unsafe formula name "has space"/);
    const skipped: SkippedFormula[] = [];
    const wanted = wantedBottles(payload, undefined, true, skipped);
    expect(wanted.map((b) => b.name)).toEqual(['wget', 'curl']);
    expect(skipped.map((s) => [s.name.slice(0, 10), s.tags])).toEqual([
      ['has space', ['arm64_sequoia', 'x86_64_linux']],
      ['x'.repeat(10), ['arm64_sequoia']],
      ['quote"s', ['arm64_sequoia']],
      ['bad-sha', ['arm64_sequoia']],
    ]);
    expect(skipped[1].reason).toMatch(/unsafe formula name/);
    expect(skipped[3].reason).toMatch(/no valid sha256/);
    // Only the wanted tags count.
    const armOnly: SkippedFormula[] = [];
    wantedBottles(payload, new Set(['arm64_sequoia']), false, armOnly);
    expect(armOnly[0].tags).toEqual(['arm64_sequoia']);
  });
});
