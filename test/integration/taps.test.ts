import { execFile } from 'child_process';
import { promisify } from 'util';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { jsonLogger } from '../../engine/logger';
import { LocalSyncOptions, runSync } from '../../engine/sync/run-sync';
import { planRun } from '../../engine/sync/dry-run';
import { BundleFileWriter, openBundleFiles } from '../../engine/adapters/local/bundle-files';
import { exportBundle } from '../../engine/transfer/export';
import { importBundle } from '../../engine/transfer/import';
import { localHousekeeping, localImportDeps } from '../../engine/wiring/local';
import { runHousekeeping } from '../../engine/sync/housekeeping';
import { loadTapRecord } from '../../engine/taps/tap-record';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { serveMirror } from '../fixtures/brew-client';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { CORRUPT_DOWNLOAD, TAP_TEMPLATE, TapUpstream, payload, startTapUpstream } from '../fixtures/tap-upstream';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { chromium } from 'playwright-core';

// Third-party taps through the mirror (issue #34): the fixture tap's formulae branch with
// on_macos/on_arm blocks (acme-db) and with `if OS.mac? && Hardware::CPU.intel?` (acme-cli) and
// `if Hardware::CPU.intel?` (acme-agent). Its files are evaluated for real, by Ruby 4.0 on WASI.
const key = testSigningKey();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const TAGS = ['arm64_sonoma', 'x86_64_linux'];
// The URL clients reach the mirror at: the rewritten tap names it (the test fetches by path).
const PUBLIC_URL = 'http://mirror.invalid/brew';

let upstream: FixtureUpstream;
let tap: TapUpstream;
let root: string;
const formulae: FixtureFormula[] = [{ name: 'hello', version: '2.12', bottles: TAGS.map((tag) => ({ tag, bytes: randomBytes(300) })) }];

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  publishApi(upstream, formulae, key.privateKey);
  tap = await startTapUpstream(upstream);
});

afterAll(async () => {
  await tap.close();
  await upstream.close();
});

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'taps-'));
});

const sync = (options: Partial<LocalSyncOptions> = {}) =>
  runSync(localSyncDeps(root, { log: jsonLogger({}, process.env.TAP_DEBUG ? (l) => process.stderr.write(`${l}\n`) : () => undefined) }), {
    apiUrl: upstream.apiRoot,
    publicKey: key.publicKey,
    tags: TAGS,
    formulae: ['hello'],
    brew: undefined,
    taps: [{ name: 'acme/tools', remote: tap.url }],
    publicUrl: PUBLIC_URL,
    ...options,
  });

const vendorHost = () => new URL(upstream.vendorRoot).host;
const mirrored = (file: string) => `${PUBLIC_URL}/dl/${vendorHost()}/downloads/${file}`;
// Asynchronous: the mirror answers from this process.
const git = async (cwd: string, ...args: string[]) =>
  (await promisify(execFile)('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' } })).stdout;

/** Every platform's download of the fixture tap, by the vendor path each is served from. */
const EVERY_PLATFORM = [
  'acme-cli/1.4.2/acme-cli_1.4.2_darwin_amd64.zip',
  'acme-cli/1.4.2/acme-cli_1.4.2_darwin_arm64.zip',
  'acme-cli/1.4.2/acme-cli_1.4.2_linux_amd64.zip',
  'acme-cli/1.4.2/acme-cli_1.4.2_linux_arm64.zip',
  'acme-db/acme-db-2.0.1.tar.gz',
  'acme-db/accelerator-darwin-arm64.tar.gz',
  'acme-db/accelerator-darwin-amd64.tar.gz',
  'acme-db/accelerator-linux-arm64.tar.gz',
  'acme-db/accelerator-linux-x86_64.tar.gz',
  'acme-db/sonoma-sdk.patch',
  'acme-agent/acme-agent-3.1.0-x86_64.tgz',
  'acme-agent/acme-agent-3.1.0-aarch64.tgz',
  'bottles/acme-agent--3.1.0_1.arm64_sonoma.bottle.tar.gz',
  'bottles/acme-agent--3.1.0_1.x86_64_linux.bottle.tar.gz',
  'acme-app/5.2.0/AcmeApp-arm64.dmg',
  'acme-app/5.2.0/AcmeApp-x64.dmg',
].sort();

