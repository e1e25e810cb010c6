import { createHash } from 'crypto';
import { urlEncode } from '../homebrew/bottle-names';
import { wantedBottles } from '../homebrew/wanted-bottles';
import { ObjectStore, PublishedGeneration } from '../ports';
import { apiKey } from '../store-layout';
import { MirrorError } from '../errors';

export interface ApiFile {
  readonly body: Buffer;
  /** Strong validator: the sha256 of Homebrew's signed bytes. */
  readonly etag: string;
}

/**
 * Everything needed to answer requests for one published generation, built
 * once and never mutated. The server swaps the whole snapshot when a new
 * generation is published, and each request uses the snapshot it started
 * with, so no response ever mixes two generations.
 */
export interface GenerationSnapshot {
  readonly generation: PublishedGeneration;
  /** HTTP date of the publish, for Last-Modified / If-Modified-Since. */
  readonly lastModified: string;
  /** API files by path (`formula.jws.json`, `internal/packages.<tag>.jws.json`, …). */
  readonly api: ReadonlyMap<string, ApiFile>;
  /** Bottles by unencoded flat file name (`openssl@3-3.2.0_1.arm64_sonoma.bottle.tar.gz`) → sha256. */
  readonly bottles: ReadonlyMap<string, string>;
  /**
   * The same bottles by the name exactly as brew encodes it in a request
   * (`openssl%403-…`), so the usual request is answered without decoding.
   * Other encodings of a name are decoded and looked up in `bottles`.
   */
  readonly bottlesByEncodedName: ReadonlyMap<string, string>;
  /** `<image>:<manifest ref>` pairs this generation names (their indexes are in the store). */
  readonly manifests: ReadonlySet<string>;
  /** Blob digests this generation names. */
  readonly blobs: ReadonlySet<string>;
}

export class SnapshotError extends MirrorError {
  readonly kind = 'verification';
}

/** Loads a published generation's API files and derives its lookup tables. */
export async function loadSnapshot(objects: ObjectStore, generation: PublishedGeneration): Promise<GenerationSnapshot> {
  const api = new Map<string, ApiFile>();
  for (const file of generation.files) {
    const body = await objects.getObject(apiKey(generation.generation, file));
    if (!body) throw new SnapshotError(`generation ${generation.generation} lacks ${file}`);
    api.set(file, { body, etag: `"${createHash('sha256').update(body).digest('hex')}"` });
  }
  const formula = api.get('formula.jws.json');
  if (!formula) throw new SnapshotError(`generation ${generation.generation} has no formula.jws.json`);
  // The sync verified the signature before publishing; here the payload is only parsed.
  const payload = JSON.parse(JSON.parse(formula.body.toString('utf8')).payload);
  const bottles = new Map<string, string>();
  const bottlesByEncodedName = new Map<string, string>();
  const manifests = new Set<string>();
  const blobs = new Set<string>();
  // A formula the sync skipped as unusable is skipped here too (its bottles are clean 404s).
  for (const b of wantedBottles(payload, undefined, true, [])) {
    bottles.set(b.flatFile, b.sha256);
    bottlesByEncodedName.set(urlEncode(b.flatFile), b.sha256);
    manifests.add(`${b.image}:${b.manifestRef}`);
    blobs.add(b.sha256);
  }
  return { generation, lastModified: new Date(generation.publishedAt).toUTCString(), api, bottles, bottlesByEncodedName, manifests, blobs };
}
