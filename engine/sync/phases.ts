import { KeyObject, createHash } from 'crypto';
import { ApiVerificationError, verifySignedPayload, verifySignedPayloadPieces } from '../homebrew/signed-api';
import { JsonShapeError, topLevelMembers } from '../homebrew/json-elements';
import { ApiShapeError, SkippedFormula, WantedBottle, formulaEntries, wantedBottles } from '../homebrew/wanted-bottles';
import { Logger } from '../logger';
import { MetricSink } from '../metrics';
import { METRICS } from '../runtime-config';
import { BlobStore, ObjectStore, OrphanMarker, PublishedGeneration, RunFailure, StateStore } from '../ports';
import { mirrorManifests } from './manifests';
import { SyncPlan, TransferItem, planSync } from './plan';
import { DEFAULT_ROUTING, Route, RoutingLimits, routePlan } from './route';
import { TransferDeps, transferBlob } from './transfer';
import { Upstream, UpstreamError, readAll } from './upstream';
import { apiKey, bottleIndexKey, runKeys } from '../store-layout';
import { encodeBottleIndex } from '../bottle-index';
import { ErrorKind, MirrorError, errorKind } from '../errors';
import { ALL_TAG, KNOWN_PLATFORM_TAGS } from '../homebrew/platform-tags';
import { SYNC_LEASE } from './lease';
import { applySelection, selectFormulae } from './selection';

export { SYNC_LEASE } from './lease';

/**
 * The phases of a sync run, shared by every runtime:
 *
 *   prepare  → verify the API, stage its files, mirror manifests, plan, stage a run manifest
 *   transfer → one batch of blobs; results go to the store
 *   finalize → gather results, publish all-or-nothing, mark orphans, record the run
 *
 * `bottles sync` runs them in one process; the orchestrator Lambda prepares,
 * worker Lambdas (or the Fargate task) transfer, and whoever finishes last
 * finalizes. Everything a later phase needs lives in the object store under
 * `runs/<runId>/`, so only ids travel between processes.
 */

export const DEFAULT_API_URL = 'https://formulae.brew.sh/api';
export const CORE_API_FILES = ['formula.jws.json', 'cask.jws.json', 'formula_tap_migrations.jws.json', 'cask_tap_migrations.jws.json'];
export const packagesFile = (tag: string): string => `internal/packages.${tag}.jws.json`;

/** A failure that ends the run before anything could be published. */
export class SyncAbortedError extends MirrorError {
  readonly kind = 'upstream-input';
}

export interface SyncOptions {
  readonly apiUrl?: string;
  /** Platform tags to mirror; undefined = every tag upstream has, `all` included. */
  readonly tags?: readonly string[];
  /** With `tags`: also mirror the `all` bottles those platforms fall back to. Default true. */
  readonly allFallback?: boolean;
  /**
   * A partial mirror: only these formulae and their runtime dependencies, per
   * tag, from the packages files. The API files are still mirrored whole.
   */
  readonly formulae?: readonly string[];
  readonly publicKey: KeyObject;
  /** Parallel downloads (manifests, and blobs within one process). Default 4. */
  readonly concurrency?: number;
  /** Percentage of wanted bottles that may be permanently missing at publish. Default 1. */
  readonly maxMissingPercent?: number;
  /**
   * Largest share of the published generation's bottles a new API may drop and still be published.
   * A correctly signed but wrong or empty file would otherwise wipe the mirror. Default 10; 100 forces.
   */
  readonly maxDropPercent?: number;
}

export const DEFAULT_MAX_DROP_PERCENT = 10;

export interface PhaseDeps {
  readonly upstream: Upstream;
  readonly blobs: BlobStore & OrphanMarker;
  readonly objects: ObjectStore;
  readonly state: StateStore;
  readonly log: Logger;
  /** Run metrics (EMF in AWS); optional. */
  readonly metrics?: MetricSink;
  readonly now?: () => Date;
  /** Injected into transfers: the shared circuit breaker, and (in tests) shorter backoff. */
  readonly transfer?: Partial<Pick<TransferDeps, 'retry' | 'sleep' | 'random' | 'breaker' | 'onBytes'>>;
  /** Image indexes checked so far while planning (for a progress display). */
  readonly onManifest?: (done: number, total: number) => void;
}

