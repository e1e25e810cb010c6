import { execFile, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { buildSync } from 'esbuild';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { progressLine } from '../../cli/bottles';
import { publishApi, signApiFile, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

// The real command: the same esbuild bundle `npm run build` makes, run as a child process.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-cli-'));
const binary = path.join(work, 'bottles.js');
buildSync({ entryPoints: [path.resolve(__dirname, '../../cli/bottles.ts')], bundle: true, platform: 'node', target: 'node22', outfile: binary, logLevel: 'silent' });

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
  return new Promise((resolve) => {
    execFile(process.execPath, [binary, ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}
const syncArgs = (...extra: string[]) => ['sync', '--store', store, '--api-url', upstream.apiRoot, '--public-key', pemFile, ...extra];

describe('bottles sync', () => {
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

    const second = JSON.parse((await bottles(...syncArgs('--json'))).stdout);
    expect(second).toMatchObject({ published: true, bottles: { planned: 0, transferred: 0, skipped: 3 }, bytes: { transferred: 0 } });
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
    });
  });

  test('exit 1 and a clear message for a bad signature; human output without --json', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'all', bytes: randomBytes(100) }] }], key.privateKey);
    upstream.setApiFile('formula.jws.json', signApiFile('[]', testSigningKey().privateKey));
    const run = await bottles(...syncArgs());
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('nothing new published: formula.jws.json: signature does not verify with key "homebrew-1"\n');
  });

  test('the bundled homebrew-1 key is the default and rejects test-signed files', async () => {
    publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'all', bytes: randomBytes(100) }] }], key.privateKey);
    const run = await bottles('sync', '--store', store, '--api-url', upstream.apiRoot, '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).published).toBe(false);
  });

  test.each([
    [[], /no command given/],
    [['mirror'], /unknown command "mirror"/],
    [['serve'], /--store DIR is required/],
    [['serve', '--store', '/tmp/x', '--mode', 'redirect'], /--mode redirect needs an S3 store/],
    [['serve', '--store', '/tmp/x', '--port', '70000'], /--port must be 0-65535/],
    [['serve', '--store', '/tmp/x', '--port=-1'], /--port must be 0-65535/],
    [['serve', '--store', '/tmp/x', '--rate-limit', '0'], /--rate-limit must be above 0/],
    [['sync'], /--store DIR is required/],
    [['sync', '--store', '/tmp/x', '--bogus'], /Unknown option '--bogus'/],
    [['sync', '--store', '/tmp/x', '--concurrency', 'many'], /--concurrency must be a positive integer/],
    [['sync', '--store', '/tmp/x', '--max-missing=-1'], /--max-missing must be a non-negative number/],
    [['sync', '--store', '/tmp/x', '--api-url', 'ftp://x'], /--api-url must be an http\(s\) URL/],
    [['sync', '--store', '/tmp/x', '--public-key', '/nonexistent.pem'], /--public-key: cannot load/],
  ])('usage and configuration errors exit 2: %p', async (args, message) => {
    const run = await bottles(...(args as string[]));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/usage: bottles sync --store DIR[\s\S]*bottles serve --store DIR/);
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

describe('terminal progress', () => {
  test('shows bottles, bytes, rate and ETA', () => {
    expect(progressLine({ bottlesDone: 3, bottlesTotal: 10, bytesDone: 30 * 1024 ** 2, bytesTotal: 100 * 1024 ** 2 }, 10_000)).toBe(
      'bottles 3/10  30.0 MiB/100.0 MiB  3.0 MiB/s  ETA 0m23s',
    );
    expect(progressLine({ bottlesDone: 0, bottlesTotal: 1, bytesDone: 0, bytesTotal: 5 }, 0)).toBe('bottles 0/1  0 B/5 B  0 B/s  ETA --');
  });
});
