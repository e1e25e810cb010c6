import { randomBytes } from 'crypto';
import { KeyObject } from 'crypto';
import { ApiVerificationError, verifySignedApiFile } from '../homebrew/signed-api';
import { ApiShapeError, WantedBottle, wantedBottles } from '../homebrew/wanted-bottles';
import { Logger } from '../logger';
import { BlobStore, ObjectStore, OrphanMarker, PublishedGeneration, RunFailure, StateStore } from '../ports';
import { mirrorManifests } from './manifests';
import { planSync } from './plan';
import { transferBlob, TransferDeps } from './transfer';
import { Upstream, UpstreamError, readAll } from './upstream';

export const DEFAULT_API_URL = 'https://formulae.brew.sh/api';
export const SYNC_LEASE = 'sync';

/** The signed API files every generation carries, besides one packages file per tag. */
export const CORE_API_FILES = ['formula.jws.json', 'cask.jws.json', 'formula_tap_migrations.jws.json', 'cask_tap_migrations.jws.json'];
export const packagesFile = (tag: string): string => `internal/packages.${tag}.jws.json`;
/** Store key of a published API file. */
export const apiKey = (generation: string, file: string): string => `api/generations/${generation}/${file}`;

export interface SyncOptions {
  readonly apiUrl?: string;
  /** Platform tags to mirror; undefined = every tag upstream has, `all` included. */
  readonly tags?: readonly string[];
  readonly publicKey: KeyObject;
  /** Parallel transfers. Default 4. */
  readonly concurrency?: number;
  /** Percentage of wanted bottles that may be permanently missing (404, bad digest) at publish. Default 1. */
  readonly maxMissingPercent?: number;
  /** Run lease lifetime; renewed while the run is alive. Default 15 minutes. */
  readonly leaseTtlMs?: number;
}

export interface SyncDeps {
  readonly upstream: Upstream;
  readonly blobs: BlobStore & OrphanMarker;
  readonly objects: ObjectStore;
  readonly state: StateStore;
  readonly log: Logger;
  readonly onProgress?: (progress: SyncProgress) => void;
  /** Injected into transfers (tests shorten the backoff). */
  readonly transfer?: Partial<Pick<TransferDeps, 'retry' | 'sleep' | 'random'>>;
  readonly now?: () => Date;
}

export interface SyncProgress {
  readonly bottlesDone: number;
  readonly bottlesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
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
}

/** A failure that ends the run before anything could be published. */
export class SyncAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncAbortedError';
  }
}

export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/**
 * One sync run, all in this process (the `bottles sync` path and the Fargate
 * task). The last published generation is only ever replaced by a complete
 * new one: every failure before the pointer flip leaves it as it was.
 */
export async function runSync(deps: SyncDeps, options: SyncOptions): Promise<SyncSummary> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const runId = newRunId(started);
  const log = deps.log.child({ runId });
  const ttl = options.leaseTtlMs ?? 15 * 60 * 1000;

  if (!(await deps.state.acquireLease(SYNC_LEASE, runId, ttl))) {
    log.error('another sync holds the run lease');
    return emptySummary(runId, 'another sync is running (run lease held); nothing was changed');
  }
  const renew = setInterval(() => void deps.state.renewLease(SYNC_LEASE, runId, ttl).catch(() => undefined), Math.max(1000, ttl / 3));
  renew.unref();
  await deps.state.putRun({ runId, status: 'running', startedAt: started.toISOString() });

  try {
    const summary = await syncUnderLease(deps, options, runId, log);
    const finished = now();
    await deps.state.putRun({
      runId,
      status: summary.published ? 'published' : 'failed',
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      generation: summary.generation,
      bottles: summary.bottles,
      bytesTransferred: summary.bytes.transferred,
      durationMs: finished.getTime() - started.getTime(),
      failures: summary.failures.map((f) => ({ ...f, permanent: true })),
      error: summary.error,
    });
    return summary;
  } catch (error) {
    const message = error instanceof SyncAbortedError || error instanceof ApiVerificationError || error instanceof ApiShapeError
      ? error.message
      : `unexpected error: ${(error as Error).message}`;
    log.error('sync aborted; the published mirror is unchanged', { error: message });
    await deps.state.putRun({ runId, status: 'failed', startedAt: started.toISOString(), finishedAt: now().toISOString(), error: message });
    return emptySummary(runId, message);
  } finally {
    clearInterval(renew);
    await deps.state.releaseLease(SYNC_LEASE, runId);
  }
}

function emptySummary(runId: string, error: string): SyncSummary {
  return { runId, published: false, bottles: { planned: 0, transferred: 0, skipped: 0, failed: 0 }, bytes: { transferred: 0 }, failures: [], error };
}

async function fetchApiFile(deps: SyncDeps, apiUrl: string, file: string, key: KeyObject): Promise<{ bytes: Buffer; document: unknown }> {
  const response = await deps.upstream.get(`${apiUrl}/${file}`, undefined, false);
  const bytes = await readAll(response.body);
  return { bytes, document: verifySignedApiFile(file, bytes, key).document };
}