/** What finalize needs to know about a run, staged by prepare. */
export interface RunManifest {
  readonly runId: string;
  readonly startedAt: string;
  readonly files: string[];
  /** sha256 of each staged API file, recorded with the generation on publish. */
  readonly fileDigests: Record<string, string>;
  /** `scopeOf` the run's options, recorded with the generation on publish. */
  readonly scope: string;
  readonly maxMissingPercent: number;
  /** Bottles the new API names for the mirrored tags: the unit of `maxMissingPercent`. */
  readonly wantedBottles: number;
  readonly skipped: number;
  readonly planned: number;
  readonly orphans: string[];
  /** Wanted blobs already stored at planning time (their orphan mark, if any, is cleared on publish). */
  readonly storedWanted: string[];
  /** Bottles per blob, for failure reports: sha256 → [name, tag][] (only for blobs that can fail). */
  readonly bottlesByBlob: Record<string, [string, string][]>;
  /** Failures found while preparing (manifests). */
  readonly failures: RunFailure[];
  /** Batches the run was split into; a batch may add continuation batches. */
  readonly batchIds: string[];
}

export interface BatchResult {
  readonly batchId: string;
  readonly transferred: number;
  readonly bytes: number;
  readonly failures: { sha256: string; reason: string; permanent: boolean }[];
  /** Batches this one handed its unfinished work to. */
  readonly continuations: string[];
}

export type PreparedRun =
  | { readonly manifest: RunManifest; readonly plan: SyncPlan; readonly unchanged?: undefined }
  /** Upstream is the published generation, byte for byte, and every bottle is stored: nothing was staged. */
  | { readonly unchanged: PublishedGeneration; readonly plan: SyncPlan; readonly manifest?: undefined };

const sha256Hex = (body: Buffer): string => createHash('sha256').update(body).digest('hex');

/** What a run mirrors, besides the API: tags, `all` fallback, partial selection. A different scope is a different generation. */
export function scopeOf(options: SyncOptions): string {
  return JSON.stringify({ tags: options.tags ? [...options.tags].sort() : null, allFallback: options.allFallback ?? true, formulae: options.formulae ? [...options.formulae].sort() : null });
}

/** True when `apiFiles` are exactly the published generation's files, mirrored with the same scope. */
function sameAsPublished(published: PublishedGeneration | undefined, apiFiles: ReadonlyMap<string, Buffer>, scope: string): boolean {
  if (published?.scope !== scope) return false;
  const digests = published?.fileDigests;
  if (!digests || Object.keys(digests).length !== apiFiles.size) return false;
  for (const [file, body] of apiFiles) if (digests[file] !== sha256Hex(body)) return false;
  return true;
}

/**
 * formula.jws.json, verified without ever holding its payload whole: its
 * entries come from the payload decoded in pieces (`verifySignedPayloadPieces`).
 */
async function fetchFormulaFile(deps: PhaseDeps, apiUrl: string, key: KeyObject): Promise<{ bytes: Buffer; pieces: () => Iterable<string> }> {
  const response = await deps.upstream.get(`${apiUrl}/formula.jws.json`, undefined, false);
  const bytes = await readAll(response, deps.upstream.limits.maxApiFileBytes);
  return { bytes, pieces: verifySignedPayloadPieces('formula.jws.json', bytes, key) };
}

async function fetchApiFile(deps: PhaseDeps, apiUrl: string, file: string, key: KeyObject, retainBytes = true): Promise<{ bytes: Buffer; payload: string }> {
  const response = await deps.upstream.get(`${apiUrl}/${file}`, undefined, false);
  const max = deps.upstream.limits.maxApiFileBytes;
  if (retainBytes) {
    const bytes = await readAll(response, max);
    return { bytes, payload: verifySignedPayload(file, bytes, key) };
  }
  // Not kept: decoded in a frame of its own, so the buffer can be collected before the envelope is parsed.
  const text = await readAll(response, max).then((bytes) => bytes.toString('utf8'));
  return { bytes: NOT_RETAINED, payload: verifySignedPayload(file, text, key) };
}

function parsePayload(file: string, payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch (error) {
    throw new ApiVerificationError(file, `signed payload is not valid JSON (${(error as Error).message})`);
  }
}

