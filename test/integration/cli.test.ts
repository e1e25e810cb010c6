import { localStores } from '../../engine/wiring/local';
import { execFile, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { progressLine } from '../../cli/bottles';
import { ProgressMeter } from '../../cli/progress';
import { storeError } from '../../cli/sync-command';
import { errorKind } from '../../engine/errors';
import { publishApi, signApiFile, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { bundleCli } from '../fixtures/cli-bundle';
import { startGitUpstream } from '../fixtures/git-upstream';
import { startTapUpstream } from '../fixtures/tap-upstream';

// The real command: the same esbuild bundle `npm run build` makes, run as a child process.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-cli-'));
const binary = path.join(work, 'bottles.js');
bundleCli(binary);

const key = testSigningKey();
const pemFile = path.join(work, 'test-key.pem');
fs.writeFileSync(pemFile, key.publicKey.export({ type: 'spki', format: 'pem' }));

let upstream: FixtureUpstream;
let store: string;
beforeEach(async () => {
  upstream = await startFixtureUpstream();
  store = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-cli-store-'));
});
afterEach(async () => {
  await upstream.close();
  fs.rmSync(store, { recursive: true, force: true });
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function bottles(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return bottlesWithEnv(process.env, ...args);
}
function bottlesWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [binary, ...args], { encoding: 'utf8', env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}
// Bottles only: brew itself has its own tests below and in brew-mirror.test.ts.
const syncArgs = (...extra: string[]) => ['sync', '--store', store, '--api-url', upstream.apiRoot, '--public-key', pemFile, '--without-brew', ...extra];

describe('bottles sync', () => {
  test('--brewfile: its formulae, casks and taps are the selection; an entry the mirror cannot serve is one line on stderr; a bad line is exit 2 naming file and line', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(100) }] }, { name: 'jq', version: '1.7', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(100) }] }], key.privateKey);
    const tap = await startTapUpstream(upstream);
    try {
      const brewfile = path.join(work, 'Brewfile');
      fs.writeFileSync(brewfile, `tap "acme/tools", "${tap.url}"\nbrew "wget"\nbrew "acme/tools/acme-cli"\nmas "Xcode", id: 497799835\n`);
      const run = await bottles(...syncArgs('--tags', 'arm64_sonoma', '--brewfile', brewfile, '--public-url', 'https://brew.example.org', '--json'));
      expect(run.stderr).toContain(`  brewfile ${brewfile}:4: mas "Xcode" is not served by the mirror\n`);
      expect(run.code).toBe(0);
      const summary = JSON.parse(run.stdout) as { published: boolean; bottles: { planned: number }; taps: { taps: number; mirrored: number } };
      // wget only (jq is not in the Brewfile), and the tap.
      expect(summary).toMatchObject({ published: true, bottles: { planned: 1 }, taps: { taps: 1, mirrored: 4 } });

      fs.writeFileSync(brewfile, 'brew "wget"\ncask_args appdir: "/Applications"\nbrew "jq" if OS.mac? &&\n');
      const bad = await bottles(...syncArgs('--brewfile', brewfile));
      expect(bad.code).toBe(2);
      expect(bad.stderr.split('\n')[0]).toMatch(new RegExp(`^bottles: ${brewfile.replace(/[.]/g, '\\.')}:[34]: syntax error: `));
    } finally {
      await tap.close();
    }
  }, 60_000);

  test('mirrors brew itself by default, from the URLs given; without git it stops with exit 2 and one line', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'all', bytes: randomBytes(100) }] }], key.privateKey);
    upstream.setApiFile('install.sh', Buffer.from('#!/bin/bash\necho install\n'));
    const brew = await startGitUpstream();
    try {
      const ruby = randomBytes(1000);
      upstream.addBlob('portable-ruby', ruby);
      brew.release('6.0.18', '4.0.6', [{ platform: 'arm64-darwin', rubyTag: 'arm64_big_sur', sha256: createHash('sha256').update(ruby).digest('hex') }]);
      const brewFlags = ['--brew-git-url', brew.url, '--registry-url', new URL(upstream.registryRoot).origin, '--install-script-url', `${upstream.apiRoot}/install.sh`];
      const noGit = await bottlesWithEnv({ PATH: '/nonexistent' }, 'sync', '--store', store, '--api-url', upstream.apiRoot, '--public-key', pemFile, ...brewFlags);
      expect([noGit.code, noGit.stderr.split('\n')[0]]).toEqual([2, 'bottles: git is not installed: mirroring brew.git needs the git CLI (or run with --without-brew)']);
      expect(await localStores(store).state.getPublished()).toBeUndefined();

      const run = await bottles('sync', '--store', store, '--api-url', upstream.apiRoot, '--public-key', pemFile, ...brewFlags);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^brew: brew\\.git at ${brew.git('rev-parse', 'HEAD').slice(0, 12)} \\(1 tags\\); portable Ruby for releases 6\\.0\\.18, master \\(default branch head\\)$`, 'm'));
      expect((await localStores(store).state.getPublished())!.brewReleases).toEqual(['6.0.18', 'master']);
    } finally {
      await brew.close();
    }
  });

  test('exit 0 and one JSON summary line when published; rerun transfers nothing', async () => {
    publishApi(upstream, [
      { name: 'gtk+3', version: '3.24.43', bottles: [{ tag: 'x86_64_linux', bytes: randomBytes(4096) }] },
      { name: 'python@3.12', version: '3.12.3', rebuild: 1, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(1000) }, { tag: 'all', bytes: randomBytes(10) }] },
    ], key.privateKey);
    const first = await bottles(...syncArgs('--json'));
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]);
    expect(Object.keys(summary)).toEqual(['runId', 'published', 'generation', 'bottles', 'bytes', 'failures']);
    expect(summary).toMatchObject({
      published: true,
      generation: summary.runId,
      bottles: { planned: 3, transferred: 3, skipped: 0, failed: 0 },
      bytes: { transferred: 4096 + 1000 + 10 },
      failures: [],
    });
    expect(fs.readdirSync(path.join(store, 'blobs', 'sha256')).filter((f) => !f.startsWith('.'))).toHaveLength(3);

    const rerun = await bottles(...syncArgs('--json'));
    expect(rerun.code).toBe(0);
    const second = JSON.parse(rerun.stdout);
    expect(second).toEqual(expect.objectContaining({ published: false, unchanged: true, generation: summary.generation, bottles: { planned: 0, transferred: 0, skipped: 3, failed: 0 } }));
    expect(second.error).toBeUndefined();
    const human = await bottles(...syncArgs());
    expect([human.code, human.stdout]).toEqual([0, `upstream unchanged since generation ${summary.generation}: all 3 bottles present, nothing published\n`]);
  });

  test('exit 1 with failures listed when the run cannot publish', async () => {
    const shas = publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(100) }] }], key.privateKey);
    upstream.removeBlob(shas.get('wget:arm64_sequoia')!);
    const run = await bottles(...syncArgs('--json', '--max-missing', '0'));
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      published: false,
      generation: null,
      failures: [{ name: 'wget', tag: 'arm64_sequoia', reason: expect.stringMatching(/HTTP 404/) }],
      error: expect.stringMatching(/permanently missing, above the 0% limit/),
    });
    // Without --json the failure goes to stderr, not stdout.
    const human = await bottles(...syncArgs('--max-missing', '0'));
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/^bottles: nothing new published: 1 of 1 bottles .* permanently missing[\s\S]*failed wget arm64_sequoia: GET http:\/\/127\.0\.0\.1:\d+\/v2\/homebrew\/core\/wget\/blobs\/sha256:[0-9a-f]{64}: HTTP 404/);
  });

  test('a replayed packages file: exit 1 naming the file, the published generation stays; --force publishes it', async () => {
    const formulae = [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(100) }] }];
    publishApi(upstream, formulae, key.privateKey, { generatedAt: 1795600000 });
    const current = JSON.parse((await bottles(...syncArgs('--json'))).stdout);
    publishApi(upstream, formulae, key.privateKey, { generatedAt: 1795000000 });
    const replayed = await bottles(...syncArgs());
    expect(replayed.code).toBe(1);
    expect(replayed.stderr).toMatch(/internal\/packages\.arm64_sequoia\.jws\.json was generated at 2026-11-18T\S+, before the published one \(2026-11-25T\S+\); a replayed file is not published/);
    expect((await localStores(store).state.getPublished())!.generation).toBe(current.generation);
    const forced = JSON.parse((await bottles(...syncArgs('--json', '--force'))).stdout);
    expect(forced).toMatchObject({ published: true });
    expect(forced.generation).not.toBe(current.generation);
  });

  test('--tags for a platform includes the `all` bottles it falls back to, unless --without-all', async () => {
    publishApi(upstream, [
      { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(100) }] },
      { name: 'ca-certificates', version: '2023-12-12', bottles: [{ tag: 'all', bytes: randomBytes(50) }] },
      { name: 'htop', version: '3.3.0', bottles: [{ tag: 'x86_64_linux', bytes: randomBytes(70) }] },
    ], key.privateKey);
    const withAll = JSON.parse((await bottles(...syncArgs('--json', '--tags', 'arm64_sequoia'))).stdout);
    expect(withAll).toMatchObject({ published: true, bottles: { transferred: 2 }, bytes: { transferred: 150 } });
    fs.rmSync(store, { recursive: true, force: true });
    const without = JSON.parse((await bottles(...syncArgs('--json', '--tags', 'arm64_sequoia', '--without-all'))).stdout);
    expect(without).toMatchObject({ published: true, bottles: { transferred: 1 }, bytes: { transferred: 100 } });
  });

  test('--dry-run prints bottles and bytes per tag and the AWS route, and changes nothing', async () => {
    publishApi(upstream, [
      { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(4000) }, { tag: 'x86_64_linux', bytes: randomBytes(3000) }] },
      { name: 'ca-certificates', version: '2023-12-12', bottles: [{ tag: 'all', bytes: randomBytes(500) }] },
    ], key.privateKey);
    const fresh = path.join(store, 'not-yet');
    const human = await bottles('sync', '--store', fresh, '--api-url', upstream.apiRoot, '--public-key', pemFile, '--dry-run');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^dry run against .*: nothing was changed\n/);
    expect(human.stdout).toMatch(/\narm64_sequoia\s+1\s+1\s+3\.9 KiB\n/);
    expect(human.stdout).toMatch(/\ntotal: 3 bottles in 3 distinct blobs; 0 already stored; 3 to copy, 7\.3 KiB; 0 stored blobs no longer wanted\n/);
    expect(human.stdout).toMatch(/in AWS \(Lambda threshold 20\.0 GiB\): worker Lambdas, 1 batch\(es\)/);
    expect(fs.existsSync(fresh)).toBe(false); // nothing written, not even the directory

    expect((await bottles(...syncArgs('--tags', 'arm64_sequoia'))).code).toBe(0);
    const after = JSON.parse((await bottles(...syncArgs('--dry-run', '--json'))).stdout);
    expect(after).toMatchObject({
      dryRun: true,
      total: { bottles: 3, alreadyStored: 2, toTransfer: 1, bytes: 3000 },
      tags: [
        { tag: 'all', bottles: 1, toTransfer: 0 },
        { tag: 'arm64_sequoia', bottles: 1, toTransfer: 0 },
        { tag: 'x86_64_linux', bottles: 1, toTransfer: 1, bytes: 3000 },
      ],
      route: { kind: 'lambda', batches: 1 },
    });
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const before = files(store).sort();
    await bottles(...syncArgs('--dry-run'));
    expect(files(store).sort()).toEqual(before);
  });

  test('a store that is a file is one line and exit 2, before any request upstream', async () => {
    const file = path.join(work, 'sync-not-a-dir');
    fs.writeFileSync(file, 'x');
    const run = await bottles('sync', '--store', file, '--api-url', upstream.apiRoot, '--public-key', pemFile, '--without-brew', '--json');
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`bottles: store ${file} is not a directory`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
    expect(upstream.requests).toEqual([]);
  });

  test.each([
    ['EROFS', /is on a read-only file system$/],
    ['EACCES', /is not writable by this user \(EACCES\)$/],
    ['ENOSPC', /has no space left \(ENOSPC\)$/],
  ])('a store the machine refuses (%s) is a local-environment error (exit 2)', (code, message) => {
    const error = storeError('/srv/mirror', Object.assign(new Error(code), { code }));
    expect(errorKind(error)).toBe('local-environment');
    expect(error.message).toMatch(message);
  });

  test('an unknown tag is a usage error listing the known tags', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(100) }] }], key.privateKey);
    const run = await bottles(...syncArgs('--tags', 'arm64_sequioa'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^bottles: upstream has no packages file for platform tag "arm64_sequioa"; known tags: golden_gate, .*arm64_sequoia, .*x86_64_linux, arm64_linux, all\n/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  test('exit 1 and a clear message for a bad signature; human output without --json', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'all', bytes: randomBytes(100) }] }], key.privateKey);
    upstream.setApiFile('formula.jws.json', signApiFile('[]', testSigningKey().privateKey));
    const run = await bottles(...syncArgs());
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('bottles: nothing new published: formula.jws.json: signature does not verify with key "homebrew-1"\n');
    // With the bundled key, the message says how to mirror files signed with another.
    const bundled = await bottles('sync', '--store', store, '--api-url', upstream.apiRoot, '--without-brew');
    expect(bundled.stderr).toMatch(/signature does not verify with key "homebrew-1" \(.*needs --public-key PEM\)\n$/);
  });

  test('the bundled homebrew-1 key is the default and rejects test-signed files', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'all', bytes: randomBytes(100) }] }], key.privateKey);
    const run = await bottles('sync', '--store', store, '--api-url', upstream.apiRoot, '--without-brew', '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).published).toBe(false);
  });

  test.each([
    [['serve'], /--store DIR is required/],
    [['serve', '--store', '/tmp/x', '--mode', 'redirect'], /--mode redirect: a directory store serves in proxy mode only/],
    [['serve', '--store', '/tmp/x', '--port', '70000'], /--port must be an integer from 0 to 65535, not "70000"/],
    [['serve', '--store', '/tmp/x', '--port=-1'], /--port must be an integer from 0 to 65535, not "-1"/],
    [['serve', '--store', '/tmp/x', '--rate-limit', '0'], /--rate-limit must be a positive number, not "0"/],
    [['serve', '--store', '/tmp/x', '--byte-budget', '20 gigs'], /--byte-budget must be a size such as 20G, 512M or a number of bytes, not "20 gigs"/],
    [['serve', '--store', '/tmp/x', '--public-url', 'bottles.acme.dev'], /--public-url="bottles\.acme\.dev" is not a URL/],
    [['serve', '--store', '/tmp/x', '--public-url', 'https://bottles.acme.dev/?x=1'], /--public-url=.* must be an http\(s\) URL without query, fragment or credentials/],
    [['serve', '--store', '/nonexistent-store'], /store \/nonexistent-store does not exist; create it with `bottles sync --store/],
    [['sync'], /--store DIR is required/],
    [['sync', '--store', '/tmp/x', '--bogus'], /Unknown option '--bogus'/],
    [['sync', '--store', '/tmp/x', '--concurrency', 'many'], /--concurrency must be an integer from 1 to 64, not "many"/],
    [['sync', '--store', '/tmp/x', '--concurrency', '100000'], /--concurrency must be an integer from 1 to 64, not "100000"/],
    [['sync', '--store', '/tmp/x', '--concurrency', '-1'], /--concurrency must be an integer from 1 to 64, not "-1"/],
    [['sync', '--store', '/tmp/x', '--max-missing=-1'], /--max-missing must be a number from 0 to 100, not "-1"/],
    [['sync', '--store', '/tmp/x', '--max-missing', '150'], /--max-missing must be a number from 0 to 100, not "150"/],
    [['sync', '--store', '/tmp/x', '--without-all'], /--without-all needs --tags/],
    [['sync', '--store', '/tmp/x', '--max-drop', '101'], /--max-drop must be a number from 0 to 100, not "101"/],
    [['sync', '--store', '/tmp/x', '--force', '--max-drop', '5'], /--force and --max-drop exclude each other/],
    [['sync', '--store', '/tmp/x', '--api-url', 'ftp://x'], /--api-url must be an http\(s\) URL/],
    [['sync', '--store', '/tmp/x', '--without-brew', '--brew-git-url', 'https://x.test/brew'], /--without-brew and --brew-git-url exclude each other/],
    [['sync', '--store', '/tmp/x', '--brew-git-url', 'git@github.com:Homebrew/brew'], /--brew-git-url must be an http\(s\) URL/],
    [['sync', '--store', '/tmp/x', '--brew-releases', '0'], /--brew-releases must be an integer from 1 to 20, not "0"/],
    [['sync', '--store', '/tmp/x', '--public-key', '/nonexistent.pem'], /--public-key: cannot load/],
    [['sync', '--store', '/tmp/x', '--casks', 'Firefox App'], /--casks must be a comma list of cask tokens/],
    [['sync', '--store', '/tmp/x', '--allow-unpinned-casks', 'tool'], /--allow-unpinned-casks needs --casks/],
  ])('usage and configuration errors exit 2 with one line and the usage: %p', async (args, message) => {
    const run = await bottles(...(args as string[]));
    expect(run.code).toBe(2);
    const [first, ...usage] = run.stderr.trimEnd().split('\n');
    expect(first).toMatch(/^bottles: /);
    expect(first).toMatch(message);
    expect(usage.join('\n')).toMatch(new RegExp(`^usage: bottles ${(args as string[])[0] ?? 'sync'} --store DIR`));
    expect(run.stderr).not.toMatch(/\n\s+at |ERR_PARSE_ARGS|ambiguous/);
  });

  test.each([[[]], [['mirror']]])('no or an unknown command exits 2 with the whole usage: %p', async (args) => {
    const run = await bottles(...(args as string[]));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/usage: bottles sync --store DIR[\s\S]*bottles serve --store DIR/);
  });

  test('--help for the command and each subcommand, with defaults; --version', async () => {
    const top = await bottles('--help');
    expect([top.code, top.stdout]).toEqual([0, expect.stringMatching(/^bottles \d+\.\d+\.\d+: [\s\S]*gc      housekeeping[\s\S]*bottles <command> --help/)]);
    const sync = await bottles('sync', '--help');
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(/--concurrency N\s+parallel downloads, 1-64 \(default: 4\)/);
    expect(sync.stdout).toMatch(/--max-missing PCT[\s\S]*0-100 \(default: 1\)/);
    expect(sync.stdout).toMatch(/Known: golden_gate, [\s\S]*arm64_linux, all/);
    const serve = await bottles('serve', '--help');
    expect(serve.code).toBe(0);
    expect(serve.stdout).toMatch(/--rate-limit PER_SECOND requests per second per client address \(default: 50\)/);
    expect(serve.stdout).toMatch(/--burst N .* \(default: 200\)/);
    expect(serve.stdout).toMatch(/--byte-budget SIZE[\s\S]*\(default: 20GiB; sizes like 512M, 20G\)/);
    expect(serve.stdout).not.toMatch(/redirect/);
    const version = await bottles('--version');
    expect(version).toEqual({ code: 0, stdout: `${JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')).version}\n`, stderr: '' });
  });
});

