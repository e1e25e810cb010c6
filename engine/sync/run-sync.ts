import { randomBytes } from 'crypto';
import { loadBatch, transferBatch } from './batch';
import { PhaseDeps, SyncOptions, SyncSummary, emptySummary } from './contracts';
import { runBrewUnit } from './brew-phase';
import { runCaskUnit } from './cask-phase';
import { runTapUnit } from './tap-phase';
import { finalizeRun, recordUnchanged } from './finalize';
import { prepareRun } from './prepare';
import { errorKind, isRejectedInput } from '../errors';
import { Logger } from '../logger';
import { Housekeeping, RunLeftovers } from '../ports';
import { housekeepAfterPublish } from './housekeeping';
import { LOCAL_RUN_LEASE, RunLeasePolicy, SYNC_LEASE, acquireRunLease, currentHolder, heldMessage, recordAbandoned, startHeartbeat } from './lease';


/** What a run is doing, for a progress display: verifying the API, mirroring image indexes, or transferring. */
export type SyncProgress =
  | { readonly phase: 'api' }
  | { readonly phase: 'manifests'; readonly done: number; readonly total: number }
  | {
      readonly phase: 'transfer';
      readonly bottlesDone: number;
      readonly bottlesTotal: number;
      /** Bytes received so far, bottles in flight included (an attempt that fails gives its bytes back). */
      readonly bytesDone: number;
      readonly bytesTotal: number;
    };

export interface SyncDeps extends PhaseDeps {
  readonly onProgress?: (progress: SyncProgress) => void;
  /** Cleans up after failed and dead runs (the directory store); optional. */
  readonly leftovers?: RunLeftovers;
  /** Run after each publish (the directory store; S3 has lifecycle rules); optional. */
  readonly housekeeping?: Housekeeping;
}

export interface LocalSyncOptions extends SyncOptions {
  /** Run lease lifetime and heartbeat. Default `LOCAL_RUN_LEASE` (60 s, renewed every 15 s while the run progresses). */
  readonly lease?: RunLeasePolicy;
  /**
   * Aborted on Ctrl-C or SIGTERM: no new bottle starts, requests in flight are
   * ended, staged files are removed, the lease is released and the run is
   * recorded as interrupted. The published mirror is unchanged.
   */
  readonly signal?: AbortSignal;
}

/** Sortable, unique run id, e.g. `20261122T030000Z-a1b2c3`. */
export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Turns the errors that mean "bad input, nothing changed" into a message; rethrows anything else. */
export function abortMessage(error: unknown): string {
  const kind = errorKind(error);
  if (isRejectedInput(error) || kind === 'usage' || kind === 'local-environment') return (error as Error).message;
  return `unexpected error: ${(error as Error).message}`;
}

/**
 * A whole sync in this process (`bottles sync`): the same phases the AWS
 * deployment spreads over Lambdas and Fargate, with one batch run in place.
 * The last published generation is only ever replaced by a complete new one.
 */
