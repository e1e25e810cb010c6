import { execFile } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { BundleFileWriter, openBundleFiles } from '../../engine/adapters/local/bundle-files';
import { jsonLogger } from '../../engine/logger';
import { PublishedGeneration } from '../../engine/ports';
import { exportBundle } from '../../engine/transfer/export';
import { ImportOptions, importBundle } from '../../engine/transfer/import';
import { BLOCK, parseHeader } from '../../engine/transfer/tar';
import { runSync } from '../../engine/sync/run-sync';
import { localImportDeps, localStores, localSyncDeps } from '../../engine/wiring/local';
import { awsImportDeps, awsStores } from '../../engine/wiring/aws';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { gitClient, serveMirror } from '../fixtures/brew-client';
import { GitUpstream, PortableRubyPin, startGitUpstream } from '../fixtures/git-upstream';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

// Issue #23: a network with no way out is fed with bundles that one store exports and another imports, checked.
const run = promisify(execFile);
const key = testSigningKey();
const otherKey = testSigningKey();
const quiet = jsonLogger({}, () => undefined);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let upstream: FixtureUpstream;
let brew: GitUpstream;
let work: string;
/** The connected mirror, which syncs; the bundles are cut from it. */
let connected: string;
let week1: PublishedGeneration;
let full1: string;

const big = randomBytes(3 * 1024 * 1024 + 123); // over the 1M minimum volume, so --split 1M gives several volumes
const week = (n: number): FixtureFormula[] => [
  { name: 'wget', version: `1.25.${n}`, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(2000 + n) }, { tag: 'x86_64_linux', bytes: randomBytes(1500 + n) }] },
  { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: Buffer.from(`openssl bottle, stable across weeks`) }] },
  { name: 'big', version: '1.0', bottles: [{ tag: 'arm64_sonoma', bytes: big }] },
];

async function sync(root: string): Promise<PublishedGeneration> {
  const registry = new URL(upstream.registryRoot).origin;
  const summary = await runSync(localSyncDeps(root, { log: quiet }), {
    apiUrl: upstream.apiRoot,
    publicKey: key.publicKey,
    brew: { gitUrl: brew.url, registryUrl: registry, installScriptUrl: `${upstream.apiRoot}/install.sh` },
  });
  expect(summary).toMatchObject({ published: true });
  return (await localStores(root).state.getPublished())!;
}

async function exportTo(root: string, out: string, options: { since?: string; volumeBytes?: number } = {}) {
  return exportBundle({ ...localStores(root), log: quiet }, options, (bytes) => new BundleFileWriter(out, bytes));
}

async function importInto(root: string, files: string[], options: Partial<ImportOptions> = {}) {
  const source = openBundleFiles(files);
  return importBundle(localImportDeps(root, quiet), source.stream, source.check, { publicKey: key.publicKey, ...options });
}

const emptyStore = () => fs.mkdtempSync(path.join(work, 'store-'));

