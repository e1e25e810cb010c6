import { createHash } from 'crypto';
import { urlEncode } from '../homebrew/bottle-names';
import { formulaEntries, wantedBottles } from '../homebrew/wanted-bottles';
import { ObjectStore, PublishedGeneration } from '../ports';
import { NamedBottles } from './named-bottles';
import { apiKey, bottleIndexKey, installScriptKey, namedBottlesKey, selectionRecordKey } from '../store-layout';
import { BrewRecord, loadBrewRecord, servedRubies } from '../brew/brew-record';
import { CaskRecord, loadCaskRecord } from '../casks/cask-record';
import { MirroredTap, TapFileRecord, TapRecord, loadTapRecord } from '../taps/tap-record';
import type { NotServedEntry } from '../brewfile/not-served';
import { IndexedBottle, decodeBottleIndex } from '../bottle-index';
import { MirrorError } from '../errors';

export interface ApiFile {
  /** The bytes, for files up to `API_FILE_IN_MEMORY_BYTES`; larger ones are streamed from the store per request. */
  readonly body?: Buffer;
  readonly size: number;
  /** Strong validator: the sha256 of Homebrew's signed bytes. */
  readonly etag: string;
}

/**
 * API files up to this size are held in memory; larger ones (formula.jws.json
 * is about 33 MB, cask.jws.json several) are streamed from the store, so a
 * mirror serving a Homebrew-size generation stays small. Their gzip encoding,
 * which brew asks for, is kept in memory once made.
 */
export const API_FILE_IN_MEMORY_BYTES = 1024 * 1024;

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
  /** Blob digests this generation names (bottles, and the portable Rubies of its brew releases). */
  readonly blobs: ReadonlySet<string>;
  /** Bottles per platform tag (`all` included), for the page at `/`. */
  readonly bottlesPerTag: ReadonlyMap<string, number>;
  /** brew itself, when the generation serves it: brew.git and the install script. */
  readonly brew?: BrewSnapshot;
  /** With pull-through on: what the signed API names beyond the mirrored bottles, which may be fetched on request. */
  readonly named?: NamedBottles;
  /** Cask files this generation serves at `/casks/<sha256>`, with the name clients save them under; and the record. */
  readonly casks?: { readonly bySha: ReadonlyMap<string, string>; readonly record: CaskRecord; readonly bytes: number };
  /** Taps this generation serves at `/taps/<user>/<repo>.git`, and their downloads at `/dl/<host><path>` by key. */
  readonly taps?: { readonly byName: ReadonlyMap<string, MirroredTap>; readonly downloads: ReadonlyMap<string, TapFileRecord>; readonly record: TapRecord };
  /** Brewfile entries the generation's selection named that the mirror cannot serve. */
  readonly notServed?: readonly NotServedEntry[];
}

/** What a generation serves of brew (its portable Rubies are in `bottles` and `blobs` like any bottle). */
export interface BrewSnapshot {
  readonly record: BrewRecord;
  /** Homebrew/install's script, byte for byte. */
  readonly installScript?: Buffer;
}

/** The platform tag in a flat bottle name: `<name>-<version>.<tag>.bottle[.<rebuild>].tar.gz`. */
const BOTTLE_TAG = /\.([a-z0-9_]+)\.bottle(?:\.\d+)?\.tar\.gz$/;

export class SnapshotError extends MirrorError {
  readonly kind = 'verification';
}

export interface SnapshotOptions {
  /** Also load what pull-through may fetch (`named`). @default false */
  readonly pullThrough?: boolean;
}