describe('a third-party tap: every platform download verified, a rewritten tap published append-only', () => {
  test('every platform of both branching styles is stored, served byte for byte and named by the rewritten tap; what cannot verify is named, not served', async () => {
    const summary = await sync();
    expect(summary.published).toBe(true);
    if (summary.taps!.taps === 0) throw new Error(JSON.stringify(summary.taps));
    expect(summary.taps).toMatchObject({ taps: 1, mirrored: 4, downloaded: { files: EVERY_PLATFORM.length } });
    const failures = Object.fromEntries(summary.taps!.failures.map((f) => [f.name, f.reason]));
    expect(Object.keys(failures).sort()).toEqual(['acme/tools/Casks/acme-nightly.rb', 'acme/tools/Formula/acme-broken.rb', 'acme/tools/Formula/acme-corrupt.rb', 'acme/tools/Formula/acme-legacy.rb']);
    expect(failures['acme/tools/Formula/acme-corrupt.rb']).toBe(
      `${tap.vendorUrl(CORRUPT_DOWNLOAD)} served a file whose sha256 is ${sha(Buffer.from('not the bytes the formula names\n'))}, not the ${sha(payload('acme-corrupt/expected-bytes'))} the tap names; not kept`,
    );
    expect(failures['acme/tools/Formula/acme-legacy.rb']).toMatch(/a git source \(tag: v0\.9\.0, revision: 0123456789abcdef0123456789abcdef01234567\): no sha256 to verify$/);
    expect(failures['acme/tools/Formula/acme-broken.rb']).toBe('does not evaluate (line 4): NameError: uninitialized constant AcmeBroken::AcmeDownloads');
    expect(failures['acme/tools/Casks/acme-nightly.rb']).toMatch(/sha256 :no_check: no checksum to verify$/);

    const record = (await loadTapRecord(localStores(root).objects, summary.generation!))!;
    const [acme] = record.taps;
    expect(acme.downloads.map((d) => d.key.replace(`${vendorHost()}/downloads/`, '')).sort()).toEqual(EVERY_PLATFORM);
    expect([...acme.mirrored].sort()).toEqual(['Casks/acme-app.rb', 'Formula/acme-agent.rb', 'Formula/acme-cli.rb', 'Formula/acme-db.rb']);

    const { server, base } = await serveMirror(localStores(root));
    try {
      for (const file of EVERY_PLATFORM) {
        const response = await fetch(mirrored(file).replace(PUBLIC_URL, base));
        expect([file, response.status]).toEqual([file, 200]);
        expect(Buffer.from(await response.arrayBuffer()).equals(payload(file))).toBe(true);
      }
      // The download that did not verify is not on the mirror.
      expect((await fetch(mirrored(CORRUPT_DOWNLOAD).replace(PUBLIC_URL, base))).status).toBe(404);
      expect((await fetch(`${base}/dl/${vendorHost()}/downloads/acme-cli/unknown.zip`)).status).toBe(404);

      // A real git client clones the rewritten tap over the mirror's dumb HTTP.
      const clone = fs.mkdtempSync(path.join(os.tmpdir(), 'tap-clone-'));
      await git(clone, 'clone', '--quiet', `${base}/taps/acme/tools.git`, 'tools');
      const work = path.join(clone, 'tools');
      const cli = fs.readFileSync(path.join(work, 'Formula/acme-cli.rb'), 'utf8');
      expect(cli).toContain(`url "${PUBLIC_URL}/dl/${vendorHost()}/downloads/acme-cli/#{version}/acme-cli_#{version}_darwin_arm64.zip"`);
      expect(cli).not.toContain(upstream.vendorRoot);
      // Every sha256 line is upstream's, untouched: brew still checks upstream's checksum.
      const sha256Lines = (text: string) => text.split('\n').filter((l) => /sha256/.test(l));
      for (const file of ['Formula/acme-cli.rb', 'Formula/acme-db.rb', 'Formula/acme-agent.rb', 'Casks/acme-app.rb']) {
        expect(sha256Lines(fs.readFileSync(path.join(work, file), 'utf8'))).toEqual(sha256Lines(tap.git('show', `HEAD:${file}`)));
      }

      const firstHead = (await git(work, 'rev-parse', 'HEAD')).trim();

      // Nothing moved upstream: the next sync publishes nothing (one GET of the tap's refs says so).
      expect(await sync()).toMatchObject({ unchanged: true, generation: summary.generation });

      // Upstream moves on: a new acme-cli release. The next sync appends one commit; the clone fast-forwards.
      const fetchedBefore = tap.requests.length;
      tap.commit('Formula/acme-cli.rb', fs.readFileSync(path.join(TAP_TEMPLATE, 'Formula/acme-cli.rb'), 'utf8').replace(/1\.4\.2/g, '1.5.0'));
      const next = await sync();
      expect(next).toMatchObject({ published: true, taps: { mirrored: 4, downloaded: { files: 4 } } });
      // The weekly fetch negotiates from the stored packs: its pack is a fraction of the first clone's.
      const packBytes = (requests: typeof tap.requests) => requests.filter((r) => r.method === 'POST' && r.path.endsWith('git-upload-pack')).reduce((n, r) => n + r.bytes, 0);
      const first = packBytes(tap.requests.slice(0, fetchedBefore));
      const weekly = packBytes(tap.requests.slice(fetchedBefore));
      expect(weekly).toBeGreaterThan(0);
      expect(weekly).toBeLessThan(first / 2);
      // A mirror started now serves the new generation (this one's poller would take a minute).
      const again = await serveMirror(localStores(root));
      try {
        await git(work, 'remote', 'set-url', 'origin', `${again.base}/taps/acme/tools.git`);
        await git(work, 'pull', '--quiet', '--ff-only');
        expect((await git(work, 'rev-parse', 'HEAD^')).trim()).toBe(firstHead);
        expect(fs.readFileSync(path.join(work, 'Formula/acme-cli.rb'), 'utf8')).toContain(`url "${PUBLIC_URL}/dl/${vendorHost()}/downloads/acme-cli/#{version}/acme-cli_#{version}_linux_arm64.zip"`);
        const newFile = 'acme-cli/1.5.0/acme-cli_1.5.0_linux_arm64.zip';
        const response = await fetch(mirrored(newFile).replace(PUBLIC_URL, again.base));
        expect(Buffer.from(await response.arrayBuffer()).equals(payload(newFile))).toBe(true);
      } finally {
        await again.server.stop(0);
      }
    } finally {
      await server.stop(0);
    }
  }, 120_000);

  test('a person sees every tap with the lines to use it, and every formula not mirrored with why; /status and /brew.env say the same', async () => {
    const notServed = [{ type: 'mas', name: 'Xcode', file: '/home/ops/fleet/Brewfile', line: 12 }];
    const summary = await sync({ notServed });
    expect(summary.published).toBe(true);
    // The mirror's public URL is where the page says to tap from.
    const { server, base } = await serveMirror(localStores(root));
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.goto(`${base}/`);
      const shot = await page.screenshot({ fullPage: true });
      expect(shot.subarray(1, 4).toString()).toBe('PNG');
      const text = await page.innerText('body');
      expect(text).toContain(`brew tap acme/tools ${base}/taps/acme/tools.git && brew trust acme/tools`);
      expect(text).toContain(`tap "acme/tools", "${base}/taps/acme/tools.git", trusted: true`);
      expect(text).toMatch(/acme\/tools\s+4\s+16\s/);
      // The wrong bytes are named with both digests; the vendor's path is not shown on a public page.
      expect(text).toContain(`acme/tools/Formula/acme-corrupt.rb\t${upstream.vendorRoot.replace(/\/downloads$/, '')}/… served a file whose sha256 is ${sha(Buffer.from('not the bytes the formula names\n'))}, not the ${sha(payload('acme-corrupt/expected-bytes'))} the tap names; not kept`);
      expect(text).toContain('acme/tools/Formula/acme-legacy.rb');
      expect(text).toMatch(/mas "Xcode"\s+12/);
      expect(text).not.toContain('/home/ops');

      const status = (await (await fetch(`${base}/status`)).json()) as { taps: { served: { name: string; mirrored: number }[]; notMirrored: { name: string }[]; brewfileNotServed: unknown[] } };
      expect(status.taps.served).toMatchObject([{ name: 'acme/tools', mirrored: 4 }]);
      expect(status.taps.notMirrored.map((f) => f.name).sort()).toEqual(['acme/tools/Casks/acme-nightly.rb', 'acme/tools/Formula/acme-broken.rb', 'acme/tools/Formula/acme-corrupt.rb', 'acme/tools/Formula/acme-legacy.rb']);
      expect(status.taps.brewfileNotServed).toEqual([{ type: 'mas', name: 'Xcode', line: 12 }]);
      const env = await (await fetch(`${base}/brew.env`)).text();
      expect(env).toContain(`#   brew tap acme/tools ${base}/taps/acme/tools.git && brew trust acme/tools\n`);
      // Every non-comment line is still a setting brew reads.
      expect(env.split('\n').filter((l) => l && !l.startsWith('#')).every((l) => /^HOMEBREW_[A-Z_]+=\S+$/.test(l))).toBe(true);
    } finally {
      await browser.close();
      await server.stop(0);
    }
  }, 120_000);

  test('the dry run counts the downloads of each tap, what is stored and what would be fetched, and names what would not be mirrored; it stores nothing', async () => {
    const options = { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: TAGS, formulae: ['hello'], taps: [{ name: 'acme/tools', remote: tap.url }] };
    const deps = localSyncDeps(root, { log: jsonLogger({}, () => undefined) });
    const before = await planRun(deps, options);
    // 16 verified downloads and the corrupt one (its bytes are only known once fetched): every platform, both branching styles.
    const announced = [...EVERY_PLATFORM.map(payload), Buffer.from('not the bytes the formula names\n')].reduce((n, b) => n + b.length, 0);
    expect(before.taps?.taps).toEqual([{ tap: 'acme/tools', files: 8, downloads: 17, toTransfer: 17, bytes: announced, unknownSizes: 0 }]);
    expect(before.taps?.failures.map((f) => f.name).sort()).toEqual(['acme/tools/Casks/acme-nightly.rb', 'acme/tools/Formula/acme-broken.rb', 'acme/tools/Formula/acme-legacy.rb']);
    expect(fs.existsSync(path.join(root, 'blobs'))).toBe(false);

    expect((await sync()).published).toBe(true);
    const after = await planRun(deps, options);
    // Only the download that did not verify is still to fetch.
    expect(after.taps?.taps).toMatchObject([{ downloads: 17, toTransfer: 1 }]);
  }, 120_000);
});

