/**
 * A Homebrew-size catalogue (issue #13). Prints each figure next to its budget; asserts nothing.
 *
 *   npm run bench:scale [-- --formulae 7500]
 *
 * Environment: BENCH_NODE_ARGS=<flags> runs the bundle under `node <flags>`
 * instead of its shebang; BENCH_DRY_ONLY=1 stops after the planning figure.
 *
 * A fixture upstream (test/fixtures/upstream-server.ts: a registry that
 * redirects blobs to a CDN origin, and the API origin) serves 7,500 formulae
 * with names using `@` and `+`, six platform tags plus `all` (one formula in
 * twenty has only an `all` bottle): about 43,000 bottles, a 33 MB
 * `formula.jws.json` and a 2.3 MB `internal/packages.<tag>.jws.json` per tag,
 * as upstream's are. The mirror runs as it ships (`dist/bottles.js`, built
 * first), each command in its own process, so its peak RSS (VmHWM) is its own.
 *
 * brew itself is mirrored too (issue #22): a Homebrew/brew-size repository
 * (40,000 commits over 5,000 files: about 150 MB packed and 240,000 objects,
 * served by `git http-backend`), three releases pinning four portable Rubies
 * of 12 MB each, and the install script. git runs as a child of the sync:
 * its peak RSS is sampled separately and printed beside the task's memory.
 */
