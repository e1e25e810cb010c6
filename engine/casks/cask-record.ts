import { ObjectStore } from '../ports';
import { caskRecordKey } from '../store-layout';

/**
 * What one generation serves of casks, written by the run's cask phase into
 * its staged generation (`_mirror/casks.json`), so it is published and ages
 * out with the generation's API files. Every file it names is stored first.
 */
export interface CaskRecord {
  readonly files: readonly CaskFileRecord[];
  /** Casks selected for a tag that the run could not mirror, and why. */
  readonly failures: readonly CaskFailure[];
}

export interface CaskFileRecord {
  readonly token: string;
  readonly tag: string;
  readonly version: string;
  readonly url: string;
  readonly sha256: string;
  readonly size: number;
  readonly fileName: string;
  /** A `:no_check` cask the operator allowed: the sha256 is what the sync saw, not one Homebrew signed. */
  readonly unpinned?: true;
}

export interface CaskFailure {
  readonly token: string;
  readonly tag: string;
  readonly reason: string;
  /**
   * Decided by the signed API and the options alone (`:no_check` not allowed, a download the sync
   * cannot make, a malformed entry): the same next week, so no reason to run again. Otherwise the
   * vendor failed (an error, wrong bytes), and a run with an unchanged API tries it again.
   */
  readonly refused?: true;
}

/** True when a record's failures include one a new run might not repeat (a vendor's, not a refusal). */
export const hasRetryableFailures = (record: CaskRecord | undefined): boolean => record === undefined || record.failures.some((f) => !f.refused);

/** Every blob a record names (kept from orphan expiry while the published generation names them). */
export const caskBlobs = (record: CaskRecord | undefined): string[] => [...new Set((record?.files ?? []).map((f) => f.sha256))];

export async function loadCaskRecord(objects: Pick<ObjectStore, 'getObject'>, generation: string): Promise<CaskRecord | undefined> {
  const body = await objects.getObject(caskRecordKey(generation));
  return body ? (JSON.parse(body.toString('utf8')) as CaskRecord) : undefined;
}

/**
 * The blobs a bundle's `casks.json` names, each pinned one checked against
 * `signed` (the cask digests the signed packages files give), or why not.
 * An unpinned (`:no_check`) file has no signed digest to match; it stays
 * marked so wherever it is served.
 */
export function checkedCaskBlobs(body: Buffer, signed: ReadonlySet<string>): string[] | string {
  let record: CaskRecord;
  try {
    record = JSON.parse(body.toString('utf8')) as CaskRecord;
  } catch {
    return 'casks.json is not JSON';
  }
  const blobs: string[] = [];
  for (const file of record.files ?? []) {
    if (!file.unpinned && !signed.has(file.sha256)) return `casks.json names ${file.token} (${file.tag}) with digest ${file.sha256}, which no signed packages file gives a cask`;
    blobs.push(file.sha256);
  }
  return blobs;
}
