import { mkdirSync, rmSync, writeFileSync } from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { LocalEnvironmentError, UsageError, errorKind } from '../engine/errors';
import { ALL_TAG, KNOWN_PLATFORM_TAGS } from '../engine/homebrew/platform-tags';
import { Logger, jsonLogger } from '../engine/logger';
import { SYNC_DEFAULTS } from '../engine/defaults';
import { SyncOptions, SyncSummary } from '../engine/sync/contracts';
import { DryRunReport, planRun } from '../engine/sync/dry-run';
import { runSync } from '../engine/sync/run-sync';
import { DEFAULT_ROUTING } from '../engine/sync/route';
import { DEFAULT_UPSTREAM_LIMITS, UPSTREAM_LIMIT_ENV, Upstream } from '../engine/upstream/client';
import { localSyncDeps } from '../engine/wiring/local';
import { BrewMirrorOptions } from '../engine/brew/mirror-brew';
import type { Io } from './io';
import { parseTapList } from '../engine/taps/tap-names';
import { withBrewfiles } from './brewfile-option';
import { policyOption } from './policy-option';
import { LIMITS, glueNegativeValues, integerOption, numberOption, publicKeyOption } from './options';
import { ProgressMeter, formatBytes } from './progress';

export const SYNC_USAGE = `usage: bottles sync --store DIR [--tags TAG,...] [--formulae NAME,...] [--casks TOKEN,... [--allow-unpinned-casks TOKEN,...]] [--without-all] [--dry-run] [--api-url URL]
                   [--brewfile PATH ...] [--taps USER/REPO[=URL],... --public-url URL] [--policy FILE]
                   [--public-key PEM] [--allow-http] [--concurrency N] [--max-missing PCT] [--max-drop PCT] [--force]
                   [--without-brew | --brew-git-url URL --brew-releases N --registry-url URL --install-script-url URL]
                   [--json] [--verbose]`;

