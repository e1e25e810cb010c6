import { Dispatcher, Housekeeping, HousekeepingPolicy, SyncTaskJob } from '../ports';
import { housekeepAfterPublish } from './housekeeping';
import { SYNC_DEFAULTS } from '../defaults';
import { loadBatch, stageContinuation, transferBatch } from './batch';
import { BREW_UNIT, CASK_UNIT, PhaseDeps, RunManifest, SyncOptions, SyncSummary, TAP_UNIT, countdownUnits } from './contracts';
import { runBrewUnit } from './brew-phase';
import { runCaskUnit } from './cask-phase';
import { runTapUnit } from './tap-phase';
import { finalizeRun, recordUnchanged } from './finalize';
import { SYNC_LEASE } from './lease';
import { prepareRun } from './prepare';
import { TransferItem } from './plan';
import { DEFAULT_ROUTING, Route, RoutingLimits, routePlan } from './route';
import { abortMessage, newRunId } from './run-sync';
import { RunLeasePolicy, acquireRunLease, currentHolder, heldMessage, recordAbandoned, startHeartbeat } from './lease';
import { runKeys } from '../store-layout';

/**
 * The AWS shape of a sync: the orchestrator Lambda prepares and dispatches,
 * worker Lambdas (or one Fargate task) transfer, and the last one to finish
 * finalizes — decided by an atomic countdown in the state table.
 */

export interface DistributedDeps extends PhaseDeps {
  readonly dispatcher: Dispatcher;
  /**
   * Run after each publish, by whichever process finalized (the bucket's API
   * generations, `S3Housekeeping`); optional. A failure is logged: the
   * generation is published either way.
   */
  readonly housekeeping?: Housekeeping;
  /** Default `DEFAULT_HOUSEKEEPING` (3 generations; `HBS_KEEP_GENERATIONS` in AWS). */
  readonly housekeepingPolicy?: HousekeepingPolicy;
}

/** Finalizes the run and, when it published, prunes old generations. */
async function finalizeAndTidy(deps: DistributedDeps, runId: string): Promise<SyncSummary> {
  const summary = await finalizeRun(deps, runId);
  if (summary.published && deps.housekeeping) {
    await housekeepAfterPublish({ state: deps.state, housekeeping: deps.housekeeping, log: deps.log.child({ runId }) }, deps.housekeepingPolicy);
  }
  return summary;
}

/**
 * Runs outlive the orchestrator: the lease covers the whole run, finalize
 * releases it, and every worker or task renews it while its transfers make
 * progress. A run whose workers all died (or stalled) lets it lapse within
 * 30 minutes, and the next scheduled or manual run takes over, recording the
 * dead one as abandoned. 30 minutes covers the gap between the orchestrator
 * dispatching and the first worker or Fargate task starting.
 */
export const AWS_RUN_LEASE: RunLeasePolicy = { ttlMs: 30 * 60 * 1000, heartbeatMs: 5 * 60 * 1000 };

export type OrchestrateResult =
  | { readonly runId: string; readonly outcome: 'refused'; readonly reason: string }
  | { readonly runId: string; readonly outcome: 'aborted'; readonly reason: string }
  | { readonly runId: string; readonly outcome: 'finalized'; readonly summary: SyncSummary }
  | { readonly runId: string; readonly outcome: 'dispatched'; readonly route: 'lambda' | 'fargate'; readonly batches: number; readonly bytes: number };