describe('bottles serve', () => {
  test('--port 0 picks a free port; SIGTERM stops it with exit 0 and the batched access log flushed', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(500) }] }], key.privateKey);
    expect((await bottles(...syncArgs())).code).toBe(0);
    const proc = spawn(process.execPath, [binary, 'serve', '--store', store, '--port', '0']);
    let stdout = '';
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const base = await new Promise<string>((resolve, reject) => {
      proc.stdout.on('data', (d) => {
        stdout += d;
        const match = /serving .* on (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout);
        if (match) resolve(match[1]);
      });
      proc.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    expect(base).not.toMatch(/:0$/);
    const res = await fetch(`${base}/bottles/wget-1.25.0.arm64_sonoma.bottle.tar.gz`, { headers: { 'x-request-id': 'cli-serve-1' } });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(500);
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const line = stderr.split('\n').find((l) => l.includes('cli-serve-1'));
    expect(JSON.parse(line!)).toMatchObject({ service: 'bottles-serve', message: 'request', route: 'bottle', status: 200, bytes: 500 });
  });
});

describe('bottles export and import (issue #23)', () => {
  test('a bundle carries the published generation to another store; JSON summaries; a refused bundle is one line and exit 1', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(700) }] }], key.privateKey);
    expect((await bottles(...syncArgs())).code).toBe(0);
    const out = path.join(work, `cli-${randomBytes(3).toString('hex')}.tar`);
    const exported = await bottles('export', '--store', store, '--out', out, '--concurrency', '1', '--json');
    expect(exported.code).toBe(0);
    const summary = JSON.parse(exported.stdout);
    expect(summary).toMatchObject({ blobs: 1, volumes: [out], bytes: fs.statSync(out).size });
    // The file is never overwritten.
    const again = await bottles('export', '--store', store, '--out', out);
    expect([again.code, again.stderr.trim()]).toEqual([2, `bottles: ${out} exists; remove it or choose another --out`]);

    const target = fs.mkdtempSync(path.join(work, 'import-'));
    const refused = await bottles('import', '--store', target, out); // the default homebrew-1 key: the test key's signatures fail
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^bottles: import refused: .*signature does not verify/);
    const imported = await bottles('import', '--store', target, '--public-key', pemFile, '--concurrency', '64', '--json', out);
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ published: true, generation: summary.generation, blobs: { stored: 1 } });
    const twice = await bottles('import', '--store', target, '--public-key', pemFile, out);
    expect([twice.code, twice.stdout]).toEqual([0, `generation ${summary.generation} is already published in ${target}: nothing to do\n`]);
  });

  test.each([
    [['export', '--store', '/tmp/x'], /--out PATH is required/],
    [['export', '--store', '/tmp/x', '--out', '/tmp/y', '--split', '4 gigs'], /--split must be a size such as 20G/],
    [['export', '--store', '/tmp/x', '--out', '/tmp/y', '--split', '1000'], /--split must be at least 1M/],
    [['export', '--store', '/tmp/x', '--out', '/tmp/y', '--concurrency', '0'], /--concurrency must be an integer from 1 to 64, not "0"/],
    [['import', '--store', '/tmp/x', '--concurrency', '65', 'b.tar'], /--concurrency must be an integer from 1 to 64, not "65"/],
    [['import', '--store', '/tmp/x'], /name the bundle to import/],
    [['import', '--store', '/tmp/x', '--force', '--max-drop', '5', 'b.tar'], /--force and --max-drop exclude each other/],
    [['import', '--store', '/tmp/x', '--env', 'prod', 'b.tar'], /give --store DIR or --env ENV/],
    [['import', '--env', 'qa', 'b.tar'], /--env must be one of dev, staging, prod, not "qa"/],
  ])('usage errors exit 2 with the usage: %p', async (args, message) => {
    const run = await bottles(...(args as string[]));
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toMatch(message);
    expect(run.stderr).toMatch(new RegExp(`usage: bottles ${(args as string[])[0]} --store DIR`));
  });
});

