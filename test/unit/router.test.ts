import { matchRoute, mountPathOf, unmount } from '../../engine/serve/router';

// The router is pure: a raw path and the request's generations in, a route out; no socket, no store.
const sha = 'a'.repeat(64);
const older = 'b'.repeat(64);
const current = { bottlesByEncodedName: new Map([['openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz', sha]]) };
const previous = { bottlesByEncodedName: new Map([['wget-1.24.0.arm64_sonoma.bottle.tar.gz', older]]) };
const statusOf = (url: string) => {
  const match = matchRoute(url, current, previous);
  return match.kind === 'error' ? { route: match.route, status: match.error.status } : { route: match.route, kind: match.kind };
};

describe('router', () => {
  test('a bottle in brew’s own encoding is resolved from the current generation, then the previous one, without decoding', () => {
    expect(matchRoute('/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz', current, previous)).toEqual({
      kind: 'bottle', route: 'bottle', sha256: sha, encoded: 'openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz',
    });
    expect(matchRoute('/bottles/wget-1.24.0.arm64_sonoma.bottle.tar.gz?x=1', current, previous)).toMatchObject({ kind: 'bottle', sha256: older });
  });

  test('any other spelling of a bottle name is decoded and looked up by name; an encoded slash is a 400', () => {
    expect(matchRoute('/bottles/openssl@3-3.2.0_1.arm64_sonoma.bottle.tar.gz', current)).toEqual({
      kind: 'bottle_by_name', route: 'bottle', name: 'openssl@3-3.2.0_1.arm64_sonoma.bottle.tar.gz',
    });
    expect(statusOf('/bottles/..%2Fetc%2Fpasswd')).toEqual({ route: 'bottle', status: 400 });
    expect(statusOf('/bottles/%E0%A4%A')).toEqual({ route: 'bottle', status: 400 });
  });

  test('API files, manifests under both layouts, digests, tags and blobs', () => {
    expect(matchRoute('/api/internal/packages.arm64_sonoma.jws.json')).toEqual({ kind: 'api', route: 'api', file: 'internal/packages.arm64_sonoma.jws.json' });
    expect(matchRoute('/bottles/openssl/3/manifests/3.2.0_1')).toEqual({ kind: 'manifest', route: 'manifest', image: 'openssl/3', ref: '3.2.0_1' });
    expect(matchRoute('/v2/homebrew/core/openssl/3/manifests/3.2.0_1')).toEqual({ kind: 'manifest', route: 'registry_manifest', image: 'openssl/3', ref: '3.2.0_1' });
    expect(matchRoute(`/v2/homebrew/core/wget/manifests/sha256:${sha}`)).toEqual({ kind: 'manifest_by_digest', route: 'registry_manifest', image: 'wget', digest: `sha256:${sha}` });
    expect(matchRoute('/v2/homebrew/core/wget/tags/list')).toEqual({ kind: 'registry_tags', route: 'registry_tags', image: 'wget' });
    expect(matchRoute(`/v2/homebrew/core/wget/blobs/sha256:${sha}`)).toEqual({ kind: 'registry_blob', route: 'registry_blob', sha256: sha });
    expect(statusOf('/v2/homebrew/core/wget/blobs/sha256:abc')).toEqual({ route: 'registry_blob', status: 400 });
    expect(statusOf('/v2/homebrew/core/Wget/manifests/1.0')).toEqual({ route: 'registry_manifest', status: 400 });
  });

  test('brew itself: git’s dumb-protocol files (query ignored), packs by their git names, the page and the installers', () => {
    expect(matchRoute('/brew.git/info/refs?service=git-upload-pack')).toEqual({ kind: 'brew_git_file', route: 'brew_git', file: 'info/refs' });
    expect(matchRoute('/brew.git/HEAD')).toEqual({ kind: 'brew_git_file', route: 'brew_git', file: 'HEAD' });
    expect(matchRoute('/brew.git/objects/info/packs')).toEqual({ kind: 'brew_git_file', route: 'brew_git', file: 'objects/info/packs' });
    const pack = `pack-${'c'.repeat(40)}.pack`;
    expect(matchRoute(`/brew.git/objects/pack/${pack}`)).toEqual({ kind: 'brew_git_pack', route: 'brew_git', name: pack });
    expect(matchRoute(`/brew.git/objects/pack/pack-${'c'.repeat(40)}.idx`)).toMatchObject({ kind: 'brew_git_pack' });
    // Loose objects and alternates are never there (every object is in a pack); nothing leaves the pack directory.
    for (const url of [`/brew.git/objects/ab/${'c'.repeat(38)}`, '/brew.git/objects/info/http-alternates', '/brew.git/objects/pack/../../HEAD', `/brew.git/objects/pack/pack-${'C'.repeat(40)}.pack`, '/brew.git/config']) {
      expect(statusOf(url)).toEqual({ route: 'brew_git', status: 404 });
    }
    expect(matchRoute('/')).toEqual({ kind: 'home', route: 'home' });
    expect(matchRoute('/install')).toEqual({ kind: 'install', route: 'install' });
    expect(matchRoute('/install.sh')).toEqual({ kind: 'install_script', route: 'install' });
  });

  test('fixed routes, and everything else is a 404 (an encoded slash or an empty segment in the route’s head is a 400)', () => {
    expect(['/health', '/health/detailed', '/metrics', '/status', '/brew.env', '/v2/', '/v2'].map((p) => matchRoute(p).kind)).toEqual([
      'health', 'health_detailed', 'metrics', 'status', 'brew_env', 'registry_base', 'registry_base',
    ]);
    expect(statusOf('/brew.env/x')).toEqual({ route: 'unknown', status: 404 });
    expect(statusOf('/nothing/here')).toEqual({ route: 'unknown', status: 404 });
    expect(statusOf('/constructor')).toEqual({ route: 'unknown', status: 404 });
    expect(statusOf('/v2%2Fhomebrew/core')).toEqual({ route: 'unknown', status: 400 });
    expect(statusOf('//api/formula.jws.json')).toEqual({ route: 'unknown', status: 400 });
  });
});

describe('unmount: a mirror whose public URL has a path (#36 item 4)', () => {
  test.each([
    ['/brew/api/formula.jws.json', '/api/formula.jws.json'],
    ['/brew', '/'],
    ['/brew/', '/'],
    ['/brew?x=1', '/?x=1'],
    ['/v2/brew/homebrew/core/wget/blobs/sha256:ab', '/v2/homebrew/core/wget/blobs/sha256:ab'],
    ['/brew/v2/homebrew/core/wget/manifests/1.0', '/v2/homebrew/core/wget/manifests/1.0'],
    ['/api/formula.jws.json', '/api/formula.jws.json'],
    ['/brewery/api/x', '/brewery/api/x'],
    ['/v2/brewery/homebrew/core/x', '/v2/brewery/homebrew/core/x'],
  ])('%s → %s', (url, routed) => {
    expect(unmount(url, '/brew')).toBe(routed);
  });

  test('a mirror at the root changes nothing; the mount is the public URL path without its trailing slash', () => {
    expect(unmount('/brew/api/x', '')).toBe('/brew/api/x');
    expect(mountPathOf('https://tools.example.org/brew/')).toBe('/brew');
    expect(mountPathOf('https://bottles.example.org')).toBe('');
    expect(mountPathOf(undefined)).toBe('');
  });
});