export const SYNC_HELP = `${SYNC_USAGE}

Mirrors Homebrew's signed API and the bottles it names into DIR. The new API
is served only once every bottle it names is stored (all or nothing).

  --store DIR         the mirror directory (created if missing)
  --tags TAG,...      platform tags to mirror (default: every tag upstream has).
                      Known: ${KNOWN_PLATFORM_TAGS.join(', ')}, ${ALL_TAG}
  --without-all       with --tags: leave out the \`all\` bottles those platforms
                      fall back to (default: included, brew needs them)
  --formulae NAME,... a partial mirror: only these formulae and their runtime
                      dependencies, per tag (from the packages files); the API
                      files are still mirrored whole, other bottles are 404
  --casks TOKEN,...   also mirror these casks, with the casks and formulae they depend on,
                      for every mirrored tag, each file verified against the sha256 in that
                      tag's signed packages file (default: no cask; a whole cask mirror is
                      many terabytes). A cask that cannot be mirrored is named, not fatal
  --allow-unpinned-casks TOKEN,...  mirror these sha256 :no_check casks unverified (refused
                      otherwise: Homebrew signs no checksum for them)
  --brewfile PATH     a Brewfile as the selection (repeatable, adds to --formulae, --casks and
                      --taps): its brew, cask and tap entries, for every platform; entries the
                      mirror cannot serve (mas, vscode, go, ...) are listed, not fatal
  --taps USER/REPO[=URL],...  third-party taps (default URL https://github.com/USER/homebrew-REPO):
                      each repository is mirrored, every download its formulae and casks name
                      for any platform is fetched and checked against its sha256, and a
                      rewritten copy that points brew at the mirror is served at
                      <public-url>/taps/USER/REPO.git
  --public-url URL    the mirror's URL as clients reach it; needed with taps (the rewritten
                      taps name it)
  --policy FILE       the fleet's policy in brew.env's syntax (HOMEBREW_FORBIDDEN_FORMULAE,
                      _CASKS, _LICENSES, _TAPS, HOMEBREW_ALLOWED_TAPS): what it forbids is not
                      mirrored, and a selection that asks for it is told on stderr
  --dry-run           verify the API and print what a run would transfer (bottles
                      and bytes per tag) and where it would run in AWS; change nothing
  --api-url URL       where the signed API comes from (default: ${SYNC_DEFAULTS.apiUrl})
  --public-key PEM    key the API must be signed with (default: Homebrew's homebrew-1)
  --allow-http        allow plain http to hosts other than loopback (default: https
                      only, redirects included; link-local and metadata addresses never)
  --concurrency N     parallel downloads, ${LIMITS.concurrency.min}-${LIMITS.concurrency.max} (default: ${LIMITS.concurrency.default})
  --max-missing PCT   share of bottles that may be permanently missing (upstream
                      404, digest mismatch) and still publish, 0-100 (default: ${LIMITS.maxMissingPercent.default})
  --max-drop PCT      largest share of the published generation's bottles a new API may
                      drop and still publish, 0-100 (default: ${LIMITS.maxDropPercent.default}); a wrong or empty
                      signed file is refused instead of wiping the mirror
  --without-brew      mirror only the API and bottles; leave out brew itself (by default
                      brew.git, the portable Rubies of its newest releases and the install
                      script are mirrored too, so a machine with no other way out can install,
                      update and run brew; mirroring brew.git needs the git CLI)
  --brew-git-url URL  Homebrew/brew's repository (default: ${SYNC_DEFAULTS.brewGitUrl})
  --brew-releases N   newest brew release tags whose pinned portable Rubies are mirrored,
                      ${LIMITS.brewReleases.min}-${LIMITS.brewReleases.max} (default: ${LIMITS.brewReleases.default})
  --registry-url URL  registry root portable Ruby comes from (default: ${SYNC_DEFAULTS.registryUrl})
  --install-script-url URL  Homebrew/install's script (default: ${SYNC_DEFAULTS.installScriptUrl})
  --force             publish whatever the drop (same as --max-drop 100), and a packages file
                      older than the published one's (a replay, refused otherwise)
  --json              print one JSON summary line on stdout
  --verbose           JSON logs on stderr

Ctrl-C (or SIGTERM) stops cleanly: no new bottle starts, downloads in flight
are ended, staged files are removed and the run is recorded as interrupted.
A sync that finds the lease of one that died (same host, process gone, or no
progress for 60 s) takes it over and records the dead run as abandoned.

Upstream limits, set in the environment (default):
${Object.entries(UPSTREAM_LIMIT_ENV).map(([field, variable]) => `  ${variable} (${DEFAULT_UPSTREAM_LIMITS[field as keyof typeof UPSTREAM_LIMIT_ENV]})`).join('\n')}

Exit codes: 0 published, or upstream unchanged (nothing to publish); 1 the run failed, nothing new was published and the
previous generation stays served; 2 usage, configuration or local error;
130 interrupted by Ctrl-C (143 by SIGTERM).`;

const VALUE_OPTIONS = ['store', 'api-url', 'tags', 'formulae', 'casks', 'allow-unpinned-casks', 'brewfile', 'taps', 'public-url', 'policy', 'public-key', 'concurrency', 'max-missing', 'max-drop', 'brew-git-url', 'brew-releases', 'registry-url', 'install-script-url'];

