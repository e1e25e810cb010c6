import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FAKE_USER_AGENT } from '../../engine/casks/cask-request';
import { loadCaskRecord } from '../../engine/casks/cask-record';
import { jsonLogger } from '../../engine/logger';
import { planRun } from '../../engine/sync/dry-run';
import { LocalSyncOptions, runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { serveMirror } from '../fixtures/brew-client';
import { BundleFileWriter, openBundleFiles } from '../../engine/adapters/local/bundle-files';
import { exportBundle } from '../../engine/transfer/export';
import { importBundle } from '../../engine/transfer/import';
import { localImportDeps } from '../../engine/wiring/local';
import { FixtureCask, FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

// Casks through the mirror (issue #33), first part: selection from the signed per-tag packages
// files, verified vendor downloads, and /casks/<sha256>. The fixture casks are the four:
// a Linux binary, one with per-platform urls (and a vendor that checks its user agent), one
// `:no_check`, and one whose vendor serves the wrong bytes.
const key = testSigningKey();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const TAGS = ['arm64_sonoma', 'x86_64_linux'];

let upstream: FixtureUpstream;
let root: string;
const bytes = { tool: randomBytes(3000), multiArm: randomBytes(5000), multiLinux: randomBytes(4000), unpinned: randomBytes(1000), wrongSigned: randomBytes(2000), wrongServed: randomBytes(2000) };
let formulae: FixtureFormula[];
let casks: FixtureCask[];

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  const tool = upstream.addVendorFile('tool/tool-1.0.tar.gz', bytes.tool);
  const both = (url: string, b: Buffer) => Object.fromEntries(TAGS.map((t) => [t, { url, sha256: sha(b) }]));
  casks = [
    { token: 'tool', version: '1.0', files: both(tool, bytes.tool) },
    {
      token: 'multi',
      version: '2.0',
      files: {
        arm64_sonoma: { url: upstream.addVendorFile('multi/Multi-2.0-arm64.dmg', bytes.multiArm, { 'user-agent': FAKE_USER_AGENT }), sha256: sha(bytes.multiArm) },
        x86_64_linux: { url: upstream.addVendorFile('multi/multi-2.0-linux.tar.gz', bytes.multiLinux, { 'user-agent': FAKE_USER_AGENT }), sha256: sha(bytes.multiLinux) },
      },
      urlKwargs: { user_agent: ':fake', verified: 'vendor.example.com/multi/' },
      dependsOn: { cask: ['tool'], formula: ['wget'] },
    },
    { token: 'unpinned', version: 'latest', files: Object.fromEntries(TAGS.map((t) => [t, { url: upstream.addVendorFile('unpinned/Unpinned.zip', bytes.unpinned), sha256: ':no_check' }])) },
    { token: 'wrong', version: '3.0', files: Object.fromEntries(TAGS.map((t) => [t, { url: upstream.addVendorFile('wrong/wrong-3.0.pkg', bytes.wrongServed), sha256: sha(bytes.wrongSigned) }])) },
  ];
  formulae = [
    { name: 'hello', version: '2.12', bottles: TAGS.map((tag) => ({ tag, bytes: randomBytes(300) })) },
    { name: 'wget', version: '1.25.0', bottles: TAGS.map((tag) => ({ tag, bytes: randomBytes(300) })) },
  ];
  publishApi(upstream, formulae, key.privateKey, { casks });
});

afterAll(() => upstream.close());

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'casks-'));
});

const sync = (options: Partial<LocalSyncOptions> = {}) =>
  runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: TAGS, formulae: ['hello'], ...options });

