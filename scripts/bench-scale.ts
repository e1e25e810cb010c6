/**
 * A Homebrew-size catalogue (issue #13). Prints each figure next to its budget; asserts nothing.
 *
 *   npm run bench:scale [-- --formulae 7500]
 *
 * Environment: BENCH_NODE_ARGS=<flags> runs the bundle under `node <flags>`
 * instead of its shebang; BENCH_DRY_ONLY=1 stops after the planning figure.
 *
 * The catalogue (scripts/bench-support/catalogue.ts): 7,500 formulae, about
 * 43,000 bottles over six tags plus `all`, a 33 MB `formula.jws.json`, and a
 * Homebrew/brew-size brew.git with three releases of portable Rubies. The
 * mirror runs as it ships (`dist/bottles.js`, built first), each command in
 * its own process, so its peak RSS (VmHWM) is its own. git runs as a child of
 * the sync: its peak RSS is sampled separately and printed beside the task's.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { imageName, manifestTag, pkgVersion } from '../engine/homebrew/bottle-names';
import { Catalogue, Formula, TAGS, addFormula, buildCatalogue, catalogueSyncArgs, publish } from './bench-support/catalogue';
import { Measured, buildBottles, hwm, launch, line, measure } from './bench-support/processes';

const flag = process.argv.indexOf('--formulae');
const FORMULAE = flag > 0 ? Number(process.argv[flag + 1]) : 7500;
const BUDGETS = { syncRss: 300, planRss: 200, serveRss: 150, noopSeconds: 5, noopRequests: 15, gitRss: 1024 };

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-scale-'));
const binary = path.join(work, 'bottles.js');
const store = path.join(work, 'store');
const pemFile = path.join(work, 'key.pem');

/** Runs `bottles …` and samples its peak RSS (VmHWM) until it exits. */
const run = (args: string[]): Promise<Measured> => measure(launch(binary, args));

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

/**
 * `bottles serve` on a synced store: RSS once it has served the API (plain and gzip), packages files,
 * manifests and bottles. With `--pull-through` on a partial mirror, those bottles and manifests are pulled.
 */
async function measureServe(formulae: Formula[], storeDir = store, extra: string[] = []): Promise<{ rssMiB: number; peakMiB: number; startSeconds: number }> {
  const started = process.hrtime.bigint();
  const proc = launch(binary, ['serve', '--store', storeDir, '--port', '0', '--rate-limit', '1000000', '--burst', '1000000', ...extra]);
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
  return [...catalogueSyncArgs(catalogue!, store, pemFile), ...extra];
}

let catalogue: Catalogue | undefined;

async function main(): Promise<void> {
  buildBottles(binary);
  catalogue = await buildCatalogue(FORMULAE);
  const { upstream, brewGit, formulae, newestPins, key, bottles, formulaBytes, packagesBytes } = catalogue;
  fs.writeFileSync(pemFile, key.publicKey.export({ type: 'spki', format: 'pem' }));
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
  publish(upstream, formulae, key);
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

  // Pull-through (issue #24): a one-formula mirror whose server holds every other bottle the signed API names.
  const partial = path.join(work, 'partial');
  const subset = await run(['sync', '--store', partial, '--api-url', upstream.apiRoot, '--public-key', pemFile, '--without-brew', '--json', '--formulae', formulae[500].name]);
  if (subset.code !== 0) throw new Error(`partial sync failed: ${subset.stderr}`);
  const pulling = await measureServe(formulae, partial, ['--pull-through', '--registry-url', new URL(upstream.registryRoot).origin]);
  line('serve --pull-through, 1-formula mirror: RSS', `${pulling.rssMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.serveRss} MB`, pulling.rssMiB * 1.048576 <= BUDGETS.serveRss);
  line('  (after pulling 200 bottles and 200 indexes)', `${pulling.peakMiB.toFixed(0)} MiB peak`, '');
}


if (require.main === module) void main()
  .catch((error) => {
    console.error(`bench:scale failed: ${(error as Error).message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await catalogue?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });
