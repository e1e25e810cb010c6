import { randomBytes } from 'crypto';
import {
  PhaseDeps,
  SYNC_LEASE,
  SyncOptions,
  SyncSummary,
  emptySummary,
  finalizeRun,
  loadBatch,
  prepareRun,
  transferBatch,
} from './phases';
import { errorKind, isRejectedInput } from '../errors';

export { DEFAULT_API_URL, SYNC_LEASE, SyncAbortedError, packagesFile } from './phases';
export { apiKey } from '../store-layout';
export type { SyncOptions, SyncSummary } from './phases';

export interface SyncProgress {
  readonly bottlesDone: number;
  readonly bottlesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface SyncDeps extends PhaseDeps {
  readonly onProgress?: (progress: SyncProgress) => void;
}

export interface LocalSyncOptions extends SyncOptions {
  /** Run lease lifetime; renewed while the run is alive. Default 15 minutes. */
  readonly leaseTtlMs?: number;
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
  const ttl = options.leaseTtlMs ?? 15 * 60 * 1000;

  if (!(await deps.state.acquireLease(SYNC_LEASE, runId, ttl))) {
    log.warn('another sync holds the run lease');
    return emptySummary(runId, 'another sync is running (run lease held); nothing was changed');
  }
  const renew = setInterval(() => void deps.state.renewLease(SYNC_LEASE, runId, ttl).catch(() => undefined), Math.max(1000, ttl / 3));
  renew.unref();
  await deps.state.putRun({ runId, status: 'running', startedAt: started.toISOString() });
  try {
    const { manifest, plan } = await prepareRun(deps, options, runId, (p) => (p.transfers.length > 0 ? [p.transfers] : []));
    let done = 0;
    let bytes = 0;
    const progress = () =>
      deps.onProgress?.({ bottlesDone: done, bottlesTotal: plan.transfers.length, bytesDone: bytes, bytesTotal: plan.bytesToTransfer });
    progress();
    for (const batchId of manifest.batchIds) {
      await transferBatch(deps, runId, batchId, await loadBatch(deps.objects, runId, batchId), {
        concurrency: options.concurrency,
        onItemDone: (_item, itemBytes) => {
          done++;
          bytes += itemBytes;
          progress();
        },
      });
    }
    return await finalizeRun(deps, runId);
  } catch (error) {
    const message = abortMessage(error);
    log.error('sync aborted; the published mirror is unchanged', { error: message });
    await deps.state.putRun({ runId, status: 'failed', startedAt: started.toISOString(), finishedAt: new Date().toISOString(), error: message });
    await deps.state.releaseLease(SYNC_LEASE, runId);
    return emptySummary(runId, message, errorKind(error));
  } finally {
    clearInterval(renew);
  }
}
