/**
 * Export and import of a Homebrew-size generation (issue #23). Prints each
 * figure next to its budget or its standard-tool baseline; asserts nothing.
 *
 *   npm run bench:transfer [-- --formulae 7500 --bytes-formulae 150 --bottle-mib 2.5]
 *
 * Two profiles, one after the other in the same run, because a Homebrew-size
 * generation is large in two ways that this VM cannot hold at once:
 * - count: the scale catalogue (scripts/bench-support/catalogue.ts: 43,000
 *   bottles of 48 bytes, a 33 MB formula.jws.json, a Homebrew/brew-size
 *   brew.git and twelve portable Rubies), then a week's `--since` bundle;
 *   the cost here is one file per bottle;
 * - bytes: 150 formulae with bottles of 2.5 MiB (about 860 bottles, 2.4 GB
 *   with brew.git and the Rubies), as Homebrew's bottles are megabytes; the
 *   cost here is hashing and copying bytes, which is where a real
 *   generation's time goes (hundreds of GB over 43,000 files).
 * Each is synced into one store, exported, and imported into an empty one,
 * by the bundled `bottles` run as a user runs it, each in its own process.
 *
 * Baselines, on the same bytes, right after the measured command (the page
 * cache is as warm for them as for it):
 * - import against `tar -xOf BUNDLE | sha256sum`: reading every entry and
 *   hashing it (the goal's baseline), and against `tar -x` writing every
 *   file to disk with `sha256sum` hashing the bundle beside it, which is the
 *   least a verifying import into a directory must do (tens of thousands of
 *   files: on a small VM's disk, creating them costs more than the bytes);
 * - export against `tar -cf OUT -C STORE <the bundle's files> && sync OUT`
 *   (the export, too, syncs its bundle to disk before it names it done).
 * BENCH_KEEP=1 keeps the stores and bundles (their directory is printed).
 *
 * Throughput is the bundle's bytes over the wall time; the ratio is the
 * command's throughput over the baseline's (goal ≥ 0.8× for import).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Catalogue, TAGS, addFormula, buildCatalogue, catalogueSyncArgs, publish } from './bench-support/catalogue';
import { Measured, buildBottles, launch, line, measure } from './bench-support/processes';

const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
/** The count profile: the scale catalogue, Homebrew's number of bottles (tiny ones). */
const FORMULAE = option('--formulae', 7500);
/** The byte profile: fewer formulae with bottles of Homebrew's typical size, so bytes dominate, not files. */
const BYTE_PROFILE = { formulae: option('--bytes-formulae', 150), bottleMiB: option('--bottle-mib', 2.5) };
/**
 * Ratios to the standard tools (issue #36 item 10): on the byte profile, where a real generation's
 * time goes, import ≥ 0.8× `tar -xO | sha256sum`; on the count profile, where the cost is one file
 * per bottle, import ≥ 0.6× `tar -x` to disk with `sha256sum` beside it, and export ≥ 0.3× `tar -c`
 * plus `sync`. A ratio is printed with OVER when it is under its budget.
 */
const BUDGETS = { rss: 300, importRatio: 0.8, countImportToDisk: 0.6, countExport: 0.3 };
/** `since`: a week's `--since` bundle of the count profile, whose time is the signed API's fixed cost: no ratio budget. */
type Profile = 'count' | 'since' | 'bytes';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-transfer-'));
const binary = path.join(work, 'bottles.js');
let source = path.join(work, 'source');
let target = path.join(work, 'target');
/** Each profile's catalogue signs with its own key: kept (BENCH_KEEP=1), each bundle stays checkable. */
let pemFile = path.join(work, 'count.pem');
let catalogue: Catalogue | undefined;

const bottles = (...args: string[]): Promise<Measured> => measure(launch(binary, args));
const shell = (script: string): Promise<Measured> => measure(spawn('bash', ['-o', 'pipefail', '-c', script]));