describe('casks from the signed packages files, verified, served by content', () => {
  test('every platform file of a cask and of its dependency is stored and served byte for byte; wrong bytes and :no_check are named, not served, and publish anyway', async () => {
    const summary = await sync({ casks: ['multi', 'unpinned', 'wrong'] });
    expect(summary.published).toBe(true);
    // multi's formula dependency came with it: wget's bottles are in the partial mirror.
    expect(summary.bottles.planned).toBe(4);
    expect(summary.casks).toMatchObject({ files: 4, downloaded: { files: 3, bytes: bytes.multiArm.length + bytes.multiLinux.length + bytes.tool.length } });
    const failures = summary.casks!.failures.map((f) => `${f.token} ${f.tag}: ${f.reason}`).sort();
    expect(failures).toEqual([
      expect.stringMatching(/^unpinned arm64_sonoma: sha256 :no_check: Homebrew signs no checksum/),
      expect.stringMatching(/^unpinned x86_64_linux: sha256 :no_check/),
      // Both checksums, since brew itself would delete such a file silently and say only "Download failed".
      `wrong arm64_sonoma: ${upstream.vendorRoot}/wrong/wrong-3.0.pkg served a file whose sha256 is ${sha(bytes.wrongServed)}, not the signed ${sha(bytes.wrongSigned)}; not kept`,
      `wrong x86_64_linux: ${upstream.vendorRoot}/wrong/wrong-3.0.pkg served a file whose sha256 is ${sha(bytes.wrongServed)}, not the signed ${sha(bytes.wrongSigned)}; not kept`,
    ]);

    const { server, base } = await serveMirror(localStores(root));
    try {
      for (const [b, name] of [[bytes.multiArm, 'Multi-2.0-arm64.dmg'], [bytes.multiLinux, 'multi-2.0-linux.tar.gz'], [bytes.tool, 'tool-1.0.tar.gz']] as const) {
        const response = await fetch(`${base}/casks/${sha(b)}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-disposition')).toContain(name);
        expect(Buffer.from(await response.arrayBuffer()).equals(b)).toBe(true);
        expect((await fetch(`${base}/casks/${sha(b)}`, { method: 'HEAD' })).headers.get('content-length')).toBe(String(b.length));
      }
      for (const b of [bytes.wrongSigned, bytes.wrongServed, bytes.unpinned]) expect((await fetch(`${base}/casks/${sha(b)}`)).status).toBe(404);
      // A bottle is a blob in the same store, but not a cask file: the route serves only what the record names.
      const record = (await loadCaskRecord(localStores(root).objects, summary.generation!))!;
      expect(record.files.map((f) => `${f.token} ${f.tag}`).sort()).toEqual(['multi arm64_sonoma', 'multi x86_64_linux', 'tool arm64_sonoma', 'tool x86_64_linux']);
      expect((await fetch(`${base}/casks/not-a-digest`)).status).toBe(400);
      // People and scripts can see it: /status counts the files and names what was not mirrored; the page lists both.
      const status = (await (await fetch(`${base}/status`)).json()) as { casks: { files: number; bytes: number; notMirrored: { token: string; tag: string; reason: string }[] } };
      expect(status.casks).toMatchObject({ files: 4, bytes: bytes.multiArm.length + bytes.multiLinux.length + 2 * bytes.tool.length });
      expect(status.casks.notMirrored.map((f) => `${f.token} ${f.tag}`).sort()).toEqual(['unpinned arm64_sonoma', 'unpinned x86_64_linux', 'wrong arm64_sonoma', 'wrong x86_64_linux']);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('\nmirror_cask_files 4\n');
      expect(metrics).toContain(`\nmirror_cask_bytes ${bytes.multiArm.length + bytes.multiLinux.length + 2 * bytes.tool.length}\n`);
      expect(metrics).toMatch(/mirror_requests_total\{route="cask",status="200"\} \d+/);
      const page = await (await fetch(`${base}/`)).text();
      expect(page).toContain('<tr><td>multi</td><td>2.0</td><td>arm64_sonoma</td>');
      expect(page).toMatch(/<h2>Casks not mirrored<\/h2>.*<td>wrong<\/td><td>arm64_sonoma<\/td><td>[^<]*served a file whose sha256 is/s);
    } finally {
      await server.stop(0);
    }
    // The vendor that checks its user agent was asked with brew's fake one, and the wrong bytes never stayed.
    expect(fs.readdirSync(path.join(root, 'blobs', 'sha256')).filter((f) => f === sha(bytes.wrongServed))).toEqual([]);
  });

  test(':no_check casks the operator names are mirrored, marked as not covered by the signature', async () => {
    const summary = await sync({ casks: ['unpinned'], allowUnpinnedCasks: ['unpinned'] });
    expect(summary.casks).toMatchObject({ files: 2, failures: [] });
    const { server, base } = await serveMirror(localStores(root));
    try {
      const status = (await (await fetch(`${base}/status`)).json()) as { casks: { unpinned: { token: string }[] } };
      expect(status.casks.unpinned.map((f) => f.token)).toEqual(['unpinned', 'unpinned']);
      expect(await (await fetch(`${base}/`)).text()).toContain('not covered by Homebrew&#39;s signature (sha256 :no_check)');
    } finally {
      await server.stop(0);
    }
    const record = (await loadCaskRecord(localStores(root).objects, summary.generation!))!;
    expect(record.files.map((f) => [f.tag, f.sha256, f.unpinned])).toEqual([
      ['arm64_sonoma', sha(bytes.unpinned), true],
      ['x86_64_linux', sha(bytes.unpinned), true],
    ]);
  });

  test('an unknown cask is a usage error naming it; no cask file is orphaned by the next run', async () => {
    const unknown = await sync({ casks: ['no-such-cask'] });
    expect(unknown).toMatchObject({ published: false, errorKind: 'usage', error: expect.stringMatching(/no mirrored tag's packages file names no-such-cask/) });

    const first = await sync({ casks: ['tool'] });
    expect(first.casks!.files).toBe(2);
    // A new week: hello's bottles change, so last week's become orphans; the cask file does not.
    publishApi(upstream, [{ ...formulae[0], version: '2.13', bottles: TAGS.map((tag) => ({ tag, bytes: randomBytes(300) })) }, formulae[1]], key.privateKey, { casks, generatedAt: 1795000000 + 604800 });
    const second = await sync({ casks: ['tool'] });
    expect(second.published).toBe(true);
    const { blobs } = localStores(root);
    expect(await blobs.isOrphaned(sha(bytes.tool))).toBe(false);
    expect(await blobs.isOrphaned(sha(formulae[0].bottles[0].bytes))).toBe(true);
  });
});

describe('a run whose API is unchanged', () => {
  test('runs again for a cask its vendor failed, and not for one the options refuse (the same next week)', async () => {
    const refusedOnly = await sync({ casks: ['tool', 'unpinned'] });
    expect(refusedOnly.casks!.failures.map((f) => [f.token, f.refused])).toEqual([['unpinned', true], ['unpinned', true]]);
    expect(await sync({ casks: ['tool', 'unpinned'] })).toMatchObject({ published: false, unchanged: true, generation: refusedOnly.generation });

    const vendorFailed = await sync({ casks: ['wrong'] });
    expect(vendorFailed.casks!.failures.map((f) => [f.token, f.refused])).toEqual([['wrong', undefined], ['wrong', undefined]]);
    const retried = await sync({ casks: ['wrong'] });
    expect(retried).toMatchObject({ published: true });
    expect(retried.generation).not.toBe(vendorFailed.generation);
  });
});

describe('cask files in bundles (export and import)', () => {
  const quiet = jsonLogger({}, () => undefined);
  const exportTo = (store: string, out: string) => exportBundle({ ...localStores(store), log: quiet }, {}, (n) => new BundleFileWriter(out, n));
  const importInto = (store: string, file: string) => {
    const source = openBundleFiles([file]);
    return importBundle(localImportDeps(store, quiet), source.stream, source.check, { publicKey: key.publicKey });
  };

  test('a bundle carries the cask files and their record; the network with no way out serves them; a flipped byte is refused', async () => {
    const summary = await sync({ casks: ['tool'] });
    expect(summary.casks!.files).toBe(2);
    const out = path.join(os.tmpdir(), `casks-bundle-${randomBytes(4).toString('hex')}.tar`);
    await exportTo(root, out);
    const offline = fs.mkdtempSync(path.join(os.tmpdir(), 'casks-offline-'));
    expect(await importInto(offline, out)).toMatchObject({ published: true, generation: summary.generation });
    const { server, base } = await serveMirror(localStores(offline));
    try {
      const response = await fetch(`${base}/casks/${sha(bytes.tool)}`);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes.tool)).toBe(true);
    } finally {
      await server.stop(0);
    }
    // One byte of the cask file flipped: the import refuses it, and nothing new is published.
    const tampered = Buffer.from(fs.readFileSync(out));
    const at = tampered.indexOf(bytes.tool.subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    tampered[at + 100] ^= 0x01;
    const bad = `${out}.tampered`;
    fs.writeFileSync(bad, tampered);
    const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'casks-offline-'));
    await expect(importInto(fresh, bad)).rejects.toThrow(new RegExp(`blobs/sha256/${sha(bytes.tool)} does not hash to its name`));
    expect(await localStores(fresh).state.getPublished()).toBeUndefined();
  });
});

describe('the dry run counts cask files and bytes per tag, like bottles', () => {
  test('files, what is stored, the bytes vendors announce, and what would be refused; nothing is stored', async () => {
    const deps = localSyncDeps(root, { log: jsonLogger({}, () => undefined) });
    const report = await planRun(deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: TAGS, formulae: ['hello'], casks: ['multi', 'unpinned', 'wrong'] });
    expect(report.casks!.tags).toEqual([
      { tag: 'arm64_sonoma', files: 3, toTransfer: 3, bytes: bytes.multiArm.length + bytes.tool.length + bytes.wrongServed.length, unknownSizes: 0 },
      { tag: 'x86_64_linux', files: 3, toTransfer: 3, bytes: bytes.multiLinux.length + bytes.tool.length + bytes.wrongServed.length, unknownSizes: 0 },
    ]);
    expect(report.casks!.failures.map((f) => `${f.token} ${f.tag}`)).toEqual(['unpinned arm64_sonoma', 'unpinned x86_64_linux']);
    expect(fs.existsSync(path.join(root, 'blobs', 'sha256')) ? fs.readdirSync(path.join(root, 'blobs', 'sha256')) : []).toEqual([]);
    // Once stored, a file is counted as such, with nothing to copy.
    await sync({ casks: ['tool'] });
    const again = await planRun(deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: TAGS, formulae: ['hello'], casks: ['tool'] });
    expect(again.casks!.tags.map((r) => [r.tag, r.files, r.toTransfer, r.bytes])).toEqual([['arm64_sonoma', 1, 0, 0], ['x86_64_linux', 1, 0, 0]]);
  });
});