function fetchRaw(url: string): Promise<{ status: number; type?: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

/** What brew asks a mirror for, answered by a store (a directory, or S3 and DynamoDB): status, type and bytes must be the same. */
async function answers(store: string | Parameters<typeof serveMirror>[0], paths: string[]): Promise<string[]> {
  const { server, base } = await serveMirror(typeof store === 'string' ? localStores(store) : store);
  try {
    const out: string[] = [];
    for (const p of paths) {
      const res = await fetchRaw(`${base}${p}`);
      out.push(`${p} ${res.status} ${res.type} ${sha(res.body)}`);
    }
    return out;
  } finally {
    await server.stop();
  }
}

let pins: PortableRubyPin[];
const brewPaths = () => [
  '/brew.git/HEAD',
  '/brew.git/info/refs',
  '/brew.git/objects/info/packs',
  `/v2/homebrew/core/portable-ruby/blobs/sha256:${pins[0].sha256}`,
  '/install.sh',
];
const bottlePaths = (n: number) => [
  '/api/formula.jws.json',
  '/api/cask.jws.json',
  '/api/internal/packages.arm64_sonoma.jws.json',
  `/bottles/wget-1.25.${n}.arm64_sonoma.bottle.tar.gz`,
  `/bottles/wget-1.25.${n}.x86_64_linux.bottle.tar.gz`,
  '/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz',
  '/bottles/big-1.0.arm64_sonoma.bottle.tar.gz',
  `/v2/homebrew/core/wget/manifests/1.25.${n}`,
  `/v2/homebrew/core/big/blobs/sha256:${sha(big)}`,
];

/** Each entry of an archive file: path, where its body starts, its size. */
function tarEntries(file: string): { path: string; offset: number; size: number }[] {
  const bytes = fs.readFileSync(file);
  const out = [];
  for (let at = 0; at + BLOCK <= bytes.length; ) {
    const header = parseHeader(bytes.subarray(at, at + BLOCK), at);
    if (!header) break;
    out.push({ path: header.path, offset: at + BLOCK, size: header.size });
    at += BLOCK + Math.ceil(header.size / BLOCK) * BLOCK;
  }
  return out;
}

/** A copy of the bundle with one byte flipped inside `entryPath`'s body. */
function withFlippedByte(file: string, match: (entryPath: string) => boolean): string {
  const entry = tarEntries(file).find((e) => match(e.path))!;
  const bytes = fs.readFileSync(file);
  bytes[entry.offset + Math.floor(entry.size / 2)] ^= 0x01;
  const out = path.join(work, `tampered-${randomBytes(4).toString('hex')}.tar`);
  fs.writeFileSync(out, bytes);
  return out;
}

/** The published pointer and what it serves, to show a refused import changed nothing. */
async function servedState(root: string, n: number) {
  return { published: await localStores(root).state.getPublished(), answers: await answers(root, bottlePaths(n)) };
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-bundle-'));
  upstream = await startFixtureUpstream();
  brew = await startGitUpstream();
  upstream.setApiFile('install.sh', Buffer.from('#!/bin/bash\necho install\n'));
  pins = [randomBytes(5000), randomBytes(5001)].map((bytes, i) => ({ ...upstream.addBlob('portable-ruby', bytes), platform: ['arm64-darwin', 'x86_64-linux'][i], rubyTag: ['arm64_big_sur', 'x86_64_linux'][i] }));
  brew.release('6.0.18', '4.0.6', pins);
  publishApi(upstream, week(1), key.privateKey, { generatedAt: 1795000000 });
  connected = emptyStore();
  week1 = await sync(connected);
  full1 = path.join(work, 'week1.tar');
  await exportTo(connected, full1);
}, 120_000);