/** Stands in for the bytes of a verified file a dry run does not keep. */
const NOT_RETAINED = Buffer.alloc(0);

interface VerifiedApi {
  /** API file path → verified bytes (empty when not retained), core files and one packages file per tag. */
  readonly apiFiles: Map<string, Buffer>;
  readonly wanted: WantedBottle[];
  /** Formulae left out as unusable; reported, and counted against `maxMissingPercent`. */
  readonly skipped: SkippedFormula[];
}

/** A new API that names far fewer bottles than the published one is refused unless the caller allows the drop. */
async function refuseLargeDrop(deps: PhaseDeps, wanted: number, maxDropPercent: number): Promise<void> {
  const published = (await deps.state.getPublished())?.bottles;
  if (!published || maxDropPercent >= 100) return;
  const dropPercent = ((published - wanted) / published) * 100;
  if (dropPercent > maxDropPercent) {
    throw new SyncAbortedError(
      `the new API names ${wanted} bottles, ${dropPercent.toFixed(1)}% fewer than the ${published} published (limit ${maxDropPercent}%); ` +
        'not publishing it (if the drop is intended, raise --max-drop or pass --force)',
    );
  }
}

/**
 * Each signed file must hold what its name says: the signature covers the
 * payload, not the file name, so a correctly signed cask list served as
 * `formula.jws.json` would otherwise verify.
 */
export function checkPayloadShape(file: string, document: unknown): void {
  const fail = (what: string) => {
    throw new ApiShapeError(`${file}: ${what}`);
  };
  const entries = (key: 'name' | 'token') => {
    if (!Array.isArray(document)) fail('is not a JSON array');
    const wrong = (document as unknown[]).findIndex((e) => typeof (e as Record<string, unknown>)?.[key] !== 'string');
    if (wrong >= 0) fail(`entry #${wrong} has no "${key}" (is this the right file?)`);
  };
  if (file === 'formula.jws.json') entries('name');
  else if (file === 'cask.jws.json') entries('token');
  else if (file.endsWith('_tap_migrations.jws.json')) {
    if (typeof document !== 'object' || document === null || Array.isArray(document)) fail('is not a JSON object');
  } else {
    const tag = /^internal\/packages\.(.+)\.jws\.json$/.exec(file)?.[1];
    const payload = document as { metadata?: { bottle_tag?: unknown }; formulae?: unknown };
    if (typeof payload?.formulae !== 'object' || payload.formulae === null || Array.isArray(payload.formulae)) fail('has no "formulae" object');
    if (tag && payload.metadata?.bottle_tag !== tag) fail(`is for bottle tag ${JSON.stringify(payload.metadata?.bottle_tag)}, not ${JSON.stringify(tag)}`);
  }
}

/**
 * A packages file must be a `formulae` object for the requested tag. Only
 * `metadata` is parsed: the whole file is a few MB of JSON whose object graph
 * planning does not need.
 */
export function checkPackagesShape(file: string, tag: string, payload: string): void {
  let members;
  try {
    members = topLevelMembers(payload);
  } catch (error) {
    if (error instanceof JsonShapeError) throw new ApiShapeError(`${file}: ${error.message}`);
    throw error;
  }
  const formulae = members.get('formulae');
  if (!formulae || payload.charCodeAt(formulae.start) !== 0x7b /* { */) throw new ApiShapeError(`${file}: has no "formulae" object`);
  const metadata = members.get('metadata');
  const bottleTag = metadata ? (parsePayload(file, payload.slice(metadata.start, metadata.end)) as { bottle_tag?: unknown } | null)?.bottle_tag : undefined;
  if (bottleTag !== tag) throw new ApiShapeError(`${file}: is for bottle tag ${JSON.stringify(bottleTag)}, not ${JSON.stringify(tag)}`);
}

