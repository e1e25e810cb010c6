import { BlobStore } from '../ports';
import { Upstream } from '../upstream/client';
import { CaskFailure } from './cask-record';
import { admit } from './mirror-casks';
import { WantedCaskFile } from './cask-selection';

/** A dry run's cask figures for one tag, like the bottles'. */
export interface CaskPlanRow {
  readonly tag: string;
  readonly files: number;
  readonly toTransfer: number;
  /** Bytes to download, where the vendor announces a length. */
  readonly bytes: number;
  readonly unknownSizes: number;
}

/**
 * What the cask phase would download, per tag, without storing anything:
 * files already stored are counted as such; for the rest, the vendor's
 * response headers give the size (the request is dropped before its body),
 * asked once per file however many tags share it. Casks the run would refuse
 * (`:no_check` without the opt-in, a download it cannot make) are failures.
 */
export async function planCasks(
  deps: { readonly upstream: Upstream; readonly blobs: BlobStore },
  files: readonly WantedCaskFile[],
  allowUnpinned: readonly string[],
): Promise<{ tags: CaskPlanRow[]; failures: CaskFailure[] }> {
  const rows = new Map<string, { tag: string; files: number; toTransfer: number; bytes: number; unknownSizes: number }>();
  const failures: CaskFailure[] = [];
  const sizes = new Map<string, number | undefined | Error>();
  for (const file of files) {
    const row = rows.get(file.tag) ?? { tag: file.tag, files: 0, toTransfer: 0, bytes: 0, unknownSizes: 0 };
    rows.set(file.tag, row);
    const admitted = admit(file, new Set(allowUnpinned));
    if ('refused' in admitted) failures.push({ token: file.token, tag: file.tag, reason: admitted.refused, refused: true });
    else {
      row.files++;
      if (file.sha256 && (await deps.blobs.has(file.sha256))) continue;
      row.toTransfer++;
      if (!sizes.has(file.url)) sizes.set(file.url, await announcedLength(deps.upstream, file.url, admitted.headers));
      const size = sizes.get(file.url);
      if (size instanceof Error) failures.push({ token: file.token, tag: file.tag, reason: size.message });
      if (typeof size === 'number') row.bytes += size;
      else row.unknownSizes++;
    }
  }
  return { tags: [...rows.values()].sort((a, b) => a.tag.localeCompare(b.tag)), failures };
}

/** The length a vendor announces for `url` (its response is dropped before the body), or the error that stopped it. */
export async function announcedLength(upstream: Upstream, url: string, headers: Record<string, string>): Promise<number | undefined | Error> {
  try {
    const response = await upstream.get(url, undefined, false, true, headers);
    response.cancel();
    return response.length;
  } catch (error) {
    return error as Error;
  }
}
