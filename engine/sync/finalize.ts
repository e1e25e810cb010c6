import { METRICS } from '../runtime-config';
import { PublishedGeneration, RunFailure } from '../ports';
import { runKeys } from '../store-layout';
import { BREW_UNIT, BatchResult, BrewUnitResult, CASK_UNIT, PhaseDeps, RunManifest, SyncAbortedError, SyncSummary, TAP_UNIT } from './contracts';
import type { CaskSummary } from '../casks/mirror-casks';
import type { TapSummary } from '../taps/mirror-taps';
import { recordedBlobs } from '../generation-records';
import { generationAgeSeconds } from './freshness';
import { SYNC_LEASE } from './lease';
import { SyncPlan } from './plan';
import { coveredReleases, loadBrewRecord } from '../brew/brew-record';

/**
 * Records a run that found upstream unchanged: the pointer keeps its
 * generation and gains `verifiedAt` (so freshness counts from now), the run
 * is recorded as `unchanged`, and the lease is released.
 */
export async function recordUnchanged(deps: PhaseDeps, runId: string, startedAt: Date, published: PublishedGeneration, plan: SyncPlan): Promise<SyncSummary> {
  const now = (deps.now ?? (() => new Date()))();
  // A lost compare-and-swap means someone published meanwhile: their pointer stands.
  await deps.state.setPublished({ ...published, verifiedAt: now.toISOString() }, published.generation);
  const bottles = { planned: 0, transferred: 0, skipped: plan.skipped, failed: 0 };
  await deps.state.putRun({ runId, status: 'unchanged', startedAt: startedAt.toISOString(), finishedAt: now.toISOString(), generation: published.generation, bottles, bytesTransferred: 0, durationMs: now.getTime() - startedAt.getTime() });
  deps.metrics?.emit({ [METRICS.syncSucceeded]: { value: 1, unit: 'Count' }, [METRICS.generationAge]: { value: 0, unit: 'Seconds' } }, { runId, published: false });
  await deps.state.releaseLease(SYNC_LEASE, runId);
  return { runId, published: false, unchanged: true, generation: published.generation, bottles, bytes: { transferred: 0 }, failures: [] };
}

/**
 * Gathers every batch result (following continuations) and publishes the
 * staged generation if nothing failed transiently and permanent failures stay
 * within `maxMissingPercent`. The pointer flip is a compare-and-swap, so a
 * concurrent publish is never overwritten. Records the run, releases the lease.
 */
export async function finalizeRun(deps: PhaseDeps, runId: string): Promise<SyncSummary> {
  const now = deps.now ?? (() => new Date());
  const body = await deps.objects.getObject(runKeys.summary(runId));
  if (!body) throw new SyncAbortedError(`run ${runId} has no staged manifest`);
  const manifest = JSON.parse(body.toString('utf8')) as RunManifest;
  const gathered = await gatherResults(deps, runId, manifest);
  const summary = await publishIfComplete(deps, runId, manifest, gathered, now);
  await recordRun(deps, manifest, gathered, summary, now());
  await deps.state.releaseLease(SYNC_LEASE, runId);
  return summary;
}

interface GatheredResults {
  readonly transferred: number;
  readonly bytes: number;
  readonly failures: RunFailure[];
  /** Distinct bottles (name, tag) that failed. */
  readonly failedCount: number;
  /** The brew phase's result, when the run had one. */
  readonly brew?: BrewUnitResult;
  /** The cask phase's summary, when the run had one and it reported. */
  readonly casks?: CaskSummary;
  /** The tap phase's summary, when the run had one and it reported. */
  readonly taps?: TapSummary;
}

/** Every batch result of the run, following continuations; a batch without a result is a transient failure. */
async function gatherResults(deps: PhaseDeps, runId: string, manifest: RunManifest): Promise<GatheredResults> {
  let transferred = 0;
  let bytes = 0;
  const failures: RunFailure[] = [...manifest.failures];
  const pending = [...manifest.batchIds];
  while (pending.length > 0) {
    const batchId = pending.shift()!;
    const result = await deps.objects.getObject(runKeys.result(runId, batchId));
    if (!result) {
      failures.push({ name: '(batch)', tag: batchId, reason: 'batch never reported a result', permanent: false });
      continue;
    }
    const r = JSON.parse(result.toString('utf8')) as BatchResult;
    transferred += r.transferred;
    bytes += r.bytes;
    pending.push(...r.continuations);
    for (const f of r.failures) {
      for (const [name, tag] of manifest.bottlesByBlob[f.sha256] ?? [['(unknown)', f.sha256]]) {
        failures.push({ name, tag, reason: f.reason, permanent: f.permanent });
      }
    }
  }
  const brew = manifest.brew ? await brewResult(deps, runId) : undefined;
  const caskBody = manifest.casks ? await deps.objects.getObject(runKeys.result(runId, CASK_UNIT)) : undefined;
  const casks = caskBody ? (JSON.parse(caskBody.toString('utf8')) as CaskSummary) : undefined;
  const tapBody = manifest.taps ? await deps.objects.getObject(runKeys.result(runId, TAP_UNIT)) : undefined;
  const taps = tapBody ? (JSON.parse(tapBody.toString('utf8')) as TapSummary) : undefined;
  return { transferred, bytes, failures, failedCount: new Set(failures.map((f) => `${f.name}\n${f.tag}`)).size, brew, casks, taps };
}