/** Fetches and verifies every API file before trusting any of it, and derives the wanted bottles. */
async function verifyApi(deps: PhaseDeps, options: SyncOptions, log: Logger, retainBytes = true): Promise<VerifiedApi> {
  const apiUrl = (options.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');
  const apiFiles = new Map<string, Buffer>();
  let formulaPieces: () => Iterable<string> = () => [];
  for (const file of CORE_API_FILES) {
    try {
      if (file === 'formula.jws.json') {
        // Checked entry by entry below; its bytes are needed for the pieces, and dropped after if not retained.
        const { bytes, pieces } = await fetchFormulaFile(deps, apiUrl, options.publicKey);
        formulaPieces = pieces;
        apiFiles.set(file, bytes);
        continue;
      }
      const { bytes, payload } = await fetchApiFile(deps, apiUrl, file, options.publicKey, retainBytes);
      checkPayloadShape(file, parsePayload(file, payload));
      apiFiles.set(file, bytes);
    } catch (error) {
      if (error instanceof UpstreamError) throw new SyncAbortedError(`cannot fetch ${file}: ${error.message}`);
      throw error;
    }
  }
  const tagFilter = options.tags ? new Set(options.tags) : undefined;
  const skipped: SkippedFormula[] = [];
  const wanted = wantedBottles(formulaEntries(formulaPieces()), tagFilter, options.allFallback ?? true, skipped);
  formulaPieces = () => [];
  if (!retainBytes) apiFiles.set('formula.jws.json', NOT_RETAINED);
  for (const s of skipped) log.warn('formula skipped', { name: s.name, reason: s.reason });
  const tags = options.tags ?? [...new Set(wanted.map((b) => b.tag))].sort();
  // Only a partial mirror reads the packages files' contents (their dependencies).
  const packagesByTag = new Map<string, Record<string, { stable_dependencies?: unknown; bottle_tag?: unknown }>>();
  for (const tag of tags.filter((t) => t !== ALL_TAG)) {
    const file = packagesFile(tag);
    try {
      const { bytes, payload } = await fetchApiFile(deps, apiUrl, file, options.publicKey, retainBytes);
      checkPackagesShape(file, tag, payload);
      if (options.formulae) packagesByTag.set(tag, (parsePayload(file, payload) as { formulae: Record<string, { stable_dependencies?: unknown }> }).formulae);
      apiFiles.set(file, bytes);
    } catch (error) {
      // Tags taken from old bottles may have no packages file; configured tags must have one.
      if (error instanceof UpstreamError && error.status === 404 && !options.tags) {
        log.info('no packages file upstream for tag; skipped', { tag });
        continue;
      }
      if (error instanceof UpstreamError && error.status === 404) throw new UnknownTagError(tag);
      if (error instanceof UpstreamError) throw new SyncAbortedError(`cannot fetch ${file}: ${error.message}`);
      throw error;
    }
  }
  if (options.formulae) {
    const selected = selectFormulae(options.formulae, packagesByTag);
    const partial = applySelection(wanted, selected);
    const kept = skipped.filter((f) => [...selected].some((key) => key.startsWith(`${f.name}\n`)));
    log.info('partial mirror', { requested: options.formulae.length, bottles: partial.length, of: wanted.length });
    return { apiFiles, wanted: partial, skipped: kept };
  }
  log.info('API verified', { files: apiFiles.size, bottles: wanted.length, tags: tags.length, skipped: skipped.length });
  return { apiFiles, wanted, skipped };
}

interface Planned {
  readonly plan: SyncPlan;
  readonly stored: ReadonlySet<string>;
  readonly sizes: ReadonlyMap<string, number>;
  readonly failures: RunFailure[];
}

/** Mirrors (or, for a dry run, only reads) the image indexes for sizes, lists the store and compares. */
async function planAgainstStore(deps: PhaseDeps, wanted: WantedBottle[], objects: ObjectStore, concurrency?: number): Promise<Planned> {
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

/**
 * Verifies every API file before trusting any of it, stages them as the
 * run's (unpublished) generation, mirrors manifests and plans. Throws
 * `SyncAbortedError`, `ApiVerificationError` or `ApiShapeError` on bad input.
 */
export async function prepareRun(
  deps: PhaseDeps,
  options: SyncOptions,
  runId: string,
  splitIntoBatches: (plan: SyncPlan) => TransferItem[][],
): Promise<PreparedRun> {
  const log = deps.log.child({ runId });
  const { apiFiles, wanted, skipped } = await verifyApi(deps, options, log);
  await refuseLargeDrop(deps, wanted.length, options.maxDropPercent ?? DEFAULT_MAX_DROP_PERCENT);
  const published = await deps.state.getPublished();
  const unchanged = sameAsPublished(published, apiFiles, scopeOf(options));
  const { plan, stored, failures } = await planAgainstStore(deps, wanted, deps.objects, options.concurrency);
  failures.push(...skippedFailures(skipped));
  if (unchanged && plan.transfers.length === 0 && failures.length === 0) {
    log.info('upstream unchanged since the published generation; nothing to publish', { generation: published!.generation });
    return { unchanged: published!, plan };
  }
  // Staged as the run's own generation; nothing serves it until finalize flips the pointer.
  for (const [file, body] of apiFiles) await deps.objects.putObject(apiKey(runId, file), body);
  await deps.objects.putObject(bottleIndexKey(runId), encodeBottleIndex(wanted));

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
    scope: scopeOf(options),
    maxMissingPercent: options.maxMissingPercent ?? 1,
    // A skipped formula's bottles are wanted and missing: they count in both terms of the missing share.
    wantedBottles: wanted.length + skipped.reduce((n, s) => n + s.tags.length, 0),
    skipped: plan.skipped,
    planned: plan.transfers.length,
    orphans: plan.orphans,
    storedWanted: wanted.filter((b) => stored.has(b.sha256)).map((b) => b.sha256),
    bottlesByBlob,
    failures,
    batchIds,
  };
  await deps.objects.putObject(runKeys.summary(runId), Buffer.from(JSON.stringify(manifest)));
  log.info('planned', { transfers: plan.transfers.length, skipped: plan.skipped, bytes: plan.bytesToTransfer, orphans: plan.orphans.length, batches: batchIds.length });
  return { manifest, plan };
}

/** One permanent failure per bottle a skipped formula lists, so each counts against `maxMissingPercent`. */
function skippedFailures(skipped: readonly SkippedFormula[]): RunFailure[] {
  return skipped.flatMap((s) => s.tags.map((tag) => ({ name: s.name, tag, reason: `skipped: ${s.reason}`, permanent: true })));
}

/** What a run would do, per platform tag and in total. */
export interface DryRunReport {
  readonly apiFiles: string[];
  readonly tags: { tag: string; bottles: number; toTransfer: number; bytes: number; unknownSizes: number }[];
  readonly total: { bottles: number; blobs: number; alreadyStored: number; toTransfer: number; bytes: number; unknownSizes: number; orphans: number };
  /** Where the AWS deployment would run it, at the given routing limits. */
  readonly route: { kind: Route['kind']; batches?: number; reason?: string };
  readonly failures: { name: string; tag: string; reason: string }[];
}

/**
 * A dry run: verifies the API and plans exactly as a run would, changing
 * nothing (no lease, no staged files; image indexes are read, never stored).
 */
export async function planRun(deps: PhaseDeps, options: SyncOptions, limits: RoutingLimits = DEFAULT_ROUTING): Promise<DryRunReport> {
  const log = deps.log.child({ dryRun: true });
  // A dry run stages nothing, so the verified bytes are not kept.
  const { apiFiles, wanted, skipped } = await verifyApi(deps, options, log, false);
  const apiFileNames = [...apiFiles.keys()].sort();
  const { plan, stored, sizes, failures } = await planAgainstStore(deps, wanted, readOnlyOverlay(deps.objects), options.concurrency);
  failures.push(...skippedFailures(skipped));
  const byTag = new Map<string, { tag: string; bottles: number; toTransfer: number; bytes: number; unknownSizes: number }>();
  for (const b of wanted) {
    const row = byTag.get(b.tag) ?? { tag: b.tag, bottles: 0, toTransfer: 0, bytes: 0, unknownSizes: 0 };
    row.bottles++;
    if (!stored.has(b.sha256)) {
      row.toTransfer++;
      const size = sizes.get(b.sha256);
      if (size === undefined) row.unknownSizes++;
      else row.bytes += size;
    }
    byTag.set(b.tag, row);
  }
  const route = routePlan(plan, limits);
  return {
    apiFiles: apiFileNames,
    tags: [...byTag.values()].sort((a, b) => (a.tag < b.tag ? -1 : 1)),
    total: {
      bottles: wanted.length,
      blobs: plan.wantedBlobs,
      alreadyStored: plan.skipped,
      toTransfer: plan.transfers.length,
      bytes: plan.bytesToTransfer,
      unknownSizes: plan.unknownSizes,
      orphans: plan.orphans.length,
    },
    route: route.kind === 'lambda' ? { kind: 'lambda', batches: route.batches.length } : route.kind === 'fargate' ? { kind: 'fargate', reason: route.reason } : { kind: 'nothing' },
    failures: failures.map(({ name, tag, reason }) => ({ name, tag, reason })),
  };
}

/** Reads from `objects` and drops writes: what a dry run fetches is never stored (nor kept: only sizes are needed). */
function readOnlyOverlay(objects: ObjectStore): ObjectStore {
  return {
    getObject: (key) => objects.getObject(key),
    readObject: (key) => objects.readObject(key),
    hasObject: (key) => objects.hasObject(key),
    putObject: async () => undefined,
  };
}

export async function loadBatch(objects: ObjectStore, runId: string, batchId: string): Promise<TransferItem[]> {
  const body = await objects.getObject(runKeys.batch(runId, batchId));
  if (!body) throw new SyncAbortedError(`batch ${batchId} of run ${runId} is missing from the store`);
  return JSON.parse(body.toString('utf8')) as TransferItem[];
}

export interface BatchOptions {
  readonly concurrency?: number;
  /** Stop starting new transfers once this returns false (Lambda time budget, SIGTERM). */
  readonly keepGoing?: () => boolean;
  /** Receives unfinished items; returns the continuation batch ids it created (empty: nobody takes them). */
  readonly handBack?: (items: TransferItem[]) => Promise<string[]>;
  readonly onItemDone?: (item: TransferItem, bytes: number) => void;
}

/** Transfers one batch and records its result. Items not started when `keepGoing` turns false are handed back. */
export async function transferBatch(deps: PhaseDeps, runId: string, batchId: string, items: TransferItem[], options: BatchOptions = {}): Promise<BatchResult> {
  const log = deps.log.child({ runId, batchId });
  let transferred = 0;
  let bytes = 0;
  const failures: BatchResult['failures'] = [];
  const unstarted: TransferItem[] = [];
  let next = 0;
  /** Set when upstream's circuit is open or the store refused a write: no new bottle starts. */
  let stopReason: string | undefined;
  let localError: Error | undefined;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      if (stopReason !== undefined) {
        failures.push({ sha256: item.sha256, reason: stopReason, permanent: false });
        continue;
      }
      if (options.keepGoing && !options.keepGoing()) {
        unstarted.push(item);
        continue;
      }
      let outcome;
      try {
        outcome = await transferBlob(item, { upstream: deps.upstream, store: deps.blobs, ...deps.transfer });
      } catch (error) {
        if (errorKind(error) !== 'local-environment') throw error;
        localError ??= error as Error;
        stopReason = `not started: ${(error as Error).message}`;
        failures.push({ sha256: item.sha256, reason: (error as Error).message, permanent: false });
        continue;
      }
      if (outcome.status === 'failed' && outcome.circuitOpen) stopReason ??= `not started: ${outcome.reason}`;
      if (outcome.status === 'transferred') {
        transferred++;
        bytes += outcome.bytes;
      } else if (outcome.status === 'failed') {
        failures.push({ sha256: item.sha256, reason: outcome.reason, permanent: outcome.permanent });
        log.error('bottle failed', { name: item.name, tag: item.tag, reason: outcome.reason, permanent: outcome.permanent });
      }
      options.onItemDone?.(item, outcome.status === 'transferred' ? outcome.bytes : 0);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  // A local fault ends the run with its own message (the caller records it and releases the lease).
  if (localError) throw localError;

  let continuations: string[] = [];
  if (unstarted.length > 0) {
    continuations = options.handBack ? await options.handBack(unstarted) : [];
    if (continuations.length === 0) {
      for (const item of unstarted) failures.push({ sha256: item.sha256, reason: 'not transferred before the run stopped', permanent: false });
    }
    log.info('handed back unfinished items', { items: unstarted.length, continuations });
  }
  const result: BatchResult = { batchId, transferred, bytes, failures, continuations };
  await deps.objects.putObject(runKeys.result(runId, batchId), Buffer.from(JSON.stringify(result)));
  return result;
}

/** Writes `items` as a new batch of the run and returns its id. */
export async function stageContinuation(objects: ObjectStore, runId: string, parentBatchId: string, items: TransferItem[], index = 0): Promise<string> {
  const batchId = `${parentBatchId}-c${index}`;
  await objects.putObject(runKeys.batch(runId, batchId), Buffer.from(JSON.stringify(items)));
  return batchId;
}

export interface SyncSummary {
  readonly runId: string;
  readonly published: boolean;
  readonly generation?: string;
  readonly bottles: { planned: number; transferred: number; skipped: number; failed: number };
  readonly bytes: { transferred: number };
  readonly failures: { name: string; tag: string; reason: string }[];
  /** Why nothing new was published (absent when published). */
  readonly error?: string;
  /** The kind of error that stopped the run (`engine/errors.ts`), when one did. */
  readonly errorKind?: ErrorKind;
  /** Stopped by a signal (Ctrl-C, SIGTERM). */
  readonly interrupted?: boolean;
  /** Upstream was unchanged and every bottle stored: `generation` is the one still served, and nothing was published. */
  readonly unchanged?: boolean;
}

/** A configured tag upstream has no packages file for. */
export class UnknownTagError extends MirrorError {
  readonly kind = 'usage';

  constructor(readonly tag: string) {
    super(`upstream has no packages file for platform tag ${JSON.stringify(tag)}; known tags: ${[...KNOWN_PLATFORM_TAGS, ALL_TAG].join(', ')}`);
  }
}

/** Seconds since the mirror last matched upstream: the publish, or a later run that found upstream unchanged. */
export function generationAgeSeconds(generation: PublishedGeneration, now: Date): number {
  return Math.max(0, Math.round((now.getTime() - Date.parse(generation.verifiedAt ?? generation.publishedAt)) / 1000));
}

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
 * Emits the published generation's age (the freshness alarm's metric). Runs
 * hourly, so between weekly syncs the alarm always has data; with nothing
 * published it emits nothing, and the alarm treats silence as stale.
 */
