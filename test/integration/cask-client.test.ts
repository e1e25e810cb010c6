import { execFile } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { jsonLogger } from '../../engine/logger';
import { runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { serveMirror } from '../fixtures/brew-client';
import { FileTokenStore } from '../../engine/adapters/local/file-token-store';
import { newTeamToken } from '../../engine/keys/team-token';
import { TokenVerifier } from '../../engine/keys/token-verifier';
import { MirrorServer } from '../../engine/serve/server';
import { localServerDeps } from '../../engine/wiring/local';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

// The cask client command (issue #33), as the mirror serves it at /brew-mirror, run with bash
// against `bottles serve`. A shell script stands in for brew itself: it answers `brew --cache`,
// `--repository`, `info --json=v2 --cask` (with what brew's signed API would say) and
// `outdated`, and records the command it is handed over to. Real Ruby 4.0 (on WASI) stands in
// for brew's portable Ruby, which the command uses to read brew's JSON.
const run = promisify(execFile);
const key = testSigningKey();
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const TOOL = randomBytes(6000);

let upstream: FixtureUpstream;
let root: string;
let toolUrl: string;

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  toolUrl = upstream.addVendorFile('tool/tool-1.0.tar.gz?dl=1', TOOL);
  publishApi(upstream, [{ name: 'hello', version: '2.12', bottles: [{ tag: 'x86_64_linux', bytes: randomBytes(200) }] }], key.privateKey, {
    casks: [{ token: 'tool', version: '1.0', files: { x86_64_linux: { url: toolUrl, sha256: sha(TOOL) } } }],
  });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cask-client-'));
  const summary = await runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: ['x86_64_linux'], casks: ['tool'] });
  expect(summary.casks).toMatchObject({ files: 1, failures: [] });
});

afterAll(() => upstream.close());

