import { SYNC_DEFAULTS } from '../defaults';
import { encodeBottleIndex } from '../bottle-index';
import { WantedBottle } from '../homebrew/wanted-bottles';
import { ObjectStore, PublishedGeneration, RunFailure } from '../ports';
import { apiKey, bottleIndexKey, namedBottlesKey, runKeys, selectionRecordKey } from '../store-layout';
import { sha256Hex } from '../digest';
import { PhaseDeps, PreparedRun, RunManifest, SyncOptions, scopeOf } from './contracts';
import { mirrorManifests } from './manifests';
import { loadBrewRecord } from '../brew/brew-record';
import { brewChangeSince } from '../brew/brew-changes';
import { hasRetryableFailures, loadCaskRecord } from '../casks/cask-record';
import { recordedBlobs } from '../generation-records';
import { tapChangeSince } from '../taps/tap-changes';
import { UsageError } from '../errors';
import { selectionUnderPolicy } from '../policy/apply-policy';
import { positiveIntegersFromEnv } from '../runtime-config';
import { SyncPlan, TransferItem, planSync } from './plan';
import { refuseLargeDrop, refuseReplay, skippedFailures, verifyApi } from './verify';

/** True when `apiFiles` are exactly the published generation's files, mirrored with the same scope. */
function sameAsPublished(published: PublishedGeneration | undefined, apiFiles: ReadonlyMap<string, Buffer>, scope: string): boolean {
  if (published?.scope !== scope) return false;
  const digests = published?.fileDigests;
  if (!digests || Object.keys(digests).length !== apiFiles.size) return false;
  for (const [file, body] of apiFiles) if (digests[file] !== sha256Hex(body)) return false;
  return true;
}

interface Planned {
  readonly plan: SyncPlan;
  readonly stored: ReadonlySet<string>;
  readonly sizes: ReadonlyMap<string, number>;
  readonly failures: RunFailure[];
}

/** Mirrors (or, for a dry run, only reads) the image indexes for sizes, lists the store and compares. */
export async function planAgainstStore(deps: PhaseDeps, wanted: WantedBottle[], objects: ObjectStore, concurrency?: number): Promise<Planned> {
  const manifests = await mirrorManifests(wanted, { upstream: deps.upstream, objects, concurrency, onProgress: deps.onManifest });
  const failures: RunFailure[] = [];
  for (const failure of manifests.failures) {
    for (const b of wanted.filter((b) => b.image === failure.image && b.manifestRef === failure.ref)) {
      failures.push({ name: b.name, tag: b.tag, reason: `manifest: ${failure.reason}`, permanent: failure.permanent });
    }
  }
  const stored = new Set<string>();
  for await (const sha of deps.blobs.list()) stored.add(sha);
  return { plan: planSync(wanted, manifests.sizes, stored), stored, sizes: manifests.sizes, failures };
}

/** A partial mirror keeps every bottle the signed API names (pulled through, or mirrored before): none is an orphan. */
function withoutNamed(orphans: string[], named: readonly WantedBottle[] | undefined): string[] {
  if (!named) return orphans;
  const kept = new Set(named.map((b) => b.sha256));
  return orphans.filter((sha) => !kept.has(sha));
}

/** Blobs the published generation names besides bottles (brew.git's packs, portable Rubies, cask files, taps) are no orphans. */
async function withoutGenerationBlobs(objects: ObjectStore, published: PublishedGeneration | undefined, orphans: string[]): Promise<string[]> {
  if (!published) return orphans;
  const kept = new Set(await recordedBlobs(objects, published.generation));
  return kept.size === 0 ? orphans : orphans.filter((sha) => !kept.has(sha));
}

/**
 * Verifies every API file before trusting any of it, stages them as the
 * run's (unpublished) generation, mirrors manifests and plans. Throws
 * `SyncAbortedError`, `ApiVerificationError` or `ApiShapeError` on bad input.
 */