export async function syncCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: glueNegativeValues(args, VALUE_OPTIONS),
    strict: true,
    options: {
      store: { type: 'string' },
      'api-url': { type: 'string' },
      tags: { type: 'string' },
      formulae: { type: 'string' },
      casks: { type: 'string' },
      'allow-unpinned-casks': { type: 'string' },
      brewfile: { type: 'string', multiple: true },
      taps: { type: 'string' },
      'public-url': { type: 'string' },
      policy: { type: 'string' },
      'without-all': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'public-key': { type: 'string' },
      'allow-http': { type: 'boolean' },
      concurrency: { type: 'string' },
      'max-missing': { type: 'string' },
      'max-drop': { type: 'string' },
      force: { type: 'boolean' },
      'without-brew': { type: 'boolean' },
      'brew-git-url': { type: 'string' },
      'brew-releases': { type: 'string' },
      'registry-url': { type: 'string' },
      'install-script-url': { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(`${SYNC_HELP}\n`);
    return 0;
  }
  if (!values.store) throw new UsageError('--store DIR is required');
  const { apiUrl, tags, concurrency, maxMissingPercent, maxDropPercent, force, publicKey, brew, ...chosen } = runOptions(values);
  const { formulae, casks, allowUnpinnedCasks, taps, publicUrl, unserved } = await withBrewfiles(chosen, values.brewfile ?? []);

  const root = path.resolve(values.store);
  if (!values['dry-run']) requireWritableStore(root);
  const log = jsonLogger({ service: 'bottles-sync' }, values.verbose ? (line) => io.stderr(`${line}\n`) : () => undefined);
  const options = { apiUrl, tags, formulae, casks, allowUnpinnedCasks, taps, publicUrl, notServed: unserved, policy: policyOption(values.policy), allFallback: !values['without-all'], publicKey, concurrency, maxMissingPercent, maxDropPercent, force, brew };
  // One line each, whatever the outcome: a Brewfile entry the mirror cannot serve is the operator's to know.
  for (const entry of unserved) io.stderr(`  brewfile ${entry.file}${entry.line ? `:${entry.line}` : ''}: ${entry.type} ${JSON.stringify(entry.name)} is not served by the mirror\n`);
  const plainHttp = values['allow-http'] ? 'any' : 'loopback';
  const upstream = new Upstream({ plainHttp });
  if (values['dry-run']) return dryRun(root, options, log, io, Boolean(values.json), upstream);
  const showProgress = io.isTty && !values.json;
  const meter = new ProgressMeter((line) => io.stderr(`\r${line}\u001b[K`));
  // Ctrl-C or SIGTERM stops the run cleanly: transfers end, staged files go, the lease is released.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let summary: SyncSummary;
  try {
    summary = await runSync(
      { ...localSyncDeps(root, { log, upstream, onProgress: showProgress ? (p) => meter.update(p) : undefined }), brewPhase: { plainHttp } },
      { ...options, signal: interrupt.signal },
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (showProgress) io.stderr('\n');
  if (summary.interrupted) {
    report(summary, io, { json: Boolean(values.json), customKey: false });
    return interrupt.signal.reason === 'SIGTERM' ? 143 : 130; // 128 + the signal's number, as shells report it
  }
  if (summary.errorKind === 'usage') throw new UsageError(summary.error ?? 'invalid request');
  if (summary.errorKind === 'local-environment') throw new LocalEnvironmentError(summary.error ?? 'the store refused a write');
  report(summary, io, { json: Boolean(values.json), customKey: values['public-key'] !== undefined });
  return summary.published || summary.unchanged ? 0 : 1;
}

/** The summary: JSON on stdout, or a line on stdout when published and on stderr when not. */
function report(summary: SyncSummary, io: Io, options: { json: boolean; customKey: boolean }): void {
  const hint =
    summary.errorKind === 'verification' && !options.customKey
      ? ' (the API must be signed by Homebrew\'s homebrew-1 key; a mirror of files signed with another key needs --public-key PEM)'
      : '';
  if (options.json) {
    const { runId, published, generation, bottles, bytes, failures, error, unchanged, brew, casks, taps } = summary;
    const outcome = published ? {} : unchanged ? { unchanged: true } : { error: `${error}${hint}` };
    const refusedByPolicy = summary.refusedByPolicy;
    io.stdout(`${JSON.stringify({ runId, published, generation: generation ?? null, bottles, bytes, failures, ...(brew ? { brew } : {}), ...(casks ? { casks } : {}), ...(taps ? { taps } : {}), ...(refusedByPolicy ? { refusedByPolicy } : {}), ...outcome })}\n`);
    for (const f of casks?.failures ?? []) io.stderr(`  cask ${f.token} ${f.tag} not mirrored: ${f.reason}\n`);
    for (const f of taps?.failures ?? []) io.stderr(`  tap ${f.name} not mirrored: ${f.reason}\n`);
    for (const r of summary.refusedByPolicy ?? []) io.stderr(`  policy: ${r.kind} ${r.name} not mirrored: ${r.reason}\n`);
    return;
  }
  const b = summary.bottles;
  if (summary.unchanged) {
    io.stdout(`upstream unchanged since generation ${summary.generation}: all ${b.skipped} bottles present, nothing published\n`);
  } else if (summary.published) {
    io.stdout(`published generation ${summary.generation}: ${b.transferred} transferred (${formatBytes(summary.bytes.transferred)}), ${b.skipped} already present, ${b.failed} failed\n`);
  } else {
    io.stderr(`bottles: nothing new published: ${summary.error}${hint}\n`);
  }
  for (const f of summary.failures) io.stderr(`  failed ${f.name} ${f.tag}: ${f.reason}\n`);
  if (summary.brew) {
    const { branch } = summary.brew;
    const releases = summary.brew.releases.length > 0 ? summary.brew.releases.map((r) => (r === branch ? `${r} (default branch head)` : r)).join(', ') : 'none';
    io.stdout(`brew: brew.git at ${summary.brew.head.slice(0, 12)} (${summary.brew.tags} tags); portable Ruby for releases ${releases}\n`);
    for (const f of summary.brew.failures) io.stderr(`  brew ${f.release} (${f.platform}) not covered: ${f.reason}\n`);
  }
  if (summary.casks) {
    const { files, downloaded, failures } = summary.casks;
    io.stdout(`casks: ${files} files served, ${downloaded.files} downloaded (${formatBytes(downloaded.bytes)}), ${failures.length} not mirrored\n`);
    for (const f of failures) io.stderr(`  cask ${f.token} ${f.tag} not mirrored: ${f.reason}\n`);
  }
  for (const r of summary.refusedByPolicy ?? []) io.stderr(`  policy: ${r.kind} ${r.name} not mirrored: ${r.reason}\n`);
  if (summary.taps) {
    const { taps, mirrored, downloaded, failures } = summary.taps;
    io.stdout(`taps: ${taps} served, ${mirrored} formulae and casks mirrored, ${downloaded.files} files downloaded (${formatBytes(downloaded.bytes)}), ${failures.length} not mirrored\n`);
    for (const f of failures) io.stderr(`  tap ${f.name} not mirrored: ${f.reason}\n`);
  }
}

/** `--dry-run`: the plan, per tag and in total, and the AWS route; exit 0, or 1 when the API cannot be verified. */
async function dryRun(root: string, options: SyncOptions, log: Logger, io: Io, json: boolean, upstream: Upstream): Promise<number> {
  let report: DryRunReport;
  try {
    report = await planRun(localSyncDeps(root, { log, upstream }), options, DEFAULT_ROUTING);
  } catch (error) {
    if (errorKind(error) === 'usage') throw error;
    io.stderr(`bottles: dry run failed: ${(error as Error).message}\n`);
    return 1;
  }
  if (json) {
    io.stdout(`${JSON.stringify({ dryRun: true, ...report })}\n`);
    return 0;
  }
  const t = report.total;
  const unknown = (n: number) => (n > 0 ? ` (+${n} of unknown size)` : '');
  const lines = [
    `dry run against ${root}: nothing was changed`,
    `${'tag'.padEnd(20)}${'bottles'.padStart(9)}${'to copy'.padStart(9)}${'bytes'.padStart(12)}`,
    ...report.tags.map((r) => `${r.tag.padEnd(20)}${String(r.bottles).padStart(9)}${String(r.toTransfer).padStart(9)}${formatBytes(r.bytes).padStart(12)}${unknown(r.unknownSizes)}`),
    `total: ${t.bottles} bottles in ${t.blobs} distinct blobs; ${t.alreadyStored} already stored; ${t.toTransfer} to copy, ${formatBytes(t.bytes)}${unknown(t.unknownSizes)}; ${t.orphans} stored blobs no longer wanted`,
    `in AWS (Lambda threshold ${formatBytes(DEFAULT_ROUTING.lambdaThresholdBytes)}): ${routeText(report.route)}`,
    ...report.failures.map((f) => `  cannot plan ${f.name} ${f.tag}: ${f.reason}`),
    ...(report.casks
      ? [
          `${'cask tag'.padEnd(20)}${'files'.padStart(9)}${'to copy'.padStart(9)}${'bytes'.padStart(12)}`,
          ...report.casks.tags.map((r) => `${r.tag.padEnd(20)}${String(r.files).padStart(9)}${String(r.toTransfer).padStart(9)}${formatBytes(r.bytes).padStart(12)}${unknown(r.unknownSizes)}`),
          ...report.casks.failures.map((f) => `  cask ${f.token} ${f.tag} would not be mirrored: ${f.reason}`),
        ]
      : []),
    ...(report.taps
      ? [
          `${'tap'.padEnd(20)}${'files'.padStart(9)}${'downloads'.padStart(11)}${'to copy'.padStart(9)}${'bytes'.padStart(12)}`,
          ...report.taps.taps.map((r) => `${r.tap.padEnd(20)}${String(r.files).padStart(9)}${String(r.downloads).padStart(11)}${String(r.toTransfer).padStart(9)}${formatBytes(r.bytes).padStart(12)}${unknown(r.unknownSizes)}`),
          ...report.taps.failures.map((f) => `  tap ${f.name} would not be mirrored: ${f.reason}`),
        ]
      : []),
  ];
  io.stdout(`${lines.join('\n')}\n`);
  return 0;
}

function routeText(route: DryRunReport['route']): string {
  if (route.kind === 'nothing') return 'nothing to copy; the orchestrator would publish at once';
  if (route.kind === 'lambda') return `worker Lambdas, ${route.batches} batch(es)`;
  return `the Fargate sync task (${route.reason})`;
}

/**
 * The store must be a directory this process can write (created if missing):
 * checked before the run starts, so a mistyped path or a read-only mount is
 * one clear line with exit 2, not an error from deep inside a run.
 */
export function requireWritableStore(root: string): void {
  const probe = path.join(root, `.write-probe-${process.pid}`);
  try {
    mkdirSync(root, { recursive: true });
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (error) {
    throw storeError(root, error as NodeJS.ErrnoException);
  }
}

export function storeError(root: string, error: NodeJS.ErrnoException): Error {
  if (error.code === 'EEXIST' || error.code === 'ENOTDIR') return new UsageError(`store ${root} is not a directory`);
  if (error.code === 'EROFS') return new LocalEnvironmentError(`store ${root} is on a read-only file system`);
  if (error.code === 'EACCES' || error.code === 'EPERM') return new LocalEnvironmentError(`store ${root} is not writable by this user (${error.code})`);
  if (error.code === 'ENOSPC' || error.code === 'EDQUOT') return new LocalEnvironmentError(`store ${root} has no space left (${error.code})`);
  return error;
}

/** The run's options from the parsed flags, each checked against its limits (a bad one is a usage error). */
function runOptions(values: Record<string, string | string[] | boolean | undefined>) {
  const flag = (name: string) => values[name] as string | undefined;
  const apiUrl = flag('api-url') ?? SYNC_DEFAULTS.apiUrl;
  if (!/^https?:\/\//.test(apiUrl)) throw new UsageError(`--api-url must be an http(s) URL, not ${JSON.stringify(apiUrl)}`);
  const tags = flag('tags')?.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags && (tags.length === 0 || tags.some((t) => !/^[a-z0-9_]+$/.test(t)))) {
    throw new UsageError(`--tags must be a comma list of platform tags (known: ${[...KNOWN_PLATFORM_TAGS, ALL_TAG].join(', ')})`);
  }
  if (values['without-all'] && !tags) throw new UsageError('--without-all needs --tags');
  const formulae = flag('formulae')?.split(',').map((f) => f.trim()).filter(Boolean);
  if (formulae && (formulae.length === 0 || formulae.some((f) => !/^[A-Za-z0-9@+._-]{1,128}$/.test(f)))) {
    throw new UsageError('--formulae must be a comma list of formula names (letters, digits and @+._-)');
  }
  const tokens = (name: string) => {
    const list = flag(name)?.split(',').map((t) => t.trim()).filter(Boolean);
    if (list && (list.length === 0 || list.some((t) => !/^[a-z0-9][a-z0-9@._+-]{0,127}$/.test(t)))) throw new UsageError(`--${name} must be a comma list of cask tokens (lower-case letters, digits and @._+-)`);
    return list;
  };
  const casks = tokens('casks');
  const allowUnpinnedCasks = tokens('allow-unpinned-casks');
  if (allowUnpinnedCasks && !casks) throw new UsageError('--allow-unpinned-casks needs --casks');
  const concurrency = integerOption(flag('concurrency'), '--concurrency', LIMITS.concurrency);
  const maxMissingPercent = numberOption(flag('max-missing'), '--max-missing', LIMITS.maxMissingPercent);
  if (values.force && flag('max-drop') !== undefined) throw new UsageError('--force and --max-drop exclude each other');
  const maxDropPercent = values.force ? 100 : numberOption(flag('max-drop'), '--max-drop', LIMITS.maxDropPercent);
  const publicKey = publicKeyOption(flag('public-key'));
  const taps = flag('taps') === undefined ? undefined : parseTapList(flag('taps')!);
  const publicUrl = flag('public-url');
  if (publicUrl !== undefined && !/^https?:\/\/[^\s?#]+$/.test(publicUrl)) throw new UsageError(`--public-url must be an http(s) URL without query, not ${JSON.stringify(publicUrl)}`);
  return { apiUrl, tags, formulae, casks, allowUnpinnedCasks, taps, publicUrl, concurrency, maxMissingPercent, maxDropPercent, force: values.force === true, publicKey, brew: brewOptions(values) };
}

/** brew itself, unless `--without-brew`: each URL checked like `--api-url`. */
function brewOptions(values: Record<string, string | string[] | boolean | undefined>): BrewMirrorOptions | undefined {
  const flag = (name: string) => values[name] as string | undefined;
  const named = ['brew-git-url', 'brew-releases', 'registry-url', 'install-script-url'].filter((name) => flag(name) !== undefined);
  if (values['without-brew']) {
    if (named.length > 0) throw new UsageError(`--without-brew and --${named[0]} exclude each other`);
    return undefined;
  }
  const url = (name: string, fallback: string) => {
    const value = flag(name) ?? fallback;
    if (!/^https?:\/\/[^\s]+$/.test(value)) throw new UsageError(`--${name} must be an http(s) URL, not ${JSON.stringify(value)}`);
    return value;
  };
  return {
    gitUrl: url('brew-git-url', SYNC_DEFAULTS.brewGitUrl),
    registryUrl: url('registry-url', SYNC_DEFAULTS.registryUrl),
    installScriptUrl: url('install-script-url', SYNC_DEFAULTS.installScriptUrl),
    releases: integerOption(flag('brew-releases'), '--brew-releases', LIMITS.brewReleases),
  };
}
