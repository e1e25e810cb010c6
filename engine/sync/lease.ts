import { hostname } from 'os';
import { Logger } from '../logger';
import { LeaseHolder, StateStore } from '../ports';

/**
 * The run lease: one sync at a time per store, and never a run held up by a
 * dead one. The lease records its holder (host, pid, start); it is short and
 * renewed by a heartbeat only while the run makes progress, so a holder that
 * died is taken over at once when it ran on this host (its pid is gone) and
 * within one TTL anywhere else, and a stalled run lets its lease lapse.
 */

export const SYNC_LEASE = 'sync';

export interface RunLeasePolicy {
  /** Lease lifetime; a holder silent this long is taken over. */
  readonly ttlMs: number;
  /** How often the heartbeat renews while the run makes progress. */
  readonly heartbeatMs: number;
}

/** `bottles sync`: a one-minute lease, renewed every 15 s. */
export const LOCAL_RUN_LEASE: RunLeasePolicy = { ttlMs: 60_000, heartbeatMs: 15_000 };

export function currentHolder(now: Date = new Date()): LeaseHolder {
  return { host: hostname(), pid: process.pid, startedAt: now.toISOString() };
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type LeaseOutcome =
  | { readonly acquired: true; /** A previous run that never finished: its process died or went silent. */ readonly abandoned?: string }
  | { readonly acquired: false; readonly holder?: LeaseHolder; readonly expiresAtMs: number };

export interface AcquireRunLeaseOptions {
  readonly policy: RunLeasePolicy;
  readonly holder: LeaseHolder;
  readonly now?: () => number;
  /** Injectable for tests. Default: `processAlive`. */
  readonly isAlive?: (pid: number) => boolean;
}

/**
 * Takes the run lease for `runId`. A live lease is taken over when its holder
 * ran on this host and its process is gone; an expired one is simply taken.
 * Either way the previous owner is returned as abandoned, for the caller to record.
 */
export async function acquireRunLease(state: StateStore, runId: string, options: AcquireRunLeaseOptions): Promise<LeaseOutcome> {
  const now = (options.now ?? Date.now)();
  const isAlive = options.isAlive ?? processAlive;
  const current = await state.readLease(SYNC_LEASE);
  const previous = current?.owner && current.owner !== runId ? current.owner : undefined;
  const live = previous !== undefined && current!.expiresAtMs > now;
  const dead = live && current!.holder?.host === options.holder.host && current!.holder.pid !== options.holder.pid && !isAlive(current!.holder.pid);
  if (live && !dead) return { acquired: false, holder: current!.holder, expiresAtMs: current!.expiresAtMs };
  const acquired = await state.acquireLease(SYNC_LEASE, runId, options.policy.ttlMs, { holder: options.holder, takeOverFrom: dead ? previous : undefined });
  if (!acquired) {
    const winner = await state.readLease(SYNC_LEASE); // another run got there first
    return { acquired: false, holder: winner?.holder, expiresAtMs: winner?.expiresAtMs ?? now };
  }
  return { acquired: true, abandoned: previous };
}

/** Marks a run that never finished as abandoned, if its record still says running. */
export async function recordAbandoned(state: StateStore, runId: string, by: string, now: Date): Promise<boolean> {
  const record = await state.getRun(runId);
  if (!record || record.status !== 'running') return false;
  await state.putRun({ ...record, status: 'abandoned', finishedAt: now.toISOString(), error: `its process stopped before it finished; run ${by} took the lease over` });
  return true;
}

/** Why a sync is refused, naming the holder so the operator can check on it. */
export function heldMessage(outcome: Extract<LeaseOutcome, { acquired: false }>, now: number = Date.now()): string {
  const h = outcome.holder;
  const who = h ? `pid ${h.pid} on ${h.host}, started ${h.startedAt}` : 'another process';
  const seconds = Math.max(0, Math.ceil((outcome.expiresAtMs - now) / 1000));
  return `another sync is running (${who}); nothing was changed. Its lease lapses ${seconds} s after its last sign of progress`;
}

/**
 * Renews the lease every `heartbeatMs` while the run shows progress
 * (`lastProgressMs` within one TTL). A stalled run stops renewing, so its
 * lease lapses and the next sync can start. Returns the stop function.
 */
export function startHeartbeat(
  state: StateStore,
  runId: string,
  policy: RunLeasePolicy,
  lastProgressMs: () => number,
  log: Logger,
  now: () => number = Date.now,
): () => void {
  let warned = false;
  const timer = setInterval(() => {
    if (now() - lastProgressMs() >= policy.ttlMs) {
      if (!warned) log.warn('no progress for a whole lease lifetime; letting the run lease lapse', { ttlMs: policy.ttlMs });
      warned = true;
      return;
    }
    warned = false;
    void state.renewLease(SYNC_LEASE, runId, policy.ttlMs).catch((error) => log.warn('lease renewal failed', { error: (error as Error).message }));
  }, policy.heartbeatMs);
  timer.unref();
  return () => clearInterval(timer);
}