import { ChildProcess, ChildProcessWithoutNullStreams, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { buildSync } from 'esbuild';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { imageName, manifestTag, pkgVersion, platformRefName } from '../engine/homebrew/bottle-names';
import { signApiFile, testSigningKey } from '../test/fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../test/fixtures/upstream-server';
import { GitUpstream, PortableRubyPin, startGitUpstream } from '../test/fixtures/git-upstream';

const flag = process.argv.indexOf('--formulae');
const FORMULAE = flag > 0 ? Number(process.argv[flag + 1]) : 7500;
const TAGS = ['arm64_tahoe', 'arm64_sequoia', 'arm64_sonoma', 'sonoma', 'arm64_linux', 'x86_64_linux'];
/** Extra Node.js flags for the measured processes (e.g. `--max-old-space-size=160`, `--cpu-prof`). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const BUDGETS = { syncRss: 300, planRss: 200, serveRss: 150, noopSeconds: 5, noopRequests: 15, gitRss: 1024 };
/** brew.git's size, and each portable Ruby's (brew 6.0.18's arm64_big_sur Ruby is about 12 MB). */
const BREW_HISTORY = { commits: 40_000, files: 5_000 };
const RUBY_BYTES = 12 * 1024 ** 2;

interface Formula {
  name: string;
  version: string;
  revision: number;
  rebuild: number;
  /** tag → sha256 */
  files: Record<string, string>;
  deps: string[];
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-scale-'));
const binary = path.join(work, 'bottles.js');
const store = path.join(work, 'store');
const key = testSigningKey();
const pemFile = path.join(work, 'key.pem');

function nameOf(i: number): string {
  if (i % 50 === 1) return `python@3.${i % 40}`;
  if (i % 97 === 2) return `libsigc++@${i % 5}-${i}`;
  if (i % 113 === 3) return `gtk+${i}`;
  return `formula-${i.toString(36)}`;
}

/** Adds a formula's bottles and image index to the fixture upstream. */
function addFormula(upstream: FixtureUpstream, f: Omit<Formula, 'files'>, tags: string[]): Formula {
  const image = imageName(f.name);
  const files: Record<string, string> = {};
  const manifests = tags.map((tag) => {
    const bytes = randomBytes(48);
    const { sha256 } = upstream.addBlob(image, bytes);
    files[tag] = sha256;
    return {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${randomBytes(32).toString('hex')}`,
      size: 1200,
      platform: { architecture: tag.startsWith('arm64') ? 'arm64' : 'amd64', os: tag.endsWith('linux') ? 'linux' : 'darwin', 'os.version': `macOS ${tag}` },
      annotations: {
        'org.opencontainers.image.ref.name': platformRefName({ ...f, tag }),
        'sh.brew.bottle.digest': sha256,
        'sh.brew.bottle.size': String(bytes.length),
        'sh.brew.tab': JSON.stringify({ homebrew_version: '6.0.18', built_as_bottle: true, poured_from_bottle: false, time: 1795000000 }),
      },
    };
  });
  const ref = manifestTag(f);
  upstream.addManifest(image, ref, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests, annotations: { 'org.opencontainers.image.ref.name': ref } })));
  return { ...f, files };
}

/** A formula.jws.json entry about as large as upstream's (4.4 KB). */
function formulaEntry(f: Formula, root: string): object {
  const filler = (n: number) => 'lorem ipsum dolor sit amet '.repeat(n).trim();
  return {
    name: f.name,
    full_name: f.name,
    tap: 'homebrew/core',
    oldnames: [],
    aliases: [],
    versioned_formulae: [],
    desc: filler(2),
    license: 'MIT',
    homepage: `https://example.org/${f.name}`,
    versions: { stable: f.version, head: 'HEAD', bottle: true },
    urls: { stable: { url: `https://example.org/${f.name}-${f.version}.tar.gz`, tag: null, revision: null, using: null, checksum: randomBytes(32).toString('hex') }, head: { url: `https://github.com/example/${f.name}.git`, branch: 'main', using: null } },
    revision: f.revision,
    version_scheme: 0,
    compatibility_version: null,
    autobump: true,
    no_autobump_message: null,
    skip_livecheck: false,
    bottle: { stable: { rebuild: f.rebuild, root_url: root, files: Object.fromEntries(Object.entries(f.files).map(([tag, sha256]) => [tag, { cellar: ':any_skip_relocation', url: `${root}/${imageName(f.name)}/blobs/sha256:${sha256}`, sha256 }])) } },
    pour_bottle_only_if: null,
    keg_only: false,
    keg_only_reason: null,
    options: [],
    build_dependencies: ['pkgconf', 'cmake'],
    dependencies: f.deps,
    test_dependencies: [],
    recommended_dependencies: [],
    optional_dependencies: [],
    uses_from_macos: [{ zlib: 'build' }, 'curl'],
    uses_from_macos_bounds: [{}, {}],
    requirements: [],
    conflicts_with: [],
    conflicts_with_reasons: [],
    link_overwrite: [],
    caveats: filler(2),
    installed: [],
    linked_keg: null,
    pinned: false,
    outdated: false,
    deprecated: false,
    deprecation_date: null,
    deprecation_reason: null,
    deprecation_replacement_formula: null,
    deprecation_replacement_cask: null,
    disabled: false,
    disable_date: null,
    disable_reason: null,
    post_install_defined: false,
    service: null,
    tap_git_head: randomBytes(20).toString('hex'),
    ruby_source_path: `Formula/${f.name[0]}/${f.name}.rb`,
    ruby_source_checksum: { sha256: randomBytes(32).toString('hex') },
    head_dependencies: { build_dependencies: ['autoconf', 'automake'], dependencies: f.deps, test_dependencies: [], recommended_dependencies: [], optional_dependencies: [], uses_from_macos: ['zlib'], uses_from_macos_bounds: [{}] },
    variations: Object.fromEntries(TAGS.slice(4).map((tag) => [tag, { dependencies: [...f.deps, 'gettext'], build_dependencies: ['pkgconf'], uses_from_macos: ['zlib', 'curl', 'libxml2'], caveats: filler(1) }])),
    analytics: { install: { '30d': { [f.name]: 1234 }, '90d': { [f.name]: 3456 }, '365d': { [f.name]: 12345 } } },
  };
}

/** Publishes the signed API for `formulae` on the fixture's API origin; returns the formula.jws.json size. */
function publish(upstream: FixtureUpstream, formulae: Formula[]): number {
  const formulaFile = signApiFile(JSON.stringify(formulae.map((f) => formulaEntry(f, upstream.registryRoot))), key.privateKey);
  upstream.setApiFile('formula.jws.json', formulaFile);
  upstream.setApiFile('cask.jws.json', signApiFile(JSON.stringify([{ token: 'firefox' }]), key.privateKey));
  upstream.setApiFile('formula_tap_migrations.jws.json', signApiFile('{}', key.privateKey));
  upstream.setApiFile('cask_tap_migrations.jws.json', signApiFile('{}', key.privateKey));
  for (const tag of TAGS) {
    const packages: Record<string, object> = {};
    for (const f of formulae) {
      const own = f.files[tag];
      const sha = own ?? f.files.all;
      if (!sha) continue;
      packages[f.name] = {
        desc: 'lorem ipsum dolor',
        ruby_source_checksum: randomBytes(32).toString('hex'),
        stable_dependencies: f.deps,
        stable_version: f.version,
        ...(f.revision ? { revision: f.revision } : {}),
        ...(f.rebuild ? { bottle_rebuild: f.rebuild } : {}),
        ...(own ? {} : { bottle_tag: ':all' }),
        bottle_cellar: ':any',
        bottle_checksum: sha,
      };
    }
    upstream.setApiFile(`internal/packages.${tag}.jws.json`, signApiFile(JSON.stringify({ metadata: { homebrew_version: '6.0.18', bottle_tag: tag, generated_at: 1795000000 }, formulae: packages }), key.privateKey));
  }
  return formulaFile.length;
}

/**
 * `bottles …` as a user runs it: the executable bundle through its shebang
 * (`#!/usr/bin/env -S node --max-semi-space-size=4`, the node on PATH, which
 * npm puts first: Node.js 22). With BENCH_NODE_ARGS, `node <flags> bundle` instead.
 */
function launch(args: string[]): ChildProcessWithoutNullStreams {
  return NODE_ARGS.length > 0 ? spawn(process.execPath, [...NODE_ARGS, binary, ...args]) : spawn(binary, args);
}

interface Measured {
  code: number | null;
  seconds: number;
  peakMiB: number;
  /** The largest peak RSS of any process the command started (git, in the brew phase). */
  childPeakMiB: number;
  stdout: string;
  stderr: string;
}

/** Runs `bottles …` and samples its peak RSS (VmHWM) until it exits. */
function run(args: string[]): Promise<Measured> {
  const started = process.hrtime.bigint();
  const proc = launch(args);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  let peak = 0;
  let childPeak = 0;
  const sample = setInterval(() => {
    peak = Math.max(peak, hwm(proc));
    for (const pid of descendants(proc.pid!)) childPeak = Math.max(childPeak, hwmOf(pid));
  }, 25);
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      clearInterval(sample);
      resolve({ code, seconds: Number(process.hrtime.bigint() - started) / 1e9, peakMiB: peak / 1048576, childPeakMiB: childPeak / 1048576, stdout, stderr });
    }),
  );
}

/** Every live process below `pid` (git and the helpers it starts). */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

function hwm(proc: ChildProcess, field = 'VmHWM'): number {
  return hwmOf(proc.pid!, field);
}

function hwmOf(pid: number, field = 'VmHWM'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0; // exited between samples
  }
}

