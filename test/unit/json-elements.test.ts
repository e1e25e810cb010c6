import { JsonShapeError, jsonArrayElements, topLevelMembers } from '../../engine/homebrew/json-elements';
import { decodeBottleIndex, encodeBottleIndex } from '../../engine/bottle-index';
import { formulaEntries } from '../../engine/homebrew/wanted-bottles';
import { ApiShapeError } from '../../engine/homebrew/wanted-bottles';
import { reference } from '../reference';

describe('JSON array elements, one at a time', () => {
  test.each([
    '[]',
    ' [ ] ',
    '[1,2,3]',
    '[ {"a":"]},{[\\"\\\\", "b":[1,{"c":null}]} , "x,y" ,true,false,null,-1.5e3,[[]] ]\n',
    JSON.stringify([{ name: 'wget', s: 'brackets ] } [ { and "quotes" and \\ and \u2603 and 🍺' }, 'x']),
  ])('yields what JSON.parse would: %s', (text) => {
    expect([...jsonArrayElements(text)]).toEqual(JSON.parse(text));
  });

  test('the real formula sample parses the same element by element', () => {
    const sample = reference('formula-sample.json').toString('utf8');
    const array = `[${sample},${sample}]`;
    expect([...jsonArrayElements(array)]).toEqual(JSON.parse(array));
  });

  test.each(['{}', '"x"', '[1,2', '[1 2]', '[1,]x', '[{"a":1}] trailing', '[{"a":}]', ''])('refuses what is not a JSON array: %p', (text) => {
    expect(() => [...jsonArrayElements(text)]).toThrow(JsonShapeError);
  });

  test('formula entries must each have a name: a cask list under the formula file name is refused', () => {
    expect([...formulaEntries('[{"name":"wget"}]')]).toEqual([{ name: 'wget' }]);
    expect(() => [...formulaEntries('[{"token":"firefox"}]')]).toThrow(ApiShapeError);
    expect(() => [...formulaEntries('[{"token":"firefox"}]')]).toThrow('formula.jws.json: entry #0 has no "name" (is this the right file?)');
    expect(() => [...formulaEntries('{"name":"x"}')]).toThrow('formula.jws.json: is not a JSON array');
  });
});

describe('top-level members of a large object, unparsed', () => {
  test('gives each member\'s text range; only the slice asked for is parsed', () => {
    const text = ' {"metadata": {"bottle_tag":"arm64_sequoia","n":[1,2]}, "formulae" : {"a":{"x":"}{"}}, "s":"v", "n":-1.5} ';
    const members = topLevelMembers(text);
    expect([...members.keys()]).toEqual(['metadata', 'formulae', 's', 'n']);
    const slice = (name: string) => JSON.parse(text.slice(members.get(name)!.start, members.get(name)!.end));
    expect(slice('metadata')).toEqual({ bottle_tag: 'arm64_sequoia', n: [1, 2] });
    expect(slice('formulae')).toEqual({ a: { x: '}{' } });
    expect([slice('s'), slice('n')]).toEqual(['v', -1.5]);
    expect(topLevelMembers('{}').size).toBe(0);
  });

  test.each(['[]', '{"a":1', '{"a" 1}', '{"a":1,}', '{"a":1} x', '{a:1}'])('refuses %p', (text) => {
    expect(() => topLevelMembers(text)).toThrow(JsonShapeError);
  });
});

describe('bottle index', () => {
  test('round-trips, and a malformed line is an error', () => {
    const bottles = [
      { flatFile: 'openssl@3-3.2.0_1.arm64_sonoma.bottle.tar.gz', sha256: 'a'.repeat(64), image: 'openssl/3', manifestRef: '3.2.0_1' },
      { flatFile: 'libsigc++@2-2.12.1.x86_64_linux.bottle.1.tar.gz', sha256: 'b'.repeat(64), image: 'libsigcxx/2', manifestRef: '2.12.1-1' },
    ];
    expect([...decodeBottleIndex(encodeBottleIndex(bottles))]).toEqual(bottles);
    expect([...decodeBottleIndex(Buffer.alloc(0))]).toEqual([]);
    expect(() => [...decodeBottleIndex(Buffer.from('only\ttwo\n'))]).toThrow(/line 1 is malformed/);
  });
});