export async function orchestrate(
  deps: DistributedDeps,
  options: SyncOptions & { readonly limits?: RoutingLimits },
): Promise<OrchestrateResult> {
  const started = (deps.now ?? (() => new Date()))();
  const runId = newRunId(started);
  const log = deps.log.child({ runId });
  // Lambda sandboxes and tasks are separate machines that may share a host name and pid
  // numbering: a pid cannot be checked across them, so only the TTL frees a lease here.
  const lease = await acquireRunLease(deps.state, runId, { policy: AWS_RUN_LEASE, holder: currentHolder(started), isAlive: () => true });
  if (!lease.acquired) {
    log.warn('another sync holds the run lease', { holder: lease.holder });
    return { runId, outcome: 'refused', reason: heldMessage(lease) };
  }
  if (lease.abandoned && (await recordAbandoned(deps.state, lease.abandoned, runId, started))) {
    log.warn('took the run lease over from a run that stopped without finishing', { abandoned: lease.abandoned });
  }
  await deps.state.putRun({ runId, status: 'running', startedAt: started.toISOString() });

  let route: Route = { kind: 'nothing' };
  try {
    const prepared = await prepareRun(deps, options, runId, (p) => {
      route = routePlan(p, options.limits ?? DEFAULT_ROUTING);
      // The Fargate task takes the whole plan as one batch.
      return route.kind === 'lambda' ? route.batches : route.kind === 'fargate' ? [p.transfers] : [];
    });
    if (prepared.unchanged) return { runId, outcome: 'finalized', summary: await recordUnchanged(deps, runId, started, prepared.unchanged, prepared.plan) };
    const { manifest, plan } = prepared;
    const chosen = route as Route;
    if (chosen.kind === 'nothing' && !manifest.brew && !manifest.casks && !manifest.taps) {
      // Nothing to copy, but the API may still have changed: publish it now.
      return { runId, outcome: 'finalized', summary: await finalizeAndTidy(deps, runId) };
    }
    // The brew phase is one more unit: whichever of the batches and the brew phase ends last finalizes.
    await deps.state.startCountdown(runId, countdownUnits(manifest));
    if (chosen.kind === 'lambda') await deps.dispatcher.dispatchBatches(runId, manifest.batchIds);
    if (chosen.kind === 'fargate') {
      log.info('routing to the Fargate task', { reason: chosen.reason });
      await deps.dispatcher.startLargeSync(runId, 'transfers');
    } else {
      // Lambda has no git: the brew phase runs in the sync task, beside the workers.
      if (manifest.brew) await deps.dispatcher.startLargeSync(runId, 'brew');
      // A cask file may be several GB: it goes to a task of its own, never through a Lambda's memory or /tmp.
      if (manifest.casks) await deps.dispatcher.startLargeSync(runId, 'casks');
      // A tap needs git and Ruby on WASI (about 0.5 GB), and its downloads may be large: the task again.
      if (manifest.taps) await deps.dispatcher.startLargeSync(runId, 'taps');
    }
    const dispatched = chosen.kind === 'nothing' ? 'fargate' : chosen.kind;
    log.info('dispatched', { route: dispatched, batches: manifest.batchIds.length, brew: manifest.brew !== undefined, bytes: plan.bytesToTransfer });
    return { runId, outcome: 'dispatched', route: dispatched, batches: manifest.batchIds.length, bytes: plan.bytesToTransfer };
  } catch (error) {
    const reason = abortMessage(error);
    log.error('sync aborted; the published mirror is unchanged', { error: reason });
    await deps.state.putRun({ runId, status: 'failed', startedAt: started.toISOString(), finishedAt: new Date().toISOString(), error: reason });
    await deps.state.releaseLease(SYNC_LEASE, runId);
    return { runId, outcome: 'aborted', reason };
  }
}

export interface WorkerBudget {
  /** Milliseconds left before the platform stops this process (Lambda: context.getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  /** Stop starting new bottles when less than this is left. Default `SYNC_DEFAULTS.workerReserveMs` (3 minutes). */
  readonly reserveMs?: number;
  readonly concurrency?: number;
}

/**
 * One worker-Lambda batch. Bottles not started while enough time remains are
 * handed to a continuation batch (dispatched like any other) instead of being
 * cut off mid-upload. Returns the summary if this worker finalized the run.
 */
export async function runWorkerBatch(deps: DistributedDeps, runId: string, batchId: string, budget: WorkerBudget): Promise<SyncSummary | undefined> {
  const items = await loadBatch(deps.objects, runId, batchId);
  const reserve = budget.reserveMs ?? SYNC_DEFAULTS.workerReserveMs;
  const stopHeartbeat = startHeartbeat(deps.state, runId, AWS_RUN_LEASE, () => deps.upstream.lastActivityMs, deps.log.child({ runId, batchId }));
  await transferBatch(deps, runId, batchId, items, {
    concurrency: budget.concurrency ?? SYNC_DEFAULTS.concurrency,
    keepGoing: () => budget.remainingMs() > reserve,
    handBack: async (unfinished: TransferItem[]) => {
      const continuation = await stageContinuation(deps.objects, runId, batchId, unfinished);
      await deps.state.addToCountdown(runId, 1); // before this batch counts itself done
      await deps.dispatcher.dispatchBatches(runId, [continuation]);
      return [continuation];
    },
  }).finally(stopHeartbeat);
  return (await deps.state.addToCountdown(runId, -1)) === 0 ? finalizeAndTidy(deps, runId) : undefined;
}