describe('taps in bundles and housekeeping', () => {
  const quiet = jsonLogger({}, () => undefined);
  const cliTemplate = () => fs.readFileSync(path.join(TAP_TEMPLATE, 'Formula/acme-cli.rb'), 'utf8');

  test('a bundle carries the rewritten tap and its downloads; a network with no way out clones it and downloads from it', async () => {
    const summary = await sync();
    const out = path.join(os.tmpdir(), `taps-bundle-${randomBytes(4).toString('hex')}.tar`);
    await exportBundle({ ...localStores(root), log: quiet }, {}, (n) => new BundleFileWriter(out, n));
    const offline = fs.mkdtempSync(path.join(os.tmpdir(), 'taps-offline-'));
    const source = openBundleFiles([out]);
    expect(await importBundle(localImportDeps(offline, quiet), source.stream, source.check, { publicKey: key.publicKey })).toMatchObject({ published: true, generation: summary.generation });
    const { server, base } = await serveMirror(localStores(offline));
    try {
      const clone = fs.mkdtempSync(path.join(os.tmpdir(), 'tap-clone-'));
      await git(clone, 'clone', '--quiet', `${base}/taps/acme/tools.git`, 'tools');
      const record = (await loadTapRecord(localStores(offline).objects, summary.generation!))!;
      expect(record.taps[0].downloads.length).toBe(EVERY_PLATFORM.length);
      for (const d of record.taps[0].downloads) {
        const response = await fetch(`${base}/dl/${d.key}`);
        expect(createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex')).toBe(d.sha256);
      }
    } finally {
      await server.stop(0);
    }
  }, 120_000);

  test('housekeeping removes tap downloads no kept generation names, and keeps every one the served generation names', async () => {
    tap.commit('Formula/acme-cli.rb', cliTemplate().replace(/1\.4\.2/g, '1.6.0'));
    const first = await sync();
    const old = (await loadTapRecord(localStores(root).objects, first.generation!))!.taps[0].downloads.filter((d) => d.key.includes('acme-cli/'));
    tap.commit('Formula/acme-cli.rb', cliTemplate().replace(/1\.4\.2/g, '1.7.0'));
    expect((await sync()).published).toBe(true);
    // One more upstream change: this run marks what only the first generation named.
    tap.commit('Formula/acme-db.rb', `${tap.git('show', 'HEAD:Formula/acme-db.rb')}# touched\n`);
    const last = await sync();
    expect(last.published).toBe(true);
    const report = await runHousekeeping({ state: localStores(root).state, housekeeping: localHousekeeping(root), log: quiet }, { keepGenerations: 1, runRecordDays: 365, orphanGraceDays: 0 }, new Date(Date.now() + 86_400_000));
    expect(report).toMatchObject({ ran: true });
    const blobs = localStores(root).blobs;
    for (const d of old) expect([d.key, await blobs.size(d.sha256)]).toEqual([d.key, undefined]);
    for (const d of (await loadTapRecord(localStores(root).objects, last.generation!))!.taps[0].downloads) expect([d.key, await blobs.size(d.sha256)]).toEqual([d.key, d.size]);
    for (const pack of Object.values((await loadTapRecord(localStores(root).objects, last.generation!))!.taps[0].git.packs)) expect(await blobs.size(pack.sha256)).toBe(pack.size);
  }, 120_000);
});

describe('tap limits', () => {
  const withEnv = async <T>(name: string, value: string, run: () => Promise<T>): Promise<T> => {
    process.env[name] = value;
    try {
      return await run();
    } finally {
      delete process.env[name];
    }
  };

  test('more taps than HBS_MAX_TAPS is a usage error before anything is staged', async () => {
    const summary = await withEnv('HBS_MAX_TAPS', '1', () => sync({ taps: [{ name: 'acme/tools', remote: tap.url }, { name: 'acme/more', remote: tap.url }] }));
    expect(summary).toMatchObject({ published: false, errorKind: 'usage', error: '2 taps selected, over the limit of 1 per sync (HBS_MAX_TAPS)' });
    expect(fs.existsSync(path.join(root, 'api'))).toBe(false);
  });

  test('a download over HBS_MAX_TAP_DOWNLOAD_BYTES fails the formulae that name it, by name, and is not stored', async () => {
    const summary = await withEnv('HBS_MAX_TAP_DOWNLOAD_BYTES', '40', () => sync());
    expect(summary.published).toBe(true);
    expect(summary.taps).toMatchObject({ mirrored: 0, downloaded: { files: 0 } });
    const cli = summary.taps!.failures.find((f) => f.name === 'acme/tools/Formula/acme-cli.rb')!;
    expect(cli.reason).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/downloads\/acme-cli\/[\d.]+\/acme-cli_[\d.]+_\w+\.zip is \d+ bytes, over the 40-byte limit \(HBS_MAX_TAP_DOWNLOAD_BYTES\)$/);
    // The store holds hello's two bottles and the tap's packs, and no download.
    const packs = Object.values((await loadTapRecord(localStores(root).objects, summary.generation!))!.taps[0].git.packs).map((p) => p.sha256);
    expect(fs.readdirSync(path.join(root, 'blobs/sha256')).filter((f) => !f.startsWith('.')).filter((sha) => !packs.includes(sha))).toHaveLength(2);
  }, 60_000);
});