/** The brew phase's result; one that never reported is a failure like a batch that never did. */
async function brewResult(deps: PhaseDeps, runId: string): Promise<BrewUnitResult> {
  const body = await deps.objects.getObject(runKeys.result(runId, BREW_UNIT));
  return body ? (JSON.parse(body.toString('utf8')) as BrewUnitResult) : { error: 'the brew phase never reported a result' };
}

/** Flips the pointer (compare-and-swap) when nothing failed transiently and the missing share is within the limit. */
async function publishIfComplete(deps: PhaseDeps, runId: string, manifest: RunManifest, gathered: GatheredResults, now: () => Date): Promise<SyncSummary> {
  const { failures, failedCount } = gathered;
  const summaryBase = {
    runId,
    bottles: { planned: manifest.planned, transferred: gathered.transferred, skipped: manifest.skipped, failed: failedCount },
    bytes: { transferred: gathered.bytes },
    failures: failures.map(({ name, tag, reason }) => ({ name, tag, reason })),
    ...(gathered.brew?.brew ? { brew: gathered.brew.brew } : {}),
    ...(gathered.casks ? { casks: gathered.casks } : {}),
    ...(gathered.taps ? { taps: gathered.taps } : {}),
    ...(manifest.refusedByPolicy ? { refusedByPolicy: manifest.refusedByPolicy } : {}),
  };
  // brew.git or the install script missing: clients would get a half mirror of brew, so nothing is published.
  if (gathered.brew?.error !== undefined) return { ...summaryBase, published: false, error: `brew: ${gathered.brew.error}` };
  const transient = failures.filter((f) => !f.permanent);
  if (transient.length > 0) {
    return { ...summaryBase, published: false, error: `${transient.length} bottle(s) failed transiently (${transient[0].reason}); rerun to finish` };
  }
  const missingPercent = manifest.wantedBottles === 0 ? 0 : (failedCount / manifest.wantedBottles) * 100;
  if (missingPercent > manifest.maxMissingPercent) {
    return {
      ...summaryBase,
      published: false,
      error: `${failedCount} of ${manifest.wantedBottles} bottles (${missingPercent.toFixed(2)}%) are permanently missing, above the ${manifest.maxMissingPercent}% limit`,
    };
  }
  const previous = await deps.state.getPublished();
  const brew = await loadBrewRecord(deps.objects, runId);
  const generation: PublishedGeneration = {
    generation: runId,
    runId,
    publishedAt: now().toISOString(),
    files: manifest.files,
    bottles: manifest.wantedBottles,
    fileDigests: manifest.fileDigests,
    packagesGeneratedAt: manifest.packagesGeneratedAt,
    scope: manifest.scope,
    ...(brew ? { brewReleases: coveredReleases(brew) } : {}),
  };
  if (!(await deps.state.setPublished(generation, previous?.generation))) {
    return { ...summaryBase, published: false, error: 'the published generation changed during the run; not overwriting it' };
  }
  const at = now();
  for (const sha of manifest.orphans) await deps.blobs.markOrphaned(sha, at);
  for (const sha of [...manifest.storedWanted, ...(await recordedBlobs(deps.objects, runId))]) await deps.blobs.clearOrphaned(sha);
  deps.log.child({ runId }).info('published', { generation: runId, orphans: manifest.orphans.length, failures: failures.length });
  return { ...summaryBase, published: true, generation: runId };
}

/** Emits the run's metrics and writes its record. */
async function recordRun(deps: PhaseDeps, manifest: RunManifest, gathered: GatheredResults, summary: SyncSummary, finished: Date): Promise<void> {
  const durationMs = finished.getTime() - Date.parse(manifest.startedAt);
  const current = await deps.state.getPublished();
  deps.metrics?.emit(
    {
      [summary.published ? METRICS.syncSucceeded : METRICS.syncFailed]: { value: 1, unit: 'Count' },
      [METRICS.bottlesTransferred]: { value: gathered.transferred, unit: 'Count' },
      [METRICS.bottlesFailed]: { value: gathered.failedCount, unit: 'Count' },
      [METRICS.bytesTransferred]: { value: gathered.bytes, unit: 'Bytes' },
      [METRICS.syncDuration]: { value: durationMs, unit: 'Milliseconds' },
      ...(current ? { [METRICS.generationAge]: { value: generationAgeSeconds(current, finished), unit: 'Seconds' as const } } : {}),
    },
    { runId: manifest.runId, published: summary.published },
  );
  await deps.state.putRun({
    runId: manifest.runId,
    status: summary.published ? 'published' : 'failed',
    startedAt: manifest.startedAt,
    finishedAt: finished.toISOString(),
    generation: summary.generation,
    bottles: summary.bottles,
    bytesTransferred: gathered.bytes,
    durationMs,
    failures: gathered.failures,
    error: summary.error,
  });
}