function get(port: number, requestPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .request({ host: '127.0.0.1', port, path: requestPath, method, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject)
      .end();
  });
}

/** `bottles serve` on the synced store: RSS once it has served the API (plain and gzip), packages files, manifests and bottles. */
async function measureServe(formulae: Formula[]): Promise<{ rssMiB: number; peakMiB: number; startSeconds: number }> {
  const started = process.hrtime.bigint();
  const proc = launch(['serve', '--store', store, '--port', '0', '--rate-limit', '1000000', '--burst', '1000000']);
  proc.stderr.resume();
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    proc.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  const startSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const statuses: number[] = [];
    statuses.push(await get(port, '/api/formula.jws.json'), await get(port, '/api/formula.jws.json', { 'accept-encoding': 'gzip' }));
    for (const tag of TAGS) statuses.push(await get(port, `/api/internal/packages.${tag}.jws.json`, { 'accept-encoding': 'gzip' }));
    for (const f of formulae.slice(0, 200)) {
      const [tag] = Object.keys(f.files);
      const flat = `${f.name}-${pkgVersion(f.version, f.revision)}.${tag}.bottle${f.rebuild ? `.${f.rebuild}` : ''}.tar.gz`;
      statuses.push(await get(port, `/bottles/${encodeURIComponent(flat)}`));
      statuses.push(await get(port, `/v2/homebrew/core/${imageName(f.name)}/manifests/${manifestTag(f)}`));
    }
    const bad = statuses.filter((s) => s !== 200);
    if (bad.length > 0) throw new Error(`serve answered ${bad.length} requests with ${[...new Set(bad)].join(', ')}`);
    return { rssMiB: hwm(proc, 'VmRSS') / 1048576, peakMiB: hwm(proc) / 1048576, startSeconds };
  } finally {
    proc.kill('SIGKILL');
  }
}

