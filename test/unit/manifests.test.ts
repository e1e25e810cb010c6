import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DirectoryObjectStore } from '../../engine/adapters/local/directory-object-store';
import { wantedBottles } from '../../engine/homebrew/wanted-bottles';
import { mirrorManifests } from '../../engine/sync/manifests';
import { ManifestError, sizesFromIndex } from '../../engine/upstream/image-index';
import { manifestKey } from '../../engine/store-layout';
import { Upstream } from '../../engine/upstream/client';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { reference } from '../reference';

const modern = reference('manifest-sample-modern.RECONSTRUCTED.json');
const cowsay = reference('manifest-sample.json');
// Bottle digests the real cowsay index names (sh.brew.bottle.digest of its x86_64_linux and monterey entries).
const COWSAY_LINUX = '8d35c9dfb46eea22b2b53c9c0deb00d7d95b6fe3fcfeb8d9404fd269d5739790';
const COWSAY_MONTEREY = '23f11aa0196e2129ac8f293ac486dbc631de8a2f7786c1bb7c9d8642144f2856';

let upstream: FixtureUpstream;
let root: string;
beforeAll(async () => {
  upstream = await startFixtureUpstream();
  upstream.addManifest('cowsay', '3.04_1', cowsay);
});
afterAll(() => upstream.close());
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-objects-'));
  upstream.requests.length = 0;
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const formula = (name: string, version: string, revision: number, rebuild: number, tags: Record<string, string>) => ({
  name,
  versions: { stable: version },
  revision,
  bottle: { stable: { rebuild, root_url: upstream.registryRoot, files: Object.fromEntries(Object.entries(tags).map(([t, sha]) => [t, { sha256: sha, url: `https://x/${sha}` }])) } },
});

describe('manifest mirroring', () => {
  test('sizes come from sh.brew.bottle.size of the entry with the bottle digest', () => {
    const sizes = sizesFromIndex(modern);
    expect(sizes.get('a'.repeat(64))).toBe(1234567);
    expect(sizes.get('c'.repeat(64))).toBe(123456);
    expect(sizesFromIndex(cowsay).size).toBe(0); // the real 2021-era index predates size annotations
    expect(() => sizesFromIndex(Buffer.from('{}'))).toThrow(ManifestError);
  });

  test('indexes are stored byte-exact under manifests/<image>/<ref>, with the OCI Accept header and the token', async () => {
    const wanted = wantedBottles([formula('cowsay', '3.04', 1, 0, { x86_64_linux: COWSAY_LINUX, monterey: COWSAY_MONTEREY })]);
    const objects = new DirectoryObjectStore(root);
    const result = await mirrorManifests(wanted, { upstream: new Upstream(), objects });
    expect(result).toMatchObject({ fetched: 1, failures: [] });
    expect((await objects.getObject(manifestKey('cowsay', '3.04_1')))!.equals(cowsay)).toBe(true);
    expect(upstream.requests).toEqual([{ origin: 'registry', path: '/v2/homebrew/core/cowsay/manifests/3.04_1', authorization: 'Bearer QQ==' }]);
  });

  test('a stored index is never fetched again', async () => {
    const wanted = wantedBottles([formula('cowsay', '3.04', 1, 0, { all: COWSAY_LINUX })]);
    const objects = new DirectoryObjectStore(root);
    await mirrorManifests(wanted, { upstream: new Upstream(), objects });
    upstream.requests.length = 0;
    const again = await mirrorManifests(wanted, { upstream: new Upstream(), objects });
    expect(again.fetched).toBe(0);
    expect(upstream.requests).toEqual([]);
  });

  test('an index that does not name the wanted bottle is never stored, and one stored before this check is fetched again', async () => {
    const wanted = wantedBottles([formula('cowsay', '3.04', 1, 0, { x86_64_linux: 'e'.repeat(64) })]);
    const objects = new DirectoryObjectStore(root);
    const result = await mirrorManifests(wanted, { upstream: new Upstream(), objects });
    expect(result.failures).toEqual([
      { image: 'cowsay', ref: '3.04_1', reason: `image index cowsay:3.04_1 names no entry for bottle ${'e'.repeat(64)}`, permanent: true },
    ]);
    expect(await objects.hasObject(manifestKey('cowsay', '3.04_1'))).toBe(false);

    // A hostile index already in the store (from before the check) is replaced by upstream's.
    await objects.putObject(manifestKey('cowsay', '3.04_1'), Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })));
    upstream.requests.length = 0;
    const repaired = await mirrorManifests(wantedBottles([formula('cowsay', '3.04', 1, 0, { x86_64_linux: COWSAY_LINUX })]), { upstream: new Upstream(), objects });
    expect(repaired).toMatchObject({ fetched: 1, failures: [] });
    expect(upstream.requests).toHaveLength(1);
    expect((await objects.getObject(manifestKey('cowsay', '3.04_1')))!.equals(cowsay)).toBe(true);
  });

  test('names with @ and a rebuild use image openssl/3 and tag 1.2.3_1-1; sizes are collected', async () => {
    upstream.addManifest('openssl/3', '1.2.3_1-1', modern);
    const wanted = wantedBottles([formula('openssl@3', '1.2.3', 1, 1, { arm64_sequoia: 'a'.repeat(64), all: 'c'.repeat(64) })]);
    const objects = new DirectoryObjectStore(root);
    const result = await mirrorManifests(wanted, { upstream: new Upstream(), objects });
    expect(await objects.hasObject('manifests/openssl/3/1.2.3_1-1')).toBe(true);
    expect(result.sizes.get('a'.repeat(64))).toBe(1234567);
  });

  test('a missing index is reported, not fatal', async () => {
    const wanted = wantedBottles([formula('ghost', '1', 0, 0, { all: 'd'.repeat(64) })]);
    const result = await mirrorManifests(wanted, { upstream: new Upstream(), objects: new DirectoryObjectStore(root) });
    expect(result.failures).toEqual([{ image: 'ghost', ref: '1', reason: expect.stringMatching(/HTTP 404/), permanent: true }]);
  });

  test('object keys cannot climb out of the store', async () => {
    const objects = new DirectoryObjectStore(root);
    await expect(objects.putObject('manifests/../../etc/passwd', Buffer.from('x'))).rejects.toThrow(/unsafe object key/);
    await expect(objects.getObject('a//b')).rejects.toThrow(/unsafe object key/);
  });
});