export async function prepareRun(
  deps: PhaseDeps,
  requested: SyncOptions,
  runId: string,
  splitIntoBatches: (plan: SyncPlan) => TransferItem[][],
): Promise<PreparedRun> {
  const log = deps.log.child({ runId });
  // What the fleet's policy forbids is taken out of the selection here, and named in the run's summary.
  const { options, refused } = selectionUnderPolicy(requested);
  for (const r of refused) log.warn('not mirrored: the policy forbids it', { ...r });
  if (options.taps?.length) checkTapSelection(options.taps.length, options.publicUrl);
  const { apiFiles, wanted, named, skipped, packagesGeneratedAt, casks } = await verifyApi(deps, options, log);
  // One read of the pointer for both guards and the unchanged check.
  const published = await deps.state.getPublished();
  refuseLargeDrop(published, wanted.length, options.maxDropPercent ?? SYNC_DEFAULTS.maxDropPercent);
  refuseReplay(published, packagesGeneratedAt, options.force ?? false);
  const unchanged = sameAsPublished(published, apiFiles, scopeOf(options));
  const { plan, stored, failures } = await planAgainstStore(deps, wanted, deps.objects, options.concurrency);
  failures.push(...skippedFailures(skipped));
  if (unchanged && plan.transfers.length === 0 && failures.length === 0) {
    const brewChange = options.brew && (await brewChangeSince(deps.upstream, { ...options.brew, ...deps.brewPhase }, await loadBrewRecord(deps.objects, published!.generation)));
    // A cask its vendor failed last time is tried again; the signed API alone does not say it is back.
    const caskRetry = casks && hasRetryableFailures(await loadCaskRecord(deps.objects, published!.generation)) && 'a cask failed last time';
    const tapChange = !brewChange && !caskRetry && options.taps?.length ? await tapChangeSince(deps.upstream, options.taps, published!.generation, deps.objects) : undefined;
    if (!brewChange && !caskRetry && !tapChange) {
      log.info('upstream unchanged since the published generation; nothing to publish', { generation: published!.generation });
      return { unchanged: published!, plan };
    }
    log.info('the API is unchanged but brew, the casks or the taps are not; publishing a new generation', { reason: brewChange || caskRetry || tapChange });
  }
  // Staged as the run's own generation; nothing serves it until finalize flips the pointer.
  for (const [file, body] of apiFiles) await deps.objects.putObject(apiKey(runId, file), body);
  await deps.objects.putObject(bottleIndexKey(runId), encodeBottleIndex(wanted));
  if (named) await deps.objects.putObject(namedBottlesKey(runId), encodeBottleIndex(named));
  // Only the base name of each Brewfile: the page is public, the operator's paths are not.
  const notServed = options.notServed?.map((entry) => ({ ...entry, file: entry.file.split('/').pop() ?? '' }));
  if (notServed?.length) await deps.objects.putObject(selectionRecordKey(runId), Buffer.from(JSON.stringify({ notServed })));

  const transferShas = new Set(plan.transfers.map((t) => t.sha256));
  const bottlesByBlob: Record<string, [string, string][]> = {};
  for (const b of wanted) if (transferShas.has(b.sha256)) (bottlesByBlob[b.sha256] ??= []).push([b.name, b.tag]);
  const batches = splitIntoBatches(plan);
  const batchIds = batches.map((_, i) => `b${String(i).padStart(4, '0')}`);
  await Promise.all(batches.map((items, i) => deps.objects.putObject(runKeys.batch(runId, batchIds[i]), Buffer.from(JSON.stringify(items)))));

  const manifest: RunManifest = {
    runId,
    startedAt: (deps.now ?? (() => new Date()))().toISOString(),
    files: [...apiFiles.keys()].sort(),
    fileDigests: Object.fromEntries([...apiFiles].map(([file, body]) => [file, sha256Hex(body)])),
    packagesGeneratedAt: Object.fromEntries(packagesGeneratedAt),
    scope: scopeOf(options),
    maxMissingPercent: options.maxMissingPercent ?? SYNC_DEFAULTS.maxMissingPercent,
    // A skipped formula's bottles are wanted and missing: they count in both terms of the missing share.
    wantedBottles: wanted.length + skipped.reduce((n, s) => n + s.tags.length, 0),
    skipped: plan.skipped,
    planned: plan.transfers.length,
    // brew.git's packs and the portable Rubies are blobs too, wanted while the published generation names them.
    orphans: await withoutGenerationBlobs(deps.objects, published, withoutNamed(plan.orphans, named)),
    storedWanted: wanted.filter((b) => stored.has(b.sha256)).map((b) => b.sha256),
    bottlesByBlob,
    failures,
    batchIds,
    ...(options.brew ? { brew: options.brew } : {}),
    ...(casks ? { casks: { files: casks.files, failures: casks.failures, allowUnpinned: options.allowUnpinnedCasks ?? [] } } : {}),
    ...(options.taps?.length ? { taps: { taps: options.taps, publicUrl: requirePublicUrl(options.publicUrl) } } : {}),
    ...(refused.length > 0 ? { refusedByPolicy: refused } : {}),
  };
  await deps.objects.putObject(runKeys.summary(runId), Buffer.from(JSON.stringify(manifest)));
  // The orphans finalize will mark: the plan's, less what a partial mirror names and what brew's kept generation uses.
  log.info('planned', { transfers: plan.transfers.length, skipped: plan.skipped, bytes: plan.bytesToTransfer, orphans: manifest.orphans.length, batches: batchIds.length });
  return { manifest, plan };
}


/** Before anything is staged: the number of taps within its limit, and the public URL they will name. */
function checkTapSelection(count: number, publicUrl: string | undefined): void {
  const max = positiveIntegersFromEnv({ maxTaps: 'HBS_MAX_TAPS' }, process.env).maxTaps ?? SYNC_DEFAULTS.maxTaps;
  if (count > max) throw new UsageError(`${count} taps selected, over the limit of ${max} per sync (HBS_MAX_TAPS)`);
  requirePublicUrl(publicUrl);
}

/** A rewritten tap names the mirror's URL, so mirroring taps needs it. */
function requirePublicUrl(publicUrl: string | undefined): string {
  if (!publicUrl) throw new UsageError('mirroring taps needs the mirror\'s public URL (--public-url): the rewritten taps name it');
  return publicUrl.replace(/\/+$/, '');
}