describe('bottles import --env (issue #23)', () => {
  const env = (extra: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: work, ...extra });
  test('names the variables it needs, and refuses another environment\'s bucket before reading anything', async () => {
    const missing = await bottlesWithEnv(env({}), 'import', '--env', 'prod', 'b.tar');
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([2, 'bottles: missing required environment variable(s): HBS_BOTTLE_BUCKET, HBS_STATE_TABLE']);
    const foreign = await bottlesWithEnv(env({ HBS_BOTTLE_BUCKET: 'staging-brew-bottles-1', HBS_STATE_TABLE: 'prod-brew-state' }), 'import', '--env', 'prod', 'b.tar');
    expect([foreign.code, foreign.stderr.split('\n')[0]]).toEqual([2, "bottles: --env prod, but staging-brew-bottles-1 is not one of prod's resources (they start with prod-brew-); check HBS_BOTTLE_BUCKET and HBS_STATE_TABLE"]);
  });
});

describe('bottles serve --byte-budget (issue #25)', () => {
  test('a client that has downloaded its budget gets 429 with Retry-After; another request type is not charged', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(500) }] }], key.privateKey);
    expect((await bottles(...syncArgs())).code).toBe(0);
    // 600 bytes an hour: the first bottle fits, the second runs 400 bytes into debt, the third waits.
    const { proc, first } = await startServe('--store', store, '--port', '0', '--byte-budget', '600');
    try {
      const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(first)![1];
      const bottle = `${base}/bottles/wget-1.25.0.arm64_sonoma.bottle.tar.gz`;
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push(await fetch(bottle).then(async (r) => [r.status, (await r.arrayBuffer()).byteLength, r.headers.get('retry-after')]));
      expect(statuses.slice(0, 2)).toEqual([[200, 500, null], [200, 500, null]]);
      expect(statuses[2][0]).toBe(429);
      // 401 bytes at 600 an hour: about 2406 s, give or take the second the test took.
      expect(Number(statuses[2][2])).toBeGreaterThanOrEqual(2400);
      expect(Number(statuses[2][2])).toBeLessThanOrEqual(2407);
      expect((await fetch(`${base}/api/formula.jws.json`)).status).toBe(200);
    } finally {
      expect(await stopServe(proc)).toBe(0);
    }
  });
});

