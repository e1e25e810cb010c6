import { LocalEnvironmentError } from '../errors';
import { StateStore } from '../ports';

/**
 * Which sync a region runs (issue #15). `primary`: the stack's own sync,
 * which runs unless the writer pin names another region. `promoted`: the
 * standby's sync in the DR region, which runs only while the pin names its
 * region. So at most one region writes, and a primary whose region returns
 * after a promotion refuses until an operator hands the pin back.
 */
export type WriterRole = 'primary' | 'promoted';
export const WRITER_ROLES = ['primary', 'promoted'] as const;

/** A sync that may not write here: its run stops before it touches anything, and the message says who writes. */
export class NotTheWriterError extends LocalEnvironmentError {}

/** Throws `NotTheWriterError` unless a sync in `region` with `role` may write now. */
export async function assertWriter(state: StateStore, role: WriterRole, region: string): Promise<void> {
  const pin = await state.readWriterPin();
  if (role === 'primary' && (!pin || pin.region === region)) return;
  if (role === 'promoted' && pin?.region === region) return;
  const runbook = 'docs/operations.md#disaster-recovery';
  throw new NotTheWriterError(
    pin
      ? `${region} is not the writer: the writer pin names ${pin.region} (since ${pin.since}${pin.reason ? `, ${pin.reason}` : ''}); no sync runs here until it names ${region} (${runbook})`
      : `${region} is not the writer: this is the DR region's promoted sync and no writer pin names ${region}; pin it to promote this region (${runbook})`,
  );
}