afterAll(async () => {
  await upstream.close();
  await brew.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('round trip (issue #23)', () => {
  test('a store fed only by the bundle answers brew exactly as the exporting store: API bytes, bottles, manifests, brew.git, portable Ruby', async () => {
    const airGapped = emptyStore();
    const summary = await importInto(airGapped, [full1]);
    expect(summary).toMatchObject({ published: true, generation: week1.generation, blobs: { alreadyStored: 0 } });
    expect(summary.blobs.stored).toBeGreaterThanOrEqual(6); // 4 bottles, 2 portable Rubies, brew.git's pack(s)
    expect(await localStores(airGapped).state.getPublished()).toEqual(week1);
    const paths = [...bottlePaths(1), ...brewPaths()];
    const there = await answers(airGapped, paths);
    expect(there).toEqual(await answers(connected, paths));
    expect(there.every((line) => line.split(' ')[1] === '200')).toBe(true);
    // A real git client clones brew from the imported store.
    const { server, base } = await serveMirror(localStores(airGapped));
    try {
      const clone = path.join(work, `clone-${randomBytes(3).toString('hex')}`);
      await gitClient(work, 'clone', '--quiet', `${base}/brew.git`, clone);
      expect(await gitClient(clone, 'tag', '--list')).toContain('6.0.18');
      await gitClient(clone, 'fsck', '--strict');
    } finally {
      await server.stop();
    }
  });

  test('standard tools read the format: tar lists the manifest first, and sha256sum checks every file', async () => {
    const listing = (await run('tar', ['-tf', full1])).stdout.trim().split('\n');
    expect(listing.slice(0, 2)).toEqual(['bundle.json', 'SHA256SUMS']);
    expect(listing).toContain(`blobs/sha256/${sha(big)}`);
    const dir = fs.mkdtempSync(path.join(work, 'extract-'));
    await run('tar', ['-xf', full1, '-C', dir]);
    const check = await run('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: dir });
    expect(check.stdout.trim().split('\n').every((line) => line.endsWith(': OK'))).toBe(true);
    expect(check.stdout.trim().split('\n')).toHaveLength(listing.length - 2);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'bundle.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'homebrew-bottles-sync/bundle', version: 1, generation: { generation: week1.generation } });
  });

  test('importing the same bundle twice publishes nothing new', async () => {
    const store = emptyStore();
    await importInto(store, [full1]);
    const before = await localStores(store).state.latestRun();
    expect(await importInto(store, [full1])).toMatchObject({ published: false, alreadyPublished: true });
    expect(await localStores(store).state.latestRun()).toEqual(before);
  });

  test('--split: volumes of at most the size, read in any order; `cat` of them is the archive', async () => {
    const out = path.join(work, 'split.tar');
    const summary = await exportTo(connected, out, { volumeBytes: 1024 * 1024 });
    const count = Math.ceil(summary.bytes / (1024 * 1024));
    expect(count).toBeGreaterThanOrEqual(4);
    expect(summary.volumes).toEqual(Array.from({ length: count }, (_, i) => `${out}.${String(i + 1).padStart(3, '0')}`));
    expect(summary.volumes.slice(0, -1).every((v) => fs.statSync(v).size === 1024 * 1024)).toBe(true);
    const joined = path.join(work, 'joined.tar');
    await run('sh', ['-c', `cat "${out}".* > "${joined}"`]);
    expect(fs.statSync(joined).size).toBe(summary.bytes);
    expect((await run('tar', ['-tf', joined])).stdout).toBe((await run('tar', ['-tf', full1])).stdout);
    const store = emptyStore();
    expect(await importInto(store, [...summary.volumes].reverse())).toMatchObject({ published: true, generation: week1.generation });
    expect(await answers(store, bottlePaths(1))).toEqual(await answers(connected, bottlePaths(1)));
  });
});

describe('incremental bundles', () => {
  let week2: PublishedGeneration;
  let since: string;
  let airGapped: string;

  beforeAll(async () => {
    airGapped = emptyStore();
    await importInto(airGapped, [full1]);
    publishApi(upstream, week(2), key.privateKey, { generatedAt: 1795000000 + 604800 });
    week2 = await sync(connected);
    since = path.join(work, 'week2-since.tar');
    await exportTo(connected, since, { since: week1.generation });
  }, 120_000);

  test('a --since bundle carries only the change, and applies on top of the full one', async () => {
    const names = (await run('tar', ['-tf', since])).stdout.trim().split('\n');
    // The unchanged bottles (openssl, big) and brew's blobs stay home; the new wget bottles travel.
    expect(names).not.toContain(`blobs/sha256/${sha(big)}`);
    expect(names.filter((n) => n.startsWith('blobs/'))).toHaveLength(2);
    expect(fs.statSync(since).size).toBeLessThan(fs.statSync(full1).size / 4);
    const summary = await importInto(airGapped, [since]);
    expect(summary).toMatchObject({ published: true, generation: week2.generation, base: week1.generation });
    expect(await answers(airGapped, [...bottlePaths(2), ...brewPaths()])).toEqual(await answers(connected, [...bottlePaths(2), ...brewPaths()]));
  });

  test('a bundle built on a generation the store does not have is refused, naming the one it needs', async () => {
    const empty = emptyStore();
    await expect(importInto(empty, [since])).rejects.toThrow(`the bundle carries only the change since generation ${week1.generation}, which this store does not have`);
    expect(await localStores(empty).state.getPublished()).toBeUndefined();
  });

  test('an older bundle than the published generation is a replay: refused unless --force', async () => {
    const before = await servedState(airGapped, 2);
    await expect(importInto(airGapped, [full1])).rejects.toThrow(/older than the published .*pass --force/);
    expect(await servedState(airGapped, 2)).toEqual(before);
  });
});

describe('bad input changes nothing that is served (issue #23)', () => {
  let store: string;
  let before: Awaited<ReturnType<typeof servedState>>;
  beforeAll(async () => {
    store = emptyStore();
    await importInto(store, [full1]);
    before = await servedState(store, 1);
  });

  // Each bundle is of a newer generation than the store serves, so only the checks can stop it.
  let newer: string;
  beforeAll(async () => {
    const source = emptyStore();
    await importInto(source, [full1]);
    publishApi(upstream, week(3), key.privateKey, { generatedAt: 1795000000 + 2 * 604800 });
    await sync(source);
    newer = path.join(work, 'week3.tar');
    await exportTo(source, newer);
  }, 120_000);

  afterEach(async () => {
    expect(await servedState(store, 1)).toEqual(before);
  });

  test.each([
    ['one byte of a bottle', (p: string) => p.startsWith('blobs/') && p.endsWith(sha(big)), /blobs\/sha256\/[0-9a-f]{64} does not hash to its name/],
    ['one byte of a signed API file', (p: string) => p.endsWith('/formula.jws.json'), /formula\.jws\.json does not match its sha256 in the manifest/],
    // The manifest vouches for nothing by itself: whatever the flipped byte hits, it no longer matches the files.
    // (A flipped byte inside a key can also make it unsafe: refused before anything is written.)
    ['one byte of the manifest', (p: string) => p === 'bundle.json', /^(bundle\.json: |.* does not match its sha256|SHA256SUMS does not match|expected .* next, found|unsafe object key )/],
    ['one byte of the bottle index', (p: string) => p.endsWith('_mirror/bottles.tsv'), /bottles\.tsv does not match its sha256/],
  ])('tampering with %s is refused', async (_what, match, message) => {
    await expect(importInto(store, [withFlippedByte(newer, match)])).rejects.toThrow(message);
  });

  test('a truncated bundle is refused, naming where it ends', async () => {
    const cut = path.join(work, 'truncated.tar');
    fs.writeFileSync(cut, fs.readFileSync(newer).subarray(0, Math.floor(fs.statSync(newer).size * 0.7)));
    await expect(importInto(store, [cut])).rejects.toThrow(/the bundle ends at byte \d+, inside .*: it is truncated or a volume is missing/);
  });

  test('a missing volume is named', async () => {
    const out = path.join(work, 'missing-volume.tar');
    const parts = (await exportTo(store, out, { volumeBytes: 1024 * 1024 })).volumes;
    expect(parts.length).toBeGreaterThanOrEqual(4);
    await expect(importInto(store, parts.filter((v) => !v.endsWith('.002')))).rejects.toThrow(`volume ${out}.002 of ${parts.length} missing`);
    await expect(importInto(store, parts.filter((v) => !v.endsWith('.001')))).rejects.toThrow(`${out}.001 is missing`);
  });

  test('an interrupted import publishes nothing; run again, it resumes without storing again what it stored', async () => {
    const fresh = emptyStore();
    const interrupt = new AbortController();
    await expect(
      importInto(fresh, [full1], { signal: interrupt.signal, onProgress: (p) => p.bytesDone > 3 * 1024 * 1024 && interrupt.abort() }),
    ).rejects.toThrow('interrupted: nothing was published; run the import again to resume');
    expect(await localStores(fresh).state.getPublished()).toBeUndefined();
    expect((await localStores(fresh).state.readLease('sync'))?.owner ?? null).toBeNull();
    const resumed = await importInto(fresh, [full1]);
    expect(resumed).toMatchObject({ published: true, generation: week1.generation });
    expect(resumed.blobs.alreadyStored).toBeGreaterThanOrEqual(1); // big, stored before the interruption
    expect(resumed.bytes.stored).toBeLessThan(big.length);
  });

  test('an interruption after the last file is read still publishes nothing', async () => {
    const fresh = emptyStore();
    const { stdout } = await run('tar', ['-xOf', full1, 'bundle.json']);
    const files = (JSON.parse(stdout) as { entries: unknown[] }).entries.length;
    const interrupt = new AbortController();
    let reports = 0;
    // One progress report per file: the last comes after the last file, with only the end-of-bundle blocks left.
    const onProgress = () => ++reports === files && interrupt.abort();
    await expect(importInto(fresh, [full1], { signal: interrupt.signal, onProgress })).rejects.toThrow('interrupted: nothing was published');
    expect(reports).toBe(files);
    expect(await localStores(fresh).state.getPublished()).toBeUndefined();
  });

  test('a bundle signed with another key is refused', async () => {
    await expect(importInto(store, [newer], { publicKey: otherKey.publicKey })).rejects.toThrow(/signature does not verify/);
  });
});

describe('AWS: the same round trip into the S3 store and the state table (s3rver, dynalite)', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamoDb;
  const TABLE = 'prod-brew-state';
  const deps = () => awsImportDeps(quiet, { HBS_BOTTLE_BUCKET: s3.bucket, HBS_STATE_TABLE: TABLE }, { s3: s3.client, dynamo: dynamo.client });
  const awsImport = async (files: string[], options: Partial<ImportOptions> = {}) => {
    const source = openBundleFiles(files);
    return importBundle(deps(), source.stream, source.check, { publicKey: key.publicKey, ...options });
  };
  const awsAnswers = (paths: string[]) => answers(awsStores(s3.client, s3.bucket, dynamo.client, TABLE), paths);

  beforeAll(async () => {
    s3 = await startLocalS3('prod-brew-bottles');
    dynamo = await startLocalDynamoDb();
    await dynamo.createStateTable(TABLE);
  });
  afterAll(async () => {
    await s3.close();
    await dynamo.close();
  });

  test('a full bundle, then a tampered one refused, then a --since one: the mirror on S3 answers as a local import does', async () => {
    const reference = emptyStore();
    await importInto(reference, [full1]);
    expect(await awsImport([full1])).toMatchObject({ published: true, generation: week1.generation });
    const paths = [...bottlePaths(1), ...brewPaths()];
    expect(await awsAnswers(paths)).toEqual(await answers(reference, paths));

    const since = path.join(work, 'week2-since.tar'); // cut by the incremental tests from the connected store
    const week2 = JSON.parse((await run('tar', ['-xOf', since, 'bundle.json'])).stdout).generation as PublishedGeneration;
    await expect(awsImport([withFlippedByte(since, (p) => p.startsWith('blobs/'))])).rejects.toThrow(/does not hash to its name/);
    expect((await awsStores(s3.client, s3.bucket, dynamo.client, TABLE).state.getPublished())?.generation).toBe(week1.generation);

    expect(await awsImport([since])).toMatchObject({ published: true, generation: week2.generation, base: week1.generation });
    await importInto(reference, [since]);
    expect(await awsAnswers([...bottlePaths(2), ...brewPaths()])).toEqual(await answers(reference, [...bottlePaths(2), ...brewPaths()]));
    expect(await awsImport([since])).toMatchObject({ alreadyPublished: true });
  }, 60_000);
});