describe('bottles serve --pull-through (issue #24)', () => {
  test('a --formulae mirror serves a bottle outside its subset once pulled; settings without --pull-through are usage errors', async () => {
    const python = randomBytes(3000);
    publishApi(upstream, [
      { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(500) }] },
      { name: 'python@3.12', version: '3.12.8', bottles: [{ tag: 'arm64_sonoma', bytes: python }] },
    ], key.privateKey);
    expect((await bottles(...syncArgs('--formulae', 'wget'))).code).toBe(0);
    const registry = new URL(upstream.registryRoot).origin;
    const { proc, first } = await startServe('--store', store, '--port', '0', '--pull-through', '--registry-url', registry, '--max-pulls', '2');
    try {
      const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(first)![1];
      const response = await fetch(`${base}/bottles/python%403.12-3.12.8.arm64_sonoma.bottle.tar.gz`);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(python)).toBe(true);
      expect((await fetch(`${base}/bottles/curl-8.0.0.arm64_sonoma.bottle.tar.gz`)).status).toBe(404);
      expect(await fetch(`${base}/status`).then(async (r) => ((await r.json()) as { pullThrough: unknown }).pullThrough)).toMatchObject({ pulls: 1, failures: 0, bytes: python.length });
    } finally {
      expect(await stopServe(proc)).toBe(0);
    }
    for (const [args, message] of [
      [['--max-pulls', '4'], 'bottles: --max-pulls needs --pull-through'],
      [['--pull-through', '--registry-url', 'http://ghcr.io'], 'bottles: --registry-url must be an origin such as https://ghcr.io (refusing plain http outside loopback (https required)), not "http://ghcr.io"'],
      [['--pull-through', '--max-pulls', '0'], 'bottles: --max-pulls must be an integer from 1 to 256, not "0"'],
    ] as const) {
      const refused = await bottles('serve', '--store', store, '--port', '0', ...args);
      expect([refused.code, refused.stderr.split('\n')[0]]).toEqual([2, message]);
    }
  });
});