async function ok(what: string, running: Promise<Measured>): Promise<Measured> {
  const result = await running;
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stderr.trim()}${result.stdout.slice(0, 500)}`);
  return result;
}

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;
const rate = (bytes: number, seconds: number) => `${mbps(bytes, seconds).toFixed(0)} MB/s`;
const rss = (m: Measured) => m.peakMiB * 1.048576 <= BUDGETS.rss;

/** Exports `args` into `bundle`, then tars the same files with `tar -c`; prints both. */
async function measureExport(profile: Profile, label: string, bundle: string, ...args: string[]): Promise<{ bytes: number; generation: string }> {
  const exported = await ok(`${label} export`, bottles('export', '--store', source, '--out', bundle, '--json', ...args));
  const summary = JSON.parse(exported.stdout) as { bytes: number; generation: string; files: number; blobs: number };
  const list = path.join(work, `${label}.files`);
  const listing = await ok('tar -t', shell(`tar -tf '${bundle}'`));
  fs.writeFileSync(list, listing.stdout.split('\n').filter((name) => name && name !== 'bundle.json' && name !== 'SHA256SUMS').join('\n'));
  const copy = path.join(work, `${label}.baseline.tar`);
  const baseline = await ok('tar -c', shell(`tar -cf '${copy}' -C '${source}' -T '${list}' && sync '${copy}'`));
  fs.rmSync(copy);
  line(`${label} export: bundle`, `${(summary.bytes / 1e6).toFixed(0)} MB`, `${summary.files} files, ${summary.blobs} blobs`);
  line(`${label} export: time (throughput)`, `${exported.seconds.toFixed(1)} s (${rate(summary.bytes, exported.seconds)})`, '');
  line(`${label} tar -c of the same files, synced`, `${baseline.seconds.toFixed(1)} s (${rate(summary.bytes, baseline.seconds)})`, '');
  const exportRatio = baseline.seconds / exported.seconds;
  if (profile === 'count') line(`${label} export throughput / tar -c + sync`, `${exportRatio.toFixed(2)}×`, `≥ ${BUDGETS.countExport}×`, exportRatio >= BUDGETS.countExport);
  else line(`${label} export throughput / tar -c + sync`, `${exportRatio.toFixed(2)}×`, '');
  line(`${label} export: peak RSS`, `${exported.peakMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.rss} MB`, rss(exported));
  return summary;
}

/** Imports `bundle` into the target store, then runs `tar -xOf | sha256sum` over it; prints both. */
async function measureImport(profile: Profile, label: string, bundle: string, bytes: number, generation: string): Promise<void> {
  const imported = await ok(`${label} import`, bottles('import', '--store', target, '--public-key', pemFile, '--json', bundle));
  const summary = JSON.parse(imported.stdout) as { generation: string; published: boolean };
  if (summary.generation !== generation || !summary.published) throw new Error(`${label} import published ${JSON.stringify(summary)}, not ${generation}`);
  const baseline = await ok('tar -x | sha256sum', shell(`tar -xOf '${bundle}' | sha256sum`));
  const extracted = path.join(work, `${label}.extracted`);
  fs.mkdirSync(extracted);
  const toDisk = await ok('tar -x to disk', shell(`tee >(sha256sum >/dev/null) < '${bundle}' | tar -x -C '${extracted}' && sync -f '${extracted}'`));
  fs.rmSync(extracted, { recursive: true });
  const ratio = baseline.seconds / imported.seconds;
  line(`${label} import: time (throughput)`, `${imported.seconds.toFixed(1)} s (${rate(bytes, imported.seconds)})`, '');
  line(`${label} tar -xO | sha256sum of the bundle`, `${baseline.seconds.toFixed(1)} s (${rate(bytes, baseline.seconds)})`, '');
  line(`${label} tar -x to disk, sha256sum beside it`, `${toDisk.seconds.toFixed(1)} s (${rate(bytes, toDisk.seconds)})`, '');
  const toDiskRatio = toDisk.seconds / imported.seconds;
  if (profile === 'count') {
    line(`${label} import throughput / tar -x to disk`, `${toDiskRatio.toFixed(2)}×`, `≥ ${BUDGETS.countImportToDisk}×`, toDiskRatio >= BUDGETS.countImportToDisk);
    line(`${label} import throughput / tar -xO | sha256sum`, `${ratio.toFixed(2)}×`, '');
  } else {
    line(`${label} import throughput / tar -x to disk`, `${toDiskRatio.toFixed(2)}×`, '');
    if (profile === 'bytes') line(`${label} import throughput / tar -xO | sha256sum`, `${ratio.toFixed(2)}×`, `≥ ${BUDGETS.importRatio}×`, ratio >= BUDGETS.importRatio);
    else line(`${label} import throughput / tar -xO | sha256sum`, `${ratio.toFixed(2)}×`, '');
  }
  line(`${label} import: peak RSS`, `${imported.peakMiB.toFixed(0)} MiB`, `≤ ${BUDGETS.rss} MB`, rss(imported));
}

/** Syncs `catalogue` into a fresh source store; returns the generation. */
async function syncCatalogue(label: string): Promise<string> {
  const { key } = catalogue!;
  fs.writeFileSync(pemFile, key.publicKey.export({ type: 'spki', format: 'pem' }));
  const synced = JSON.parse((await ok(`${label} sync`, bottles(...catalogueSyncArgs(catalogue!, source, pemFile)))).stdout) as { generation: string };
  return synced.generation;
}

/** The count profile: Homebrew's number of bottles, a full bundle and then a week's `--since` one. */
async function countProfile(): Promise<void> {
  catalogue = await buildCatalogue(FORMULAE);
  const { upstream, brewGit, formulae, newestPins, key } = catalogue;
  console.log(`count profile: ${FORMULAE} formulae, ${catalogue.bottles} bottles of ${catalogue.bottleBytes} bytes, ${TAGS.length} tags + all, brew.git and 12 portable Rubies`);
  const first = await syncCatalogue('count');
  console.log(`${'figure'.padEnd(44)}${'measured'.padStart(16)}   budget`);

  const full = await measureExport('count', 'full', path.join(work, 'full.tar'));
  if (full.generation !== first) throw new Error(`exported ${full.generation}, not the synced ${first}`);
  await measureImport('count', 'full', path.join(work, 'full.tar'), full.bytes, full.generation);

  // A week: one formula in 75 changes, brew gains 50 commits and a release.
  for (let i = 0; i < formulae.length; i += 75) formulae[i] = addFormula(upstream, { ...formulae[i], version: `${formulae[i].version}.1` }, Object.keys(formulae[i].files));
  publish(upstream, formulae, key);
  for (let i = 0; i < 50; i++) brewGit.commit(`Library/Homebrew/week/change-${i}.rb`, `# ${i}\n`);
  brewGit.release('6.0.19', '4.0.6', newestPins);
  await ok('weekly sync', bottles(...catalogueSyncArgs(catalogue, source, pemFile)));
  const weekly = await measureExport('since', '--since', path.join(work, 'weekly.tar'), '--since', full.generation);
  await measureImport('since', '--since', path.join(work, 'weekly.tar'), weekly.bytes, weekly.generation);
}

