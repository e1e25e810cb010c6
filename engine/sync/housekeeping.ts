import { Logger } from '../logger';
import { Housekeeping, HousekeepingPolicy, HousekeepingReport, StateStore } from '../ports';
import { ORPHAN_EXPIRY_DAYS } from '../runtime-config';
import { LOCAL_RUN_LEASE, SYNC_LEASE, acquireRunLease, currentHolder, heldMessage } from './lease';
import { randomBytes } from 'crypto';

/**
 * The defaults mirror the AWS side: orphaned bottles expire after the
 * bucket's 90 days, run records after the state table's year; three
 * generations leave two to roll back to.
 */
export const DEFAULT_HOUSEKEEPING: HousekeepingPolicy = { keepGenerations: 3, runRecordDays: 365, orphanGraceDays: ORPHAN_EXPIRY_DAYS };

export type HousekeepingOutcome = { readonly ran: true; readonly report: HousekeepingReport } | { readonly ran: false; readonly reason: string };

/**
 * Housekeeping under the run lease, so it never races a sync (whose staged
 * generation and plan it would otherwise remove): `bottles gc`, and every
 * local sync after it publishes.
 */
export async function runHousekeeping(
  deps: { readonly state: StateStore; readonly housekeeping: Housekeeping; readonly log: Logger },
  policy: HousekeepingPolicy = DEFAULT_HOUSEKEEPING,
  now: Date = new Date(),
): Promise<HousekeepingOutcome> {
  const owner = `gc-${now.getTime()}-${randomBytes(3).toString('hex')}`;
  const lease = await acquireRunLease(deps.state, owner, { policy: LOCAL_RUN_LEASE, holder: currentHolder(now) });
  if (!lease.acquired) return { ran: false, reason: heldMessage(lease) };
  try {
    const report = await deps.housekeeping.collect(policy, now);
    deps.log.info('housekeeping', { ...report, generationsKept: report.generationsKept.length, generationsRemoved: report.generationsRemoved.length });
    return { ran: true, report };
  } finally {
    await deps.state.releaseLease(SYNC_LEASE, owner);
  }
}

/**
 * Housekeeping after a publish, by whichever process published (`bottles sync`,
 * or the AWS worker or task that finalized): a failure is logged and never
 * fails the run, whose generation is published either way.
 */
export async function housekeepAfterPublish(
  deps: { readonly state: StateStore; readonly housekeeping: Housekeeping; readonly log: Logger },
  policy?: HousekeepingPolicy,
): Promise<void> {
  await runHousekeeping(deps, policy).catch((error) => deps.log.warn('housekeeping failed; the generation is published', { error: (error as Error).message }));
}
