import { UnsafeKeyError, apiKey, blobDigestOf, blobKey, manifestKey, requireSafeKey, runKeys } from '../../engine/store-layout';
import { errorKind } from '../../engine/errors';

const SHA = 'a'.repeat(64);

describe('store layout', () => {
  test('every key shape, as the S3 bucket and the directory store lay them out', () => {
    expect(blobKey(SHA)).toBe(`blobs/sha256/${SHA}`);
    expect(manifestKey('openssl/3', '3.2.0_1')).toBe('manifests/openssl/3/3.2.0_1');
    expect(apiKey('20261122T030000Z-abc123', 'internal/packages.arm64_sonoma.jws.json')).toBe(
      'api/generations/20261122T030000Z-abc123/internal/packages.arm64_sonoma.jws.json',
    );
    expect(runKeys.summary('r1')).toBe('runs/r1/run.json');
    expect(runKeys.batch('r1', 'b0')).toBe('runs/r1/batches/b0.json');
    expect(runKeys.result('r1', 'b0')).toBe('runs/r1/results/b0.json');
  });

  test('a blob key only for a lowercase hex sha256; listing recognises only blob keys', () => {
    for (const bad of ['A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(63)}/`, '../x']) {
      expect(() => blobKey(bad)).toThrow(UnsafeKeyError);
    }
    expect(blobDigestOf(`blobs/sha256/${SHA}`)).toBe(SHA);
    expect(blobDigestOf(`blobs/sha256/${SHA}.partial`)).toBeUndefined();
    expect(blobDigestOf(`manifests/${SHA}`)).toBeUndefined();
  });

  test.each(['a/../b', '../a', 'a//b', '/a', 'a/', 'a/./b', 'a\\b', 'a/b\u0000', 'a b', 'a/%2e%2e'])('unsafe key %p is refused as bad upstream input', (key) => {
    let thrown: unknown;
    try {
      requireSafeKey(key);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnsafeKeyError);
    expect(errorKind(thrown)).toBe('upstream-input');
  });

  test('brew names with @ and + make safe keys', () => {
    expect(requireSafeKey(manifestKey('openssl@3', '3.2.0'))).toBe('manifests/openssl@3/3.2.0');
    expect(requireSafeKey(manifestKey('libstdc++', '14.1.0'))).toBe('manifests/libstdc++/14.1.0');
  });
});
