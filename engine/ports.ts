/**
 * Ports: what the sync engine needs from the outside world. Adapters live in
 * `engine/adapters/aws` (S3, DynamoDB, ElastiCache, Lambda, ECS) and
 * `engine/adapters/local` (a directory, an embedded state file, in-process).
 */

/** Hands planned work to compute. The plan itself is in the store; only ids travel. */
export interface Dispatcher {
  /** Starts one asynchronous worker per batch. */
  dispatchBatches(runId: string, batchIds: readonly string[]): Promise<void>;
  /** Starts the large-sync task for a run; returns its identifier (task ARN). */
  startLargeSync(runId: string): Promise<string>;
}