export async function reportFreshness(state: StateStore, metrics: MetricSink, now: Date = new Date()): Promise<number | undefined> {
  const published = await state.getPublished();
  if (!published) return undefined;
  const age = generationAgeSeconds(published, now);
  metrics.emit({ [METRICS.generationAge]: { value: age, unit: 'Seconds' } }, { generation: published.generation });
  return age;
}

export function emptySummary(runId: string, error: string, errorKind?: ErrorKind): SyncSummary {
  return { runId, published: false, bottles: { planned: 0, transferred: 0, skipped: 0, failed: 0 }, bytes: { transferred: 0 }, failures: [], error, errorKind };
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
  return { transferred, bytes, failures, failedCount: new Set(failures.map((f) => `${f.name}\n${f.tag}`)).size };
}

/** Flips the pointer (compare-and-swap) when nothing failed transiently and the missing share is within the limit. */
async function publishIfComplete(deps: PhaseDeps, runId: string, manifest: RunManifest, gathered: GatheredResults, now: () => Date): Promise<SyncSummary> {
  const { failures, failedCount } = gathered;
  const summaryBase = {
    runId,
    bottles: { planned: manifest.planned, transferred: gathered.transferred, skipped: manifest.skipped, failed: failedCount },
    bytes: { transferred: gathered.bytes },
    failures: failures.map(({ name, tag, reason }) => ({ name, tag, reason })),
  };
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
  const generation: PublishedGeneration = {
    generation: runId,
    runId,
    publishedAt: now().toISOString(),
    files: manifest.files,
    bottles: manifest.wantedBottles,
    fileDigests: manifest.fileDigests,
    scope: manifest.scope,
  };
  if (!(await deps.state.setPublished(generation, previous?.generation))) {
    return { ...summaryBase, published: false, error: 'the published generation changed during the run; not overwriting it' };
  }
  const at = now();
  for (const sha of manifest.orphans) await deps.blobs.markOrphaned(sha, at);
  for (const sha of manifest.storedWanted) await deps.blobs.clearOrphaned(sha);
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
