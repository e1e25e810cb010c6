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
}

/** Every blob a record names (kept from orphan expiry while the published generation names them). */
export const caskBlobs = (record: CaskRecord | undefined): string[] => [...new Set((record?.files ?? []).map((f) => f.sha256))];

export async function loadCaskRecord(objects: ObjectStore, generation: string): Promise<CaskRecord | undefined> {
  const body = await objects.getObject(caskRecordKey(generation));
  return body ? (JSON.parse(body.toString('utf8')) as CaskRecord) : undefined;
}