/** A machine: a stand-in brew on PATH with its cache and repository, and the mirror's brew-mirror script. */
async function machine(base: string, casks: Record<string, { url: string; sha256: string }>, outdated: string[] = [], extraEnv: Record<string, string> = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cask-machine-'));
  const bin = path.join(home, 'bin');
  const cache = path.join(home, 'cache');
  const repo = path.join(home, 'repo');
  const rubyDir = path.join(repo, 'Library/Homebrew/vendor/portable-ruby/current/bin');
  const infoDir = path.join(home, 'info');
  for (const dir of [bin, cache, rubyDir, infoDir]) fs.mkdirSync(dir, { recursive: true });
  for (const [token, c] of Object.entries(casks)) fs.writeFileSync(path.join(infoDir, `${token}.json`), JSON.stringify({ formulae: [], casks: [{ token, url: c.url, sha256: c.sha256, version: '1.0' }] }));
  fs.writeFileSync(path.join(home, 'outdated'), outdated.map((t) => `${t}\n`).join(''));
  fs.writeFileSync(path.join(home, 'bundle-casks'), ['homebrew/cask/tool', 'acme/tools/acme-app', ''].join('\n'));
  const log = path.join(home, 'brew.log');
  fs.writeFileSync(
    path.join(bin, 'brew'),
    [
      '#!/bin/bash',
      '# Stands in for brew (see the test file header).',
      'case "$1" in',
      `  --repository) echo "${repo}" ;;`,
      `  --cache) echo "${cache}" ;;`,
      `  info) cat "${infoDir}/$4.json" 2>/dev/null || { echo "Error: No available cask with the name \\"$4\\"." >&2; exit 1; } ;;`,
      `  outdated) cat "${home}/outdated" ;;`,
      // brew bundle list --cask --file F: the casks brew bundle reads from the Brewfile (here, a list the test writes).
      `  bundle) if [ "$2" = list ]; then echo "$*" >> "${home}/bundle-list.log"; cat "${home}/bundle-casks"; else { echo "$*"; echo "HOMEBREW_CURL_RETRIES=$HOMEBREW_CURL_RETRIES"; } >> "${log}"; fi ;;`,
      `  *) { echo "$*"; echo "HOMEBREW_CURL_RETRIES=$HOMEBREW_CURL_RETRIES"; echo "HOMEBREW_CURLRC=$HOMEBREW_CURLRC"; } >> "${log}" ;;`,
      'esac',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(rubyDir, 'ruby'), `#!/bin/sh\nexec "${process.execPath}" --no-warnings "${path.resolve(__dirname, '../fixtures/wasm-ruby.js')}" "$@"\n`, { mode: 0o755 });
  const script = path.join(home, 'brew-mirror');
  const served = await fetch(`${base}/brew-mirror`);
  expect([served.status, served.headers.get('content-type')]).toEqual([200, 'text/x-shellscript; charset=utf-8']);
  fs.writeFileSync(script, Buffer.from(await served.arrayBuffer()), { mode: 0o755 });
  const brewMirror = (...args: string[]) =>
    run('bash', [script, ...args], { env: { PATH: `${bin}:${process.env.PATH}`, HOME: home, HOMEBREW_API_DOMAIN: `${base}/api`, ...extraEnv } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  return { cache, log, brewMirror, handedOver: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '') };
}

describe('brew mirror install --cask, against bottles serve', () => {
  test('bundle: seeds every cask brew bundle lists for the Brewfile (a tap\'s cask is left to the rewritten tap), then runs brew bundle with the same flags', async () => {
    const { server, base } = await serveMirror(localStores(root));
    try {
      const m = await machine(base, { tool: { url: toolUrl, sha256: sha(TOOL) } });
      const result = await m.brewMirror('bundle', '--file', '/etc/fleet/Brewfile');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('brew mirror: acme/tools/acme-app comes from a tap: the mirror\'s rewritten tap downloads it');
      expect(result.stdout).toContain(`brew mirror: tool ${sha(TOOL)} placed in brew's cache`);
      expect(fs.readdirSync(path.join(m.cache, 'downloads'))).toEqual([`${sha(toolUrl)}--tool-1.0.tar.gz`]);
      expect(fs.readFileSync(path.join(path.dirname(m.log), 'bundle-list.log'), 'utf8')).toBe('bundle list --cask --file /etc/fleet/Brewfile\n');
      expect(m.handedOver().trim().split('\n').slice(0, 2)).toEqual(['bundle --file /etc/fleet/Brewfile', 'HOMEBREW_CURL_RETRIES=0']);
    } finally {
      await server.stop(0);
    }
  }, 60_000);

  test('token mode: it sends the team token brew.env gives brew (curl config on stdin, not in argv); without one the mirror refuses the file', async () => {
    const tokens = new FileTokenStore(root);
    const { record, token } = newTeamToken('mac', new Date());
    await tokens.putToken(record);
    const verifier = new TokenVerifier(tokens, jsonLogger({}, () => undefined));
    await verifier.start();
    let base = '';
    const server = new MirrorServer({ ...localServerDeps(root, { log: jsonLogger({}, () => undefined), publicUrl: () => base }), tokens: verifier });
    base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
    try {
      const casks = { tool: { url: toolUrl, sha256: sha(TOOL) } };
      const withToken = await (await machine(base, casks, [], { HOMEBREW_DOCKER_REGISTRY_TOKEN: token })).brewMirror('install', '--cask', 'tool');
      expect([withToken.code, withToken.stderr]).toEqual([0, '']);
      const without = await (await machine(base, casks)).brewMirror('install', '--cask', 'tool');
      expect(without.code).not.toBe(0);
      expect(without.stderr).toMatch(/has no file for sha256/);
    } finally {
      verifier.stop();
      await server.stop(0);
    }
  }, 60_000);

  test('places the file under the key brew computes (exactly one), then hands over to brew without retries and with a short connect timeout', async () => {
    const { server, base } = await serveMirror(localStores(root));
    try {
      const m = await machine(base, { tool: { url: toolUrl, sha256: sha(TOOL) } });
      // CASKS.md: downloads/<sha256 of the url string>--<basename of the url's path>; brew uses the one file matching <sha256(url)>--*.
      const cacheKey = `${sha(toolUrl)}--tool-1.0.tar.gz`;
      fs.mkdirSync(path.join(m.cache, 'downloads'), { recursive: true });
      fs.writeFileSync(path.join(m.cache, 'downloads', `${sha(toolUrl)}--stale.tar.gz`), 'an older download');
      const result = await m.brewMirror('install', '--cask', 'tool');
      expect([result.code, result.stderr]).toEqual([0, '']);
      expect(fs.readdirSync(path.join(m.cache, 'downloads'))).toEqual([cacheKey]);
      expect(fs.readFileSync(path.join(m.cache, 'downloads', cacheKey)).equals(TOOL)).toBe(true);
      const handedOver = m.handedOver().trim().split('\n');
      expect(handedOver.slice(0, 2)).toEqual(['install --cask tool', 'HOMEBREW_CURL_RETRIES=0']);
      expect(fs.readFileSync(handedOver[2].replace('HOMEBREW_CURLRC=', ''), 'utf8')).toBe('connect-timeout = 3\n');
    } finally {
      await server.stop(0);
    }
  }, 60_000);

  test('a wrong file from the mirror is refused with both checksums, and nothing is placed or handed over', async () => {
    const { server, base } = await serveMirror(localStores(root));
    const stored = path.join(root, 'blobs', 'sha256', sha(TOOL));
    const original = fs.readFileSync(stored);
    fs.writeFileSync(stored, Buffer.concat([original.subarray(0, 100), Buffer.from('tampered'), original.subarray(108)]));
    try {
      const m = await machine(base, { tool: { url: toolUrl, sha256: sha(TOOL) } });
      const result = await m.brewMirror('install', '--cask', 'tool');
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`brew mirror: tool: the mirror's file has sha256 ${sha(fs.readFileSync(stored))}, not the signed ${sha(TOOL)}; refused`);
      expect(fs.readdirSync(path.join(m.cache, 'downloads'))).toEqual([]);
      expect(m.handedOver()).toBe('');
    } finally {
      fs.writeFileSync(stored, original);
      await server.stop(0);
    }
  }, 60_000);

  test('upgrade with no names takes every outdated cask; a cask the mirror lacks is named; no mirror configured is one line', async () => {
    const { server, base } = await serveMirror(localStores(root));
    try {
      const m = await machine(base, { tool: { url: toolUrl, sha256: sha(TOOL) }, other: { url: `${upstream.vendorRoot}/other.zip`, sha256: 'c'.repeat(64) } }, ['tool']);
      const upgraded = await m.brewMirror('upgrade');
      expect(upgraded.code).toBe(0);
      expect(m.handedOver().split('\n')[0]).toBe('upgrade --cask tool');
      const missing = await m.brewMirror('fetch', '--cask', 'other');
      expect([missing.code, missing.stderr.trim()]).toEqual([1, `brew mirror: other: ${base} has no file for sha256 ${'c'.repeat(64)} (is other in the mirror's --casks?)`]);
      const unconfigured = await run('bash', ['-c', `HOMEBREW_API_DOMAIN= bash ${path.dirname(m.cache)}/brew-mirror install tool`]).catch((e) => e);
      expect(unconfigured.stderr.trim()).toMatch(/^brew mirror: no mirror configured: set HOMEBREW_API_DOMAIN=<mirror>\/api/);
    } finally {
      await server.stop(0);
    }
  }, 60_000);
});
