import { BlobIntegrityError, BlobStore } from '../ports';
import { Upstream, cutAt, redactUrl } from './client';

/**
 * A vendor download (a cask file, a tap's download) opened under a size
 * limit: the body, cut at its announced length or the limit, or why not.
 * `setting` names the variable that changes the limit, for the report.
 */
export async function openWithinLimit(
  upstream: Upstream,
  url: string,
  limit: { readonly maxBytes: number; readonly setting: string },
  headers?: Readonly<Record<string, string>>,
): Promise<{ body: AsyncIterable<Uint8Array>; length?: number } | { reason: string }> {
  const response = await upstream.get(url, undefined, false, true, headers);
  if (response.length !== undefined && response.length > limit.maxBytes) {
    response.cancel();
    return { reason: `${redactUrl(url)} is ${response.length} bytes, over the ${limit.maxBytes}-byte limit (${limit.setting})` };
  }
  return { body: cutAt(response.body, response.length ?? limit.maxBytes, response.url), length: response.length };
}

/**
 * Fetches `url` into the blob store unless a blob of `sha256` is stored; the
 * store keeps the bytes only if they hash to `sha256` (streamed: memory stays
 * flat at any size). Wrong bytes are a reason naming both digests; `expected`
 * says whose digest it was (`the signed …`, `the … the tap names`).
 */
export async function downloadVerified(
  deps: { readonly upstream: Upstream; readonly blobs: BlobStore },
  url: string,
  sha256: string,
  options: { readonly maxBytes: number; readonly setting: string; readonly expected: string; readonly headers?: Readonly<Record<string, string>> },
): Promise<{ size: number; downloaded: boolean } | { reason: string }> {
  const stored = await deps.blobs.size(sha256);
  if (stored !== undefined) return { size: stored, downloaded: false };
  const opened = await openWithinLimit(deps.upstream, url, options, options.headers);
  if ('reason' in opened) return opened;
  try {
    const { bytes } = await deps.blobs.put(opened.body, { sha256, length: opened.length });
    return { size: bytes, downloaded: true };
  } catch (error) {
    const got = error instanceof BlobIntegrityError ? error.actualSha256 : undefined;
    if (got) return { reason: `${redactUrl(url)} served a file whose sha256 is ${got}, not ${options.expected}; not kept` };
    throw error;
  }
}