async function syncUnderLease(deps: SyncDeps, options: SyncOptions, runId: string, log: Logger): Promise<SyncSummary> {
  const apiUrl = (options.apiUrl ?? DEFAULT_API_URL).replace(/\/+$/, '');

  // 1. Fetch and verify every API file before trusting any of it.
  const apiFiles = new Map<string, Buffer>();
  let formulae: unknown;
  for (const file of CORE_API_FILES) {
    try {
      const { bytes, document } = await fetchApiFile(deps, apiUrl, file, options.publicKey);
      apiFiles.set(file, bytes);
      if (file === 'formula.jws.json') formulae = document;
    } catch (error) {
      if (error instanceof UpstreamError) throw new SyncAbortedError(`cannot fetch ${file}: ${error.message}`);
      throw error;
    }
  }

  // 2. The wanted set, for the configured tags or every tag upstream has.
  const tagFilter = options.tags ? new Set(options.tags) : undefined;
  const wanted = wantedBottles(formulae, tagFilter);
  const tags = options.tags ?? [...new Set(wanted.map((b) => b.tag))].sort();
  for (const tag of tags.filter((t) => t !== 'all')) {
    const file = packagesFile(tag);
    try {
      apiFiles.set(file, (await fetchApiFile(deps, apiUrl, file, options.publicKey)).bytes);
    } catch (error) {
      // Tags taken from old bottles may have no packages file; configured tags must have one.
      if (error instanceof UpstreamError && error.status === 404 && !options.tags) {
        log.info('no packages file upstream for tag; skipped', { tag });
        continue;
      }
      if (error instanceof UpstreamError) throw new SyncAbortedError(`cannot fetch ${file}: ${error.message}`);
      throw error;
    }
  }
  log.info('API verified', { files: apiFiles.size, bottles: wanted.length, tags: tags.length });

  // 3. Manifests (byte-exact, immutable) and sizes.
  const manifests = await mirrorManifests(wanted, { upstream: deps.upstream, objects: deps.objects, concurrency: options.concurrency });
  const failures: RunFailure[] = [];
  const bottlesOf = (predicate: (b: WantedBottle) => boolean) => wanted.filter(predicate);
  for (const failure of manifests.failures) {
    for (const b of bottlesOf((b) => b.image === failure.image && b.manifestRef === failure.ref)) {
      failures.push({ name: b.name, tag: b.tag, reason: `manifest: ${failure.reason}`, permanent: failure.permanent });
    }
  }

  // 4. Plan against what the store holds.
  const stored = new Set<string>();
  for await (const sha of deps.blobs.list()) stored.add(sha);
  const plan = planSync(wanted, manifests.sizes, stored);
  log.info('planned', { transfers: plan.transfers.length, skipped: plan.skipped, bytes: plan.bytesToTransfer, orphans: plan.orphans.length });

  // 5. Transfer with bounded concurrency.
  let transferred = 0;
  let bytes = 0;
  let done = 0;
  const progress = () =>
    deps.onProgress?.({ bottlesDone: done, bottlesTotal: plan.transfers.length, bytesDone: bytes, bytesTotal: plan.bytesToTransfer });
  let next = 0;
  const worker = async () => {
    while (next < plan.transfers.length) {
      const item = plan.transfers[next++];
      const outcome = await transferBlob(item, { upstream: deps.upstream, store: deps.blobs, ...deps.transfer });
      done++;
      if (outcome.status === 'transferred') {
        transferred++;
        bytes += outcome.bytes;
      } else if (outcome.status === 'failed') {
        for (const b of bottlesOf((b) => b.sha256 === item.sha256)) {
          failures.push({ name: b.name, tag: b.tag, reason: outcome.reason, permanent: outcome.permanent });
        }
        log.error('bottle failed', { name: item.name, tag: item.tag, reason: outcome.reason, permanent: outcome.permanent });
      }
      progress();
    }
  };
  progress();
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));

  // 6. Publish only a complete generation.
  const failedShas = new Set(wanted.filter((b) => failures.some((f) => f.name === b.name && f.tag === b.tag)).map((b) => b.sha256));
  const summaryBase = {
    runId,
    bottles: { planned: plan.transfers.length, transferred, skipped: plan.skipped, failed: failedShas.size },
    bytes: { transferred: bytes },
    failures: failures.map(({ name, tag, reason }) => ({ name, tag, reason })),
  };
  const transient = failures.filter((f) => !f.permanent);
  const missingPercent = plan.wantedBlobs === 0 ? 0 : (failedShas.size / plan.wantedBlobs) * 100;
  const maxMissing = options.maxMissingPercent ?? 1;
  if (transient.length > 0) {
    return { ...summaryBase, published: false, error: `${transient.length} bottle(s) failed transiently; rerun to finish` };
  }
  if (missingPercent > maxMissing) {
    return {
      ...summaryBase,
      published: false,
      error: `${failedShas.size} of ${plan.wantedBlobs} bottles (${missingPercent.toFixed(2)}%) are permanently missing, above the ${maxMissing}% limit`,
    };
  }

  const previous = await deps.state.getPublished();
  for (const [file, body] of apiFiles) await deps.objects.putObject(apiKey(runId, file), body);
  const generation: PublishedGeneration = {
    generation: runId,
    runId,
    publishedAt: (deps.now ?? (() => new Date()))().toISOString(),
    files: [...apiFiles.keys()].sort(),
  };
  if (!(await deps.state.setPublished(generation, previous?.generation))) {
    return { ...summaryBase, published: false, error: 'the published generation changed during the run; not overwriting it' };
  }

  // 7. Orphans are marked for the store's delayed expiry, never deleted now.
  const at = (deps.now ?? (() => new Date()))();
  for (const sha of plan.orphans) await deps.blobs.markOrphaned(sha, at);
  for (const b of wanted) if (stored.has(b.sha256)) await deps.blobs.clearOrphaned(b.sha256);
  log.info('published', { generation: runId, orphans: plan.orphans.length, failures: failures.length });
  return { ...summaryBase, published: true, generation: runId };
}
