import { createHash, generateKeyPairSync, sign, constants } from 'crypto';
import { HOMEBREW_1_PEM } from '../../engine/homebrew/homebrew-1-key';
import { ApiVerificationError, loadPublicKey, verifySignedApiFile, verifySignedPayloadPieces } from '../../engine/homebrew/signed-api';
import { reference } from '../reference';

const homebrewKey = loadPublicKey(HOMEBREW_1_PEM);
const realFile = reference('formula_tap_migrations.jws.json');
const PROTECTED = reference('jws-protected-header.b64url.txt').toString('utf8').trim();

/** Signs a payload the way formulae.brew.sh does, with a throwaway test key. */
function signWithTestKey(payload: string, protectedB64 = PROTECTED, kid = 'homebrew-1') {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signature = sign('sha512', Buffer.from(`${protectedB64}.${payload}`), {
    key: privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 64,
  }).toString('base64url');
  return { publicKey, file: JSON.stringify({ payload, signatures: [{ protected: protectedB64, header: { kid }, signature }] }) };
}

describe('signed API verification', () => {
  test('the embedded homebrew-1 key is byte-identical to the reference key', () => {
    expect(createHash('sha256').update(HOMEBREW_1_PEM).digest('hex')).toBe(createHash('sha256').update(reference('homebrew-1.pem')).digest('hex'));
  });

  test('a real Homebrew-signed file verifies with homebrew-1 and parses', () => {
    const verified = verifySignedApiFile<Record<string, string>>('formula_tap_migrations.jws.json', realFile, homebrewKey);
    expect(verified.payload).toBe(JSON.parse(realFile.toString('utf8')).payload);
    expect(typeof verified.document).toBe('object');
    expect(Object.keys(verified.document).length).toBeGreaterThan(10);
  });

  test('changing one byte of the payload breaks the signature', () => {
    const envelope = JSON.parse(realFile.toString('utf8'));
    envelope.payload = envelope.payload.replace('homebrew/cask', 'homebrew/casK');
    expect(() => verifySignedApiFile('formula_tap_migrations.jws.json', JSON.stringify(envelope), homebrewKey)).toThrow(
      /formula_tap_migrations\.jws\.json: signature does not verify with key "homebrew-1"/,
    );
  });

  test('a file signed by another key is rejected; the same file verifies with that key (override for tests)', () => {
    const { publicKey, file } = signWithTestKey('{"a":1}');
    expect(() => verifySignedApiFile('x.jws.json', file, homebrewKey)).toThrow(ApiVerificationError);
    expect(verifySignedApiFile('x.jws.json', file, publicKey).document).toEqual({ a: 1 });
  });

  test('brew test-style header without "crit" is accepted, padded base64url too', () => {
    const { publicKey, file } = signWithTestKey('[1,2]', 'eyJhbGciOiJQUzUxMiIsImI2NCI6ZmFsc2V9');
    const envelope = JSON.parse(file);
    envelope.signatures[0].signature += '=='.slice(0, (4 - (envelope.signatures[0].signature.length % 4)) % 4);
    expect(verifySignedApiFile('x.jws.json', JSON.stringify(envelope), publicKey).document).toEqual([1, 2]);
  });

  test.each([
    ['not JSON at all', '{"payload": ', /not valid JSON/],
    ['no envelope', '[]', /not a JWS envelope/],
    ['payload not a string', '{"payload":{},"signatures":[]}', /not a JWS envelope/],
    ['no homebrew-1 signature', '{"payload":"{}","signatures":[{"protected":"x","header":{"kid":"other"},"signature":"y"}]}', /no signature with kid "homebrew-1"/],
    ['wrong algorithm', JSON.stringify({ payload: '{}', signatures: [{ protected: Buffer.from('{"alg":"RS256","b64":false}').toString('base64url'), header: { kid: 'homebrew-1' }, signature: 'AA' }] }), /unsupported algorithm "RS256"/],
    ['encoded payload', JSON.stringify({ payload: '{}', signatures: [{ protected: Buffer.from('{"alg":"PS512"}').toString('base64url'), header: { kid: 'homebrew-1' }, signature: 'AA' }] }), /payload must be unencoded/],
    ['garbage signature', JSON.stringify({ payload: '{}', signatures: [{ protected: PROTECTED, header: { kid: 'homebrew-1' }, signature: '!!' }] }), /signature is not base64url/],
  ])('%s is rejected with a clear reason', (_what, file, message) => {
    expect(() => verifySignedApiFile('formula.jws.json', file, homebrewKey)).toThrow(message);
  });

  test('a correctly signed payload that is not JSON is rejected', () => {
    const { publicKey, file } = signWithTestKey('{"broken": ');
    expect(() => verifySignedApiFile('cask.jws.json', file, publicKey)).toThrow(/cask\.jws\.json: signed payload is not valid JSON/);
  });

  test('a payload over a MiB is hashed in slices, and a slice never splits a surrogate pair', () => {
    // `["` then padding, so the beer emoji (a surrogate pair in UTF-16) straddles the first 1 MiB slice boundary.
    const before = 'a'.repeat(1024 * 1024 - 1 - 2);
    const real = JSON.stringify([`${before}🍺`, 'tail 🍺']);
    expect(real.charCodeAt(1024 * 1024 - 1)).toBe(0xd83c); // the boundary falls inside the pair
    const { publicKey, file } = signWithTestKey(real);
    expect(verifySignedApiFile<string[]>('formula.jws.json', file, publicKey).document[1]).toBe('tail 🍺');
  });

  describe('large files, verified from their bytes in pieces (32 KiB each)', () => {
    const pieces = (file: string | Buffer, key = homebrewKey) => [...verifySignedPayloadPieces('formula.jws.json', Buffer.from(file), key)()].join('');

    test('the real Homebrew-signed file gives the same payload as the whole-file path', () => {
      expect(pieces(realFile)).toBe(verifySignedApiFile('formula_tap_migrations.jws.json', realFile, homebrewKey).payload);
    });

    test('escapes, raw and escaped surrogate pairs across many piece boundaries decode and verify', () => {
      const unit = 'quote " backslash \\ newline \n snowman \u2603 beer 🍺 ';
      const payload = JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ name: `f${i}`, desc: unit })));
      expect(payload.length).toBeGreaterThan(3 * 1024 * 1024); // about a hundred pieces
      // JSON.stringify escapes only quotes, backslashes and control characters; escape the emoji too, as \uD83C\uDF7A, half the time.
      const { publicKey, file } = signWithTestKey(payload);
      const escaped = file.replace(/🍺/g, (m, offset: number) => (offset % 2 ? '\\ud83c\\udf7a' : m));
      expect(pieces(file, publicKey)).toBe(payload);
      expect(pieces(escaped, publicKey)).toBe(payload);
    });

    test('a tampered payload, a second payload member and a missing one are refused', () => {
      const { publicKey, file } = signWithTestKey('[{"name":"wget"}]');
      expect(() => pieces(file.replace('wget', 'wgex'), publicKey)).toThrow(/signature does not verify/);
      const doubled = file.replace('{"payload":', '{"payload":"[]","payload":');
      expect(() => pieces(doubled, publicKey)).toThrow(ApiVerificationError);
      expect(() => pieces(file.replace('"payload"', '"pay"'), publicKey)).toThrow(/not a JWS envelope/);
      expect(() => pieces('[1]', publicKey)).toThrow(/not a JWS envelope/);
    });
  });
});
