import { SyncPlan, TransferItem } from './plan';

const GIB = 1024 ** 3;

export interface RoutingLimits {
  /** Plans moving more bytes than this go to the Fargate task. Default 20 GiB. */
  readonly lambdaThresholdBytes: number;
  /**
   * Bytes per worker batch. At a conservative 20 MB/s per worker, 4 GiB takes
   * ~3.5 minutes: well inside Lambda's 15-minute limit, with room for retries.
   */
  readonly maxBatchBytes: number;
  /** Bottles per batch (per-request overhead dominates for small bottles). */
  readonly maxBatchItems: number;
  /** Size assumed for a bottle whose manifest gave none, when filling batches. */
  readonly unknownSizeEstimate: number;
}

export const DEFAULT_ROUTING: RoutingLimits = {
  lambdaThresholdBytes: 20 * GIB,
  maxBatchBytes: 4 * GIB,
  maxBatchItems: 200,
  unknownSizeEstimate: 64 * 1024 ** 2,
};

export type Route =
  | { readonly kind: 'nothing' }
  | { readonly kind: 'lambda'; readonly batches: TransferItem[][] }
  | { readonly kind: 'fargate'; readonly reason: string };

/**
 * Decides where a plan runs: nothing to do, worker-Lambda batches (bounded by
 * bytes and count), or the Fargate task when the plan is larger than the
 * threshold or a single bottle would not fit in a worker batch.
 */
export function routePlan(plan: SyncPlan, limits: RoutingLimits = DEFAULT_ROUTING): Route {
  if (plan.transfers.length === 0) return { kind: 'nothing' };
  const sizeOf = (item: TransferItem) => item.size ?? limits.unknownSizeEstimate;
  const estimated = plan.transfers.reduce((sum, item) => sum + sizeOf(item), 0);
  if (estimated > limits.lambdaThresholdBytes) {
    return { kind: 'fargate', reason: `${estimated} bytes exceed the Lambda threshold of ${limits.lambdaThresholdBytes}` };
  }
  const tooBig = plan.transfers.find((item) => sizeOf(item) > limits.maxBatchBytes);
  if (tooBig) {
    return { kind: 'fargate', reason: `${tooBig.name} ${tooBig.tag} (${sizeOf(tooBig)} bytes) is larger than a worker batch` };
  }

  // First-fit decreasing: transfers arrive largest first, each goes into the first batch with room.
  const batches: { items: TransferItem[]; bytes: number }[] = [];
  for (const item of plan.transfers) {
    const size = sizeOf(item);
    const batch = batches.find((b) => b.items.length < limits.maxBatchItems && b.bytes + size <= limits.maxBatchBytes);
    if (batch) {
      batch.items.push(item);
      batch.bytes += size;
    } else {
      batches.push({ items: [item], bytes: size });
    }
  }
  return { kind: 'lambda', batches: batches.map((b) => b.items) };
}
