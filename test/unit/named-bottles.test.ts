import { createHash } from 'crypto';
import { IndexedBottle, encodeBottleIndex } from '../../engine/bottle-index';
import { NamedBottles } from '../../engine/serve/named-bottles';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const bottle = (name: string, version: string, tag: string): IndexedBottle => ({
  flatFile: `${name}-${version}.${tag}.bottle.tar.gz`,
  sha256: sha(`${name}${version}${tag}`),
  image: name,
  manifestRef: version,
});
const tags = ['arm64_sequoia', 'sonoma', 'x86_64_linux'];
const all = ['jq', 'wget', 'python@3.12', 'openssl@3'].flatMap((name, i) => tags.map((tag) => bottle(name, `1.${i}`, tag)));

describe('the named bottles pull-through may fetch (issue #24)', () => {
  const mirrored = new Map(all.filter((b) => b.image === 'jq').map((b) => [b.flatFile, b.sha256]));
  const named = new NamedBottles(encodeBottleIndex(all), mirrored);

  test('every named bottle the mirror lacks, by flat name and by digest; none it mirrors', () => {
    expect(named.size).toBe(9);
    for (const b of all.filter((x) => x.image !== 'jq')) {
      const expected = { sha256: b.sha256, image: b.image, manifestRef: b.manifestRef };
      expect(named.byName(b.flatFile)).toEqual(expected);
      expect(named.bySha(b.sha256)).toEqual(expected);
    }
    for (const b of all.filter((x) => x.image === 'jq')) {
      expect(named.byName(b.flatFile)).toBeUndefined();
      expect(named.bySha(b.sha256)).toBeUndefined();
    }
  });

  test('an image index lists the digests of all its bottles, in index order; others are unknown', () => {
    expect(named.manifest('python@3.12:1.2')).toEqual(tags.map((tag) => sha(`python@3.121.2${tag}`)));
    expect(named.manifest('jq:1.0')).toBeUndefined();
    expect(named.manifest('python@3.12:9.9')).toBeUndefined();
  });

  test('a digest that is not one, in the wrong case, or one digit off finds nothing', () => {
    const known = all[5].sha256;
    for (const probe of ['', 'zz', known.toUpperCase(), known.slice(0, 63), `${known.slice(0, 63)}${known[63] === '0' ? '1' : '0'}`, '0'.repeat(64), 'f'.repeat(64)]) {
      expect([probe, named.bySha(probe)]).toEqual([probe, undefined]);
    }
  });

  test('no index (a whole mirror, or one published before the index existed) names nothing', () => {
    const none = new NamedBottles(undefined, new Map());
    expect([none.size, none.byName(all[0].flatFile), none.bySha(all[0].sha256), none.manifest('jq:1.0')]).toEqual([0, undefined, undefined, undefined]);
  });

  test('thousands of bottles: every digest is found by the sorted search', () => {
    const many = Array.from({ length: 5000 }, (_, i) => bottle(`formula-${i}`, '1', tags[i % 3]));
    const index = new NamedBottles(encodeBottleIndex(many), new Map());
    expect(many.filter((b) => index.bySha(b.sha256)?.image !== b.image)).toEqual([]);
  });
});