/** The byte profile: bottles of megabytes, where hashing and copying bytes cost more than creating files. */
async function byteProfile(): Promise<void> {
  catalogue = await buildCatalogue(BYTE_PROFILE.formulae, { bottleBytes: Math.round(BYTE_PROFILE.bottleMiB * 1024 ** 2) });
  console.log(`byte profile: ${BYTE_PROFILE.formulae} formulae, ${catalogue.bottles} bottles of ${BYTE_PROFILE.bottleMiB} MiB, brew.git and 12 portable Rubies`);
  source = path.join(work, 'bytes-source');
  target = path.join(work, 'bytes-target');
  pemFile = path.join(work, 'bytes.pem');
  const generation = await syncCatalogue('bytes');
  const full = await measureExport('bytes', 'bytes', path.join(work, 'bytes.tar'));
  if (full.generation !== generation) throw new Error(`exported ${full.generation}, not the synced ${generation}`);
  await measureImport('bytes', 'bytes', path.join(work, 'bytes.tar'), full.bytes, full.generation);
}

async function main(): Promise<void> {
  buildBottles(binary);
  await countProfile();
  await catalogue!.close();
  if (!process.env.BENCH_KEEP) for (const done of ['source', 'target', 'full.tar', 'weekly.tar']) fs.rmSync(path.join(work, done), { recursive: true, force: true });
  await byteProfile();
}

void main()
  .catch((error) => {
    console.error(`bench:transfer failed: ${(error as Error).message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await catalogue?.close();
    if (process.env.BENCH_KEEP) console.log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  });