/** Loads a published generation's API files and derives its lookup tables. */
export async function loadSnapshot(objects: ObjectStore, generation: PublishedGeneration, options: SnapshotOptions = {}): Promise<GenerationSnapshot> {
  const api = new Map<string, ApiFile>();
  for (const file of generation.files) api.set(file, await loadApiFile(objects, generation.generation, file));
  if (!api.has('formula.jws.json')) throw new SnapshotError(`generation ${generation.generation} has no formula.jws.json`);
  const bottles = new Map<string, string>();
  const bottlesByEncodedName = new Map<string, string>();
  const manifests = new Set<string>();
  const blobs = new Set<string>();
  const bottlesPerTag = new Map<string, number>();
  for (const b of await indexedBottles(objects, generation)) {
    const tag = BOTTLE_TAG.exec(b.flatFile)?.[1] ?? 'unknown';
    bottlesPerTag.set(tag, (bottlesPerTag.get(tag) ?? 0) + 1);
    bottles.set(b.flatFile, b.sha256);
    bottlesByEncodedName.set(urlEncode(b.flatFile), b.sha256);
    manifests.add(`${b.image}:${b.manifestRef}`);
    blobs.add(b.sha256);
  }
  const brew = await loadBrew(objects, generation.generation);
  // brew asks for portable Ruby in either layout: `/v2/homebrew/core/portable-ruby/blobs/sha256:<pin>`
  // (the digest route) or `<bottle domain>/portable-ruby-<version>.<tag>.bottle.tar.gz` (the flat route).
  for (const ruby of servedRubies(brew?.record)) {
    bottles.set(ruby.file, ruby.sha256);
    bottlesByEncodedName.set(urlEncode(ruby.file), ruby.sha256);
    blobs.add(ruby.sha256);
  }
  const named = options.pullThrough ? await loadNamed(objects, generation.generation, bottles) : undefined;
  const caskRecord = await loadCaskRecord(objects, generation.generation);
  const casks = caskRecord && {
    bySha: new Map(caskRecord.files.map((f) => [f.sha256, f.fileName] as const)),
    record: caskRecord,
    bytes: caskRecord.files.reduce((n, f) => n + f.size, 0),
  };
  const tapRecord = await loadTapRecord(objects, generation.generation);
  const taps = tapRecord && {
    byName: new Map(tapRecord.taps.map((t) => [t.name, t] as const)),
    downloads: new Map(tapRecord.taps.flatMap((t) => t.downloads.map((d) => [d.key, d] as const))),
    record: tapRecord,
  };
  const selection = await objects.getObject(selectionRecordKey(generation.generation));
  const notServed = selection ? (JSON.parse(selection.toString('utf8')) as { notServed: NotServedEntry[] }).notServed : undefined;
  return { generation, lastModified: new Date(generation.publishedAt).toUTCString(), api, bottles, bottlesByEncodedName, manifests, blobs, brew, bottlesPerTag, named, casks, taps, notServed };
}

/** The named bottles a partial mirror lacks; none for a whole mirror (no named index) or one published before it existed. */
async function loadNamed(objects: ObjectStore, generation: string, mirrored: ReadonlyMap<string, string>): Promise<NamedBottles> {
  return new NamedBottles(await objects.getObject(namedBottlesKey(generation)), mirrored);
}

async function loadBrew(objects: ObjectStore, generation: string): Promise<BrewSnapshot | undefined> {
  const record = await loadBrewRecord(objects, generation);
  if (!record) return undefined;
  const installScript = record.installScript ? await objects.getObject(installScriptKey(generation)) : undefined;
  if (record.installScript && !installScript) throw new SnapshotError(`generation ${generation} lacks its install script`);
  return { record, installScript };
}

/**
 * The generation's bottles: from the bottle index the sync wrote, or, for a
 * generation published before indexes existed, from formula.jws.json (parsed
 * one formula at a time; one the sync skipped as unusable is skipped here too).
 */
async function indexedBottles(objects: ObjectStore, generation: PublishedGeneration): Promise<Iterable<IndexedBottle>> {
  const index = await objects.getObject(bottleIndexKey(generation.generation));
  if (index) return decodeBottleIndex(index);
  const formulaFile = await objects.getObject(apiKey(generation.generation, 'formula.jws.json'));
  if (!formulaFile) throw new SnapshotError(`generation ${generation.generation} lacks formula.jws.json`);
  // The sync verified the signature before publishing; here the payload is only parsed.
  return wantedBottles(formulaEntries((JSON.parse(formulaFile.toString('utf8')) as { payload: string }).payload), undefined, true, []);
}

/** An API file's size and ETag, hashed as it streams; its bytes only when small. */
async function loadApiFile(objects: ObjectStore, generation: string, file: string): Promise<ApiFile> {
  const stream = await objects.readObject(apiKey(generation, file));
  if (!stream) throw new SnapshotError(`generation ${generation} lacks ${file}`);
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
    if (size <= API_FILE_IN_MEMORY_BYTES) chunks.push(Buffer.from(chunk));
    else chunks.length = 0;
  }
  const etag = `"${hash.digest('hex')}"`;
  return size <= API_FILE_IN_MEMORY_BYTES ? { body: Buffer.concat(chunks), size, etag } : { size, etag };
}