/**
 * The Fargate sync task. For `transfers` it runs every batch of the run that
 * has no result yet (the run's single batch, or a continuation left by a
 * predecessor), then the run's brew phase; for `brew` only the brew phase.
 * After SIGTERM (`stopping()` true, `signal` aborted: Spot reclaim,
 * deployment) it starts no new bottle, lets in-flight uploads finish, stages
 * the unstarted ones as a continuation, stops git, and starts a successor
 * task for the same run and job, as workers do.
 */
export async function runLargeSync(
  deps: DistributedDeps,
  runId: string,
  options: { readonly stopping: () => boolean; readonly signal?: AbortSignal; readonly job?: SyncTaskJob; readonly concurrency?: number },
): Promise<SyncSummary | undefined> {
  const job = options.job ?? 'transfers';
  let finishedUnits = 0;
  const stopHeartbeat = startHeartbeat(deps.state, runId, AWS_RUN_LEASE, () => deps.upstream.lastActivityMs, deps.log.child({ runId }));
  try {
    const handedOver = job === 'transfers' && (await transferPending());
    // `transfers` runs every phase still pending after its batches; `brew`, `casks` and `taps` only their own.
    const phases = { brew: () => runBrewUnit(deps, runId, { onFailure: 'record', signal: options.signal }), casks: () => runCaskUnit(deps, runId, options.signal), taps: () => runTapUnit(deps, runId, options.signal) };
    for (const unit of ['brew', 'casks', 'taps'] as const) {
      if (!handedOver && (job === 'transfers' || job === unit) && (await pending(unit))) await taskPhase(unit, phases[unit]);
    }
  } finally {
    stopHeartbeat();
  }
  if (finishedUnits === 0) return undefined;
  return (await deps.state.addToCountdown(runId, -finishedUnits)) === 0 ? finalizeAndTidy(deps, runId) : undefined;

  /** True when a successor took over the rest of the run. */
  async function transferPending(): Promise<boolean> {
    for (const batchId of await pendingBatches(deps, runId)) {
      const result = await transferBatch(deps, runId, batchId, await loadBatch(deps.objects, runId, batchId), {
        concurrency: options.concurrency ?? SYNC_DEFAULTS.largeSyncConcurrency,
        keepGoing: () => !options.stopping(),
        handBack: async (unfinished: TransferItem[]) => {
          const continuation = await stageContinuation(deps.objects, runId, batchId, unfinished);
          await deps.state.addToCountdown(runId, 1);
          await deps.dispatcher.startLargeSync(runId, 'transfers');
          return [continuation];
        },
      });
      finishedUnits++;
      if (result.continuations.length > 0) return true; // the successor takes it from here, brew phase included
    }
    return false;
  }

  /** True when the run has this phase (`brew`, `casks` or `taps` in its manifest) and no process has reported its result. */
  async function pending(unit: 'brew' | 'casks' | 'taps'): Promise<boolean> {
    const manifest = JSON.parse((await deps.objects.getObject(runKeys.summary(runId)))!.toString('utf8')) as RunManifest;
    return manifest[unit] !== undefined && (await deps.objects.getObject(runKeys.result(runId, { brew: BREW_UNIT, casks: CASK_UNIT, taps: TAP_UNIT }[unit]))) === undefined;
  }

  /**
   * One of the task's own phases (brew needs git; a cask file may be several GB). After SIGTERM,
   * before or during it, it records nothing and a successor task runs it again.
   */
  async function taskPhase(job: 'brew' | 'casks' | 'taps', run: () => Promise<unknown>): Promise<void> {
    if (!options.stopping()) {
      try {
        await run();
        finishedUnits++;
        return;
      } catch (error) {
        if (!options.stopping()) throw error;
      }
    }
    deps.log.child({ runId }).info(`SIGTERM before the ${job} phase finished: a successor task runs it`);
    await deps.dispatcher.startLargeSync(runId, job);
  }
}

/** Batches of the run (following continuations) that no process has reported a result for. */
async function pendingBatches(deps: DistributedDeps, runId: string): Promise<string[]> {
  const manifestBody = await deps.objects.getObject(runKeys.summary(runId));
  if (!manifestBody) throw new Error(`run ${runId} has no staged manifest`);
  const queue = [...(JSON.parse(manifestBody.toString('utf8')) as { batchIds: string[] }).batchIds];
  const pending: string[] = [];
  while (queue.length > 0) {
    const batchId = queue.shift()!;
    const result = await deps.objects.getObject(runKeys.result(runId, batchId));
    if (result) queue.push(...(JSON.parse(result.toString('utf8')) as { continuations: string[] }).continuations);
    else pending.push(batchId);
  }
  return pending;
}
