import { SYNC_DEFAULTS } from '../defaults';
import { errorKind } from '../errors';
import { ObjectStore } from '../ports';
import { runKeys } from '../store-layout';
import { BatchResult, PhaseDeps, SyncAbortedError } from './contracts';
import { TransferItem } from './plan';
import { transferBlob } from './transfer';

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
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? SYNC_DEFAULTS.concurrency) }, worker));
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