/** Starts `bottles serve` and resolves with its first stdout line once it is listening. */
function startServe(...args: string[]): Promise<{ proc: ReturnType<typeof spawn>; first: string; stderr: () => string }> {
  const proc = spawn(process.execPath, [binary, 'serve', ...args]);
  let stdout = '';
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      stdout += d;
      if (stdout.includes('\n')) resolve({ proc, first: stdout.split('\n')[0], stderr: () => stderr });
    });
    proc.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
}

async function stopServe(proc: ReturnType<typeof spawn>): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  return exited;
}

describe('bottles serve, first contact', () => {
  test('a store that is a file is refused with exit 2', async () => {
    const file = path.join(work, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const run = await bottles('serve', '--store', file, '--port', '0');
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n')[0]).toBe(`bottles: store ${file} is not a directory`);
  });

  test('a store never synced serves, but says so at start and in /health/detailed', async () => {
    const { proc, first, stderr } = await startServe('--store', store, '--port', '0');
    try {
      const base = /on (http:\/\/127\.0\.0\.1:\d+) /.exec(first)![1];
      const detailed = await (await fetch(`${base}/health/detailed`)).json();
      expect(detailed).toMatchObject({ status: 'degraded', generation: null, checks: { generation: { ok: false, error: 'nothing has been published yet' } } });
      expect((await fetch(`${base}/api/formula.jws.json`)).status).toBe(503);
      expect(stderr()).toMatch(/nothing is published in .* yet: brew gets 503 until `bottles sync --store /);
    } finally {
      expect(await stopServe(proc)).toBe(0);
    }
  });

  test('a port in use is one line and exit 2', async () => {
    const { proc, first } = await startServe('--store', store, '--port', '0');
    try {
      const port = /:(\d+) /.exec(first)![1];
      const second = await bottles('serve', '--store', store, '--port', port);
      expect(second.code).toBe(2);
      expect(second.stderr).toBe(`bottles: cannot listen on 127.0.0.1:${port}: the port is in use (pick another with --port, or --port 0)\n`);
    } finally {
      await stopServe(proc);
    }
  });

  test('an address the machine does not have is one line and exit 2', async () => {
    const run = await bottles('serve', '--store', store, '--port', '0', '--host', '192.0.2.1');
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('bottles: cannot listen on 192.0.2.1:0: this machine has no such address\n');
  });

  test('--host 0.0.0.0 prints settings brew can use (not 0.0.0.0), HOMEBREW_ARTIFACT_DOMAIN included', async () => {
    const { proc, first } = await startServe('--store', store, '--port', '0', '--host', '0.0.0.0');
    try {
      const port = /0\.0\.0\.0:(\d+) /.exec(first)![1];
      expect(first).toContain(`HOMEBREW_API_DOMAIN=http://127.0.0.1:${port}/api`);
      expect(first).toContain(`HOMEBREW_BOTTLE_DOMAIN=http://127.0.0.1:${port}/bottles`);
      expect(first).toContain(`HOMEBREW_ARTIFACT_DOMAIN=http://127.0.0.1:${port}`);
      expect(first).not.toMatch(/DOMAIN=http:\/\/0\.0\.0\.0/);
      expect(first).toMatch(/from other machines use this host's address/);
    } finally {
      await stopServe(proc);
    }
  });
});

describe('bottles serve hands out the client settings', () => {
  const reader = path.resolve(__dirname, '../fixtures/brew-env-reader.sh');
  /** The HOMEBREW_* environment bin/brew builds from a brew.env file, in a clean environment. */
  const asBrewReadsIt = (file: string) =>
    new Promise<string[]>((resolve, reject) =>
      execFile('env', ['-i', `PATH=${process.env.PATH}`, 'bash', reader, file], { encoding: 'utf8' }, (error, stdout) => (error ? reject(error) : resolve(stdout.trim().split('\n')))),
    );

  test('--public-url: the printed settings and /brew.env name it (not the Host a client sends), and brew reads every line', async () => {
    const { proc, first } = await startServe('--store', store, '--port', '0', '--public-url', 'https://bottles.acme.dev/');
    try {
      const expected = [
        'HOMEBREW_API_DOMAIN=https://bottles.acme.dev/api',
        'HOMEBREW_BOTTLE_DOMAIN=https://bottles.acme.dev/bottles',
        'HOMEBREW_ARTIFACT_DOMAIN=https://bottles.acme.dev',
        'HOMEBREW_ARTIFACT_DOMAIN_NO_FALLBACK=1',
        'HOMEBREW_NO_ANALYTICS=1',
      ];
      for (const line of expected) expect(first).toContain(line);
      expect(first).toContain('as a file: https://bottles.acme.dev/brew.env');
      const port = /127\.0\.0\.1:(\d+) /.exec(first)![1];
      const response = await fetch(`http://127.0.0.1:${port}/brew.env`, { headers: { host: 'evil.example' } });
      expect([response.status, response.headers.get('content-type')]).toEqual([200, 'text/plain; charset=utf-8']);
      const body = await response.text();
      expect(body).not.toContain('evil.example');
      const file = path.join(work, 'brew.env');
      fs.writeFileSync(file, body);
      expect(await asBrewReadsIt(file)).toEqual([...expected].sort());
      // No HOMEBREW_BREW_GIT_REMOTE while the mirror serves no brew.git: brew update would fail on it.
      expect(body).not.toContain('HOMEBREW_BREW_GIT_REMOTE');
    } finally {
      await stopServe(proc);
    }
  });

  test('without --public-url, /brew.env names the address it listens on', async () => {
    const { proc, first } = await startServe('--store', store, '--port', '0');
    try {
      const port = /127\.0\.0\.1:(\d+) /.exec(first)![1];
      const body = await (await fetch(`http://127.0.0.1:${port}/brew.env`)).text();
      expect(body).toContain(`HOMEBREW_API_DOMAIN=http://127.0.0.1:${port}/api\n`);
    } finally {
      await stopServe(proc);
    }
  });
});

describe('the installed command', () => {
  test('npm ci builds dist/bottles.js as an executable with a node shebang carrying the memory flags', () => {
    const built = path.resolve(__dirname, '../../dist/bottles.js');
    expect(fs.statSync(built).mode & 0o111).not.toBe(0);
    expect(fs.readFileSync(built, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env -S node --max-semi-space-size=4');
  });
});

describe('terminal progress', () => {
  const transfer = (bottlesDone: number, bytesDone: number) => ({ phase: 'transfer' as const, bottlesDone, bottlesTotal: 10, bytesDone, bytesTotal: 100 * 1024 ** 2 });

  test('each phase has its line: the API, the image indexes, then bottles, bytes, rate and ETA', () => {
    expect(progressLine({ phase: 'api' }, 0)).toBe('verifying the signed API…');
    expect(progressLine({ phase: 'manifests', done: 1200, total: 7500 }, 0)).toBe('image indexes 1200/7500');
    expect(progressLine(transfer(3, 30 * 1024 ** 2), 3 * 1024 ** 2)).toBe('bottles 3/10  30.0 MiB/100.0 MiB  3.0 MiB/s  ETA 0m23s');
    expect(progressLine({ ...transfer(0, 0), bottlesTotal: 1, bytesTotal: 5 }, 0)).toBe('bottles 0/1  0 B/5 B  0 B/s  ETA --');
  });

  test('the rate and ETA come from the last 10 s, so a stall shows at once; bytes move within a bottle', () => {
    let now = 0;
    const lines: string[] = [];
    const meter = new ProgressMeter((line) => lines.push(line), () => now);
    meter.update({ phase: 'api' });
    meter.update({ phase: 'manifests', done: 1, total: 2 });
    // 60 s at 1 MiB/s, reported per 50 KiB chunk (every 50 ms) while bottle 0 is still in flight.
    for (let t = 0; t <= 60_000; t += 50) {
      now = t;
      meter.update(transfer(0, (t / 1000) * 1024 ** 2));
    }
    expect(lines[0]).toBe('verifying the signed API…');
    expect(lines[1]).toBe('image indexes 1/2');
    expect(lines[lines.length - 1]).toBe('bottles 0/10  60.0 MiB/100.0 MiB  1.0 MiB/s  ETA 0m40s');
    expect(lines.length).toBeLessThanOrEqual(2 + 60_000 / 200 + 1); // 1,201 updates, at most one redraw per 200 ms
    // Then it stalls: 10 s later the rate is 0 and the ETA unknown, where an average since start would still say 0.9 MiB/s.
    for (let t = 60_250; t <= 71_000; t += 250) {
      now = t;
      meter.update(transfer(0, 60 * 1024 ** 2));
    }
    expect(lines[lines.length - 1]).toBe('bottles 0/10  60.0 MiB/100.0 MiB  0 B/s  ETA --');
  });
});

describe('bottles token', () => {
  test('create prints a token once (--json with team, id, expiry); list shows teams and never a token; revoke by id or team; a bad --expires is exit 2', async () => {
    const created = await bottles('token', 'create', '--team', 'ios', '--expires', '90d', '--json', '--store', store);
    expect(created.code).toBe(0);
    const first = JSON.parse(created.stdout) as { team: string; id: string; token: string; expires: string };
    expect(first).toMatchObject({ team: 'ios', id: expect.stringMatching(/^[0-9a-f]{12}$/), token: expect.stringMatching(/^hbsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/) });
    expect(Date.parse(first.expires) - Date.now()).toBeGreaterThan(89 * 86_400_000);
    const second = await bottles('token', 'create', '--team', 'web', '--budget', '50G', '--store', store);
    expect([second.code, /^hbsk_/.test(second.stdout)]).toEqual([0, true]);
    expect(second.stderr).toMatch(/^bottles: token [0-9a-f]{12} for team web: shown once, keep it now\n$/);

    const list = await bottles('token', 'list', '--json', '--store', store);
    const rows = JSON.parse(list.stdout) as { team: string; id: string; state: string; budget: number | null }[];
    expect(rows.map((r) => [r.team, r.state, r.budget])).toEqual([['ios', 'active', null], ['web', 'active', 50 * 1024 ** 3]]);
    // Neither the listing nor the store holds a token.
    const stored = fs.readdirSync(path.join(store, 'state/tokens')).map((f) => fs.readFileSync(path.join(store, 'state/tokens', f), 'utf8')).join('\n');
    for (const text of [list.stdout, stored]) expect(text).not.toContain(first.token.slice(18));

    expect((await bottles('token', 'revoke', first.id, '--store', store)).stdout).toBe(`revoked ${first.id} (ios)\n`);
    expect((await bottles('token', 'revoke', 'web', '--store', store)).code).toBe(0);
    const after = JSON.parse((await bottles('token', 'list', '--json', '--store', store)).stdout) as { state: string }[];
    expect(after.every((r) => r.state.startsWith('revoked '))).toBe(true);

    const bad = await bottles('token', 'create', '--team', 'ios', '--expires', '90 days', '--store', store);
    expect([bad.code, bad.stderr.split('\n')[0]]).toEqual([2, 'bottles: --expires must be a positive number with s, m, h or d (e.g. 90d), not "90 days"']);
    expect((await bottles('token', 'list', '--store', store, '--env', 'dev')).code).toBe(2);
  });
});

