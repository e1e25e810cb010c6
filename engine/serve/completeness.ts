import { BlobStore, ObjectStore } from '../ports';
import { blobKey, bottleIndexKey, manifestKey } from '../store-layout';
import { SERVE_DEFAULTS } from '../defaults';
import { GenerationSnapshot } from './snapshot';

/**
 * Whether every object a generation names is in this store: what a mirror
 * reading a replica checks before it switches to a new generation. The
 * published pointer (a DynamoDB global-table item) reaches the DR region in
 * about a second; the objects it names arrive by S3 replication, minutes
 * later. Serving the new generation before then would answer brew with 404s
 * for bottles the API it just handed out names.
 *
 * Only what is new relative to the generation being served is checked (a
 * weekly run adds a few thousand blobs, not 43,000), each with one HEAD.
 */
export interface MissingObjects {
  readonly count: number;
  /** A few of them, for the log. */
  readonly examples: string[];
}

/**
 * Above this many new bottles, one listing of the blob store (S3 returns
 * 1,000 keys a request) replaces a HEAD each: a task starting with no
 * generation checks the whole catalogue (43,000 bottles: 44 requests instead
 * of 43,000, seconds instead of most of a minute before it listens).
 */
export const LIST_INSTEAD_OF_HEAD_ABOVE = 1000;

export async function missingObjects(
  stores: { readonly objects: ObjectStore; readonly blobs: BlobStore },
  next: GenerationSnapshot,
  current: GenerationSnapshot | undefined,
  concurrency = SERVE_DEFAULTS.completenessConcurrency,
): Promise<MissingObjects> {
  const checks: (() => Promise<string | undefined>)[] = [];
  // The bottle index must be there: a mirror that fell back to parsing formula.jws.json would trust nothing.
  const index = bottleIndexKey(next.generation.generation);
  checks.push(async () => ((await stores.objects.hasObject(index)) ? undefined : index));
  for (const id of next.manifests) {
    if (current?.manifests.has(id)) continue;
    const [image, ref] = [id.slice(0, id.lastIndexOf(':')), id.slice(id.lastIndexOf(':') + 1)];
    const key = manifestKey(image, ref);
    checks.push(async () => ((await stores.objects.hasObject(key)) ? undefined : key));
  }
  const newBlobs = [...next.blobs].filter((sha) => !current?.blobs.has(sha));
  const missing: string[] = [];
  if (newBlobs.length > LIST_INSTEAD_OF_HEAD_ABOVE) {
    const stored = new Set<string>();
    for await (const sha of stores.blobs.list()) stored.add(sha);
    missing.push(...newBlobs.filter((sha) => !stored.has(sha)).map(blobKey));
  } else {
    for (const sha of newBlobs) checks.push(async () => ((await stores.blobs.has(sha)) ? undefined : blobKey(sha)));
  }
  let nextCheck = 0;
  const worker = async () => {
    while (nextCheck < checks.length) {
      const absent = await checks[nextCheck++]();
      if (absent) missing.push(absent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { count: missing.length, examples: missing.slice(0, 3) };
}