export async function runSync(deps: SyncDeps, options: LocalSyncOptions): Promise<SyncSummary> {
  const started = (deps.now ?? (() => new Date()))();
  const runId = newRunId(started);
  const log = deps.log.child({ runId });
  const policy = options.lease ?? LOCAL_RUN_LEASE;

  const lease = await acquireRunLease(deps.state, runId, { policy, holder: currentHolder(started) });
  if (!lease.acquired) {
    log.warn('another sync holds the run lease', { holder: lease.holder });
    return emptySummary(runId, heldMessage(lease));
  }
  if (lease.abandoned) await cleanUpAbandoned(deps, lease.abandoned, runId, log);
  const removed = (await deps.leftovers?.removePartials()) ?? 0;
  if (removed > 0) log.info('removed partial files of unfinished writes', { removed });

  // Progress is upstream traffic, or a bottle finished (a slow local store still counts).
  let lastProgressMs = Date.now();
  const stopHeartbeat = startHeartbeat(deps.state, runId, policy, () => Math.max(lastProgressMs, deps.upstream.lastActivityMs), log);
  const interrupt = () => deps.upstream.abortAll('interrupted');
  options.signal?.addEventListener('abort', interrupt, { once: true });
  await deps.state.putRun({ runId, status: 'running', startedAt: started.toISOString() });
  try {
    deps.onProgress?.({ phase: 'api' });
    const planning = { ...deps, onManifest: deps.onProgress && ((done: number, total: number) => deps.onProgress!({ phase: 'manifests', done, total })) };
    const prepared = await prepareRun(planning, options, runId, (p) => (p.transfers.length > 0 ? [p.transfers] : []));
    if (prepared.unchanged) return await recordUnchanged(deps, runId, started, prepared.unchanged, prepared.plan);
    const { manifest, plan } = prepared;
    let done = 0;
    let bytes = 0;
    const progress = () =>
      deps.onProgress?.({ phase: 'transfer', bottlesDone: done, bottlesTotal: plan.transfers.length, bytesDone: bytes, bytesTotal: plan.bytesToTransfer });
    progress();
    const transferDeps = { ...deps, transfer: { ...deps.transfer, onBytes: (n: number) => ((bytes += n), progress()) } };
    for (const batchId of manifest.batchIds) {
      if (options.signal?.aborted) break;
      await transferBatch(transferDeps, runId, batchId, await loadBatch(deps.objects, runId, batchId), {
        concurrency: options.concurrency,
        keepGoing: () => !options.signal?.aborted,
        onItemDone: () => {
          done++;
          lastProgressMs = Date.now();
          progress();
        },
      });
    }
    if (options.signal?.aborted) throw new SyncInterruptedError();
    if (manifest.casks) await runCaskUnit(deps, runId, options.signal);
    if (options.signal?.aborted) throw new SyncInterruptedError();
    if (manifest.taps) await runTapUnit(deps, runId, options.signal);
    if (options.signal?.aborted) throw new SyncInterruptedError();
    if (manifest.brew) await runBrewUnit(deps, runId, { onFailure: 'throw', signal: options.signal });
    if (options.signal?.aborted) throw new SyncInterruptedError();
    const summary = await finalizeRun(deps, runId);
    if (summary.published && deps.housekeeping) await housekeepAfterPublish({ state: deps.state, housekeeping: deps.housekeeping, log });
    return summary;
  } catch (error) {
    const interrupted = options.signal?.aborted === true;
    const message = interrupted ? new SyncInterruptedError().message : abortMessage(error);
    log.error(interrupted ? 'sync interrupted; the published mirror is unchanged' : 'sync aborted; the published mirror is unchanged', { error: message });
    await deps.state.putRun({ runId, status: interrupted ? 'interrupted' : 'failed', startedAt: started.toISOString(), finishedAt: new Date().toISOString(), error: message });
    await deps.leftovers?.discardRun(runId);
    await deps.state.releaseLease(SYNC_LEASE, runId);
    return { ...emptySummary(runId, message, interrupted ? undefined : errorKind(error)), ...(interrupted ? { interrupted: true } : {}) };
  } finally {
    stopHeartbeat();
    options.signal?.removeEventListener('abort', interrupt);
  }
}

/** Stopped by a signal; nothing was published. */
export class SyncInterruptedError extends Error {
  constructor() {
    super('interrupted: no new bottle was started, transfers in flight were stopped and staged files removed; the published mirror is unchanged');
  }
}

/** Records a dead run as abandoned and removes what it staged (never a published generation). */
async function cleanUpAbandoned(deps: SyncDeps, abandoned: string, by: string, log: Logger): Promise<void> {
  const marked = await recordAbandoned(deps.state, abandoned, by, new Date());
  log.warn('took the run lease over from a run that stopped without finishing', { abandoned, recordedAsAbandoned: marked });
  if ((await deps.state.getPublished())?.generation !== abandoned) await deps.leftovers?.discardRun(abandoned);
}