function syncArgs(...extra: string[]): string[] {
  const brewArgs = ['--brew-git-url', brewGit!.url, '--registry-url', new URL(upstream!.registryRoot).origin, '--install-script-url', `${upstream!.apiRoot}/install.sh`];
  return ['sync', '--store', store, '--api-url', upstream!.apiRoot, '--public-key', pemFile, '--concurrency', '32', ...brewArgs, '--json', ...extra];
}

let upstream: FixtureUpstream | undefined;
let brewGit: GitUpstream | undefined;

/** Three brew releases, each pinning its own Ruby for four platforms, as brew's vendor files do. */
function brewReleases(git: GitUpstream, registry: FixtureUpstream): PortableRubyPin[] {
  let pins: PortableRubyPin[] = [];
  const platforms: [string, string][] = [['arm64-darwin', 'arm64_big_sur'], ['x86_64-darwin', 'catalina'], ['arm64-linux', 'arm64_linux'], ['x86_64-linux', 'x86_64_linux']];
  for (const [i, version] of ['6.0.16', '6.0.17', '6.0.18'].entries()) {
    pins = platforms.map(([platform, rubyTag]) => {
      const bytes = randomBytes(RUBY_BYTES);
      registry.addBlob('portable-ruby', bytes);
      return { platform, rubyTag, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
    git.release(version, `4.0.${4 + i}`, pins);
  }
  registry.setApiFile('install.sh', Buffer.from(`#!/bin/bash\n# install.sh stand-in\n${'# '.repeat(20_000)}\n`));
  return pins;
}

function line(figure: string, value: string, budget: string, ok?: boolean): void {
  console.log(`${figure.padEnd(44)}${value.padStart(16)}   ${budget.padEnd(12)}${ok === undefined ? '' : ok ? 'within' : 'OVER'}`);
}

async function main(): Promise<void> {
  // The bundle `npm run build` makes, shebang included.
  const banner = /--banner:js='([^']+)'/.exec(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')).scripts.build)![1];
  buildSync({ entryPoints: [path.resolve(__dirname, '../cli/bottles.ts')], bundle: true, platform: 'node', target: 'node22', outfile: binary, logLevel: 'silent', banner: { js: banner } });
  fs.chmodSync(binary, 0o755);
  fs.writeFileSync(pemFile, key.publicKey.export({ type: 'spki', format: 'pem' }));
  upstream = await startFixtureUpstream();
  const formulae: Formula[] = [];
  for (let i = 0; i < FORMULAE; i++) {
    const onlyAll = i % 20 === 0;
    const f = { name: nameOf(i), version: `${1 + (i % 9)}.${i % 17}.${i % 5}`, revision: i % 11 === 0 ? 1 : 0, rebuild: i % 13 === 0 ? 1 : 0, deps: i > 10 ? [nameOf(i - 1), nameOf(i - 7)] : [] };
    formulae.push(addFormula(upstream, f, onlyAll ? ['all'] : TAGS));
  }
  brewGit = await startGitUpstream({ history: BREW_HISTORY });
  const newestPins = brewReleases(brewGit, upstream);
  const formulaBytes = publish(upstream, formulae);
  const bottles = formulae.reduce((n, f) => n + Object.keys(f.files).length, 0);
  const packagesBytes = upstream.apiFile(`internal/packages.${TAGS[0]}.jws.json`)!.length;
  console.log(`catalogue: ${FORMULAE} formulae, ${bottles} bottles, ${TAGS.length} tags + all; formula.jws.json ${(formulaBytes / 1e6).toFixed(1)} MB, packages file ${(packagesBytes / 1e6).toFixed(2)} MB`);
  console.log(`${'figure'.padEnd(44)}${'measured'.padStart(16)}   budget`);

  const dry = await run(syncArgs('--dry-run'));
  if (dry.code !== 0) throw new Error(`dry run failed: ${dry.stderr}`);
  line('planning alone (sync --dry-run) peak RSS', `${dry.peakMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.planRss} MB`, dry.peakMiB * 1.048576 <= BUDGETS.planRss);

  if (process.env.BENCH_DRY_ONLY) return;
  const initial = await run(syncArgs());
  if (initial.code !== 0) throw new Error(`initial sync failed: ${initial.stderr}${initial.stdout}`);
  line('initial sync: time', `${initial.seconds.toFixed(1)} s`, '');
  line('initial sync: peak RSS', `${initial.peakMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.syncRss} MB`, initial.peakMiB * 1.048576 <= BUDGETS.syncRss);
  const brew = JSON.parse(initial.stdout).brew;
  line('initial sync: brew.git tags, Ruby releases', `${brew.tags}, ${brew.releases.length}`, '3, 3', brew.tags === 3 && brew.releases.length === 3);
  line('initial sync: git peak RSS (largest process)', `${initial.childPeakMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.gitRss} MB`, initial.childPeakMiB * 1.048576 <= BUDGETS.gitRss);

  const before = upstream.requests.length;
  const noop = await run(syncArgs());
  const requests = upstream.requests.length - before;
  if (noop.code !== 0) throw new Error(`no-op resync failed: ${noop.stderr}`);
  line('no-op resync: time', `${noop.seconds.toFixed(2)} s`, `≤ ${BUDGETS.noopSeconds} s`, noop.seconds <= BUDGETS.noopSeconds);
  line('no-op resync: upstream requests', String(requests), `≤ ${BUDGETS.noopRequests}`, requests <= BUDGETS.noopRequests);
  line('no-op resync: published', JSON.parse(noop.stdout).published ? 'yes' : 'no (unchanged)', 'no');

  // One formula in 75 changes (a new version, new bottles).
  for (let i = 0; i < formulae.length; i += 75) {
    const f = formulae[i];
    formulae[i] = addFormula(upstream, { ...f, version: `${f.version}.1` }, Object.keys(f.files));
  }
  publish(upstream, formulae);
  // A week of brew: a few commits and a new release.
  for (let i = 0; i < 50; i++) brewGit.commit(`Library/Homebrew/week/change-${i}.rb`, `# ${i}\n`);
  brewGit.release('6.0.19', '4.0.6', newestPins); // same Ruby as 6.0.18: nothing new to fetch
  const incremental = await run(syncArgs());
  if (incremental.code !== 0) throw new Error(`incremental sync failed: ${incremental.stderr}`);
  const summary = JSON.parse(incremental.stdout);
  line('incremental resync (1 in 75 changed): time', `${incremental.seconds.toFixed(1)} s`, '');
  line('incremental resync: bottles copied', String(summary.bottles.transferred), '');
  line('incremental resync: peak RSS', `${incremental.peakMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.syncRss} MB`, incremental.peakMiB * 1.048576 <= BUDGETS.syncRss);
  line('incremental resync: git peak RSS', `${incremental.childPeakMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.gitRss} MB`, incremental.childPeakMiB * 1.048576 <= BUDGETS.gitRss);

  const serve = await measureServe(formulae);
  line('bottles serve: RSS serving the generation', `${serve.rssMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.serveRss} MB`, serve.rssMiB * 1.048576 <= BUDGETS.serveRss);
  line('bottles serve: peak RSS', `${serve.peakMiB.toFixed(0)} MiB`, '');
  line('bottles serve: start to listening', `${serve.startSeconds.toFixed(1)} s`, '');
}

export { addFormula, nameOf, publish, TAGS, key };
export type { Formula };

if (require.main === module) void main()
  .catch((error) => {
    console.error(`bench:scale failed: ${(error as Error).message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await upstream?.close();
    await brewGit?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });
