import { KeyObject, createHash } from 'crypto';
import { decodeBottleIndex } from '../bottle-index';
import { blobsNamedIn } from '../generation-records';
import { checkedCaskBlobs } from '../casks/cask-record';
import { signedCaskDigests } from '../casks/cask-selection';
import { SYNC_DEFAULTS } from '../defaults';
import { verifySignedPayload, verifySignedPayloadPieces } from '../homebrew/signed-api';
import { formulaEntries, wantedBottles } from '../homebrew/wanted-bottles';
import { BlobIntegrityError, BlobStore, HousekeepingPolicy, Housekeeping, OrphanMarker, PublishedGeneration, RunLeftovers } from '../ports';
import { STORE_PREFIXES, apiKey, blobKey, bottleIndexKey, brewRecordKey, caskRecordKey, tapRecordKey } from '../store-layout';
import { CORE_API_FILES } from '../sync/contracts';
import { housekeepAfterPublish } from '../sync/housekeeping';
import { LOCAL_RUN_LEASE, SYNC_LEASE, acquireRunLease, currentHolder, heldMessage, startHeartbeat } from '../sync/lease';
import { newRunId } from '../sync/run-sync';
import { DEFAULT_UPSTREAM_LIMITS } from '../upstream/client';
import { checkPackagesShape, checkPayloadShape, refuseLargeDrop, refuseReplay } from '../sync/verify';
import { BundleEntry, BundleError, BundleManifest, MANIFEST_PATH, MAX_MANIFEST_BYTES, isOlder, parseManifest, sumsFile } from './bundle-format';
import { TransferDeps, TransferProgress } from './export';
import { generationContents } from './generation-contents';
import { DEFAULT_TRANSFER_CONCURRENCY, PIPELINED_FILE_BYTES, WriteBehind, forEachLimited } from './pipelining';
import { BLOCK, StreamReader, TarFormatError, parseHeader } from './tar';

export interface ImportDeps extends TransferDeps {
  readonly blobs: BlobStore & OrphanMarker;
  /** Removes a failed import's staged generation (the directory store); S3's lifecycle rules do it there. */
  readonly leftovers?: RunLeftovers;
  readonly housekeeping?: Housekeeping;
  readonly housekeepingPolicy?: HousekeepingPolicy;
}

export interface ImportOptions {
  /** The key every API file must be signed with (Homebrew's homebrew-1 unless testing). */
  readonly publicKey: KeyObject;
  /** Publish an older generation, or one that drops more than `maxDropPercent`. */
  readonly force?: boolean;
  readonly maxDropPercent?: number;
  /** Largest API file accepted, as in a sync (`HBS_MAX_API_FILE_BYTES`). Default `DEFAULT_UPSTREAM_LIMITS.maxApiFileBytes` (128 MiB). */
  readonly maxApiFileBytes?: number;
  readonly onProgress?: (progress: TransferProgress) => void;
  readonly signal?: AbortSignal;
  /** Small blobs and image indexes written at once, behind the reading. @default DEFAULT_TRANSFER_CONCURRENCY */
  readonly concurrency?: number;
}

export interface ImportSummary {
  readonly generation: string;
  readonly base?: string;
  readonly published: boolean;
  /** The bundle's generation was already the published one: nothing changed. */
  readonly alreadyPublished?: boolean;
  readonly blobs: { readonly stored: number; readonly alreadyStored: number };
  readonly bytes: { readonly read: number; readonly stored: number };
  readonly durationMs: number;
}

/** Largest non-API, non-blob file (bottle index, brew.json, install.sh, image index) read whole. */
const MAX_SMALL_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Imports a bundle, trusting nothing in it: every API file's signature, every
 * bottle's digest against the signed API, every other file against the
 * manifest, and the manifest against the files; then checks that every
 * object the generation names is in the store, and publishes it with the
 * same compare-and-swap a sync uses. Until then nothing serves it: the
 * published generation stays what it was whatever the bundle holds.
 *
 * Blobs are content-addressed and checked before they are stored, so an
 * interrupted import, run again, skips the blobs it already stored.
 */
export async function importBundle(deps: ImportDeps, stream: AsyncIterable<Uint8Array>, checkVolumes: (manifest: BundleManifest) => void, options: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const reader = new StreamReader(stream);
  const manifest = await readManifest(reader);
  checkVolumes(manifest);
  const generation = manifest.generation.generation;
  const published = await deps.state.getPublished();
  const summary = (extra: Partial<ImportSummary>): ImportSummary => ({
    generation, base: manifest.base, published: false, blobs: { stored: 0, alreadyStored: 0 }, bytes: { read: reader.position, stored: 0 }, durationMs: Date.now() - started, ...extra,
  });
  if (published?.generation === generation) {
    deps.log.info('the bundle\'s generation is already published; nothing to do', { generation });
    return summary({ alreadyPublished: true });
  }
  await refuseWrongBase(deps, manifest, published);
  if (published && isOlder(manifest.generation, published) && !options.force) {
    throw new BundleError(`the bundle holds generation ${generation}, older than the published ${published.generation}; an older bundle is not published (if it is intended, pass --force)`);
  }
  const runId = `import-${newRunId(new Date())}`;
  const lease = await acquireRunLease(deps.state, runId, { policy: LOCAL_RUN_LEASE, holder: currentHolder() });
  if (!lease.acquired) throw new BundleError(heldMessage(lease).replace('another sync', 'a sync or import'));
  let progressAt = Date.now();
  const stopHeartbeat = startHeartbeat(deps.state, runId, LOCAL_RUN_LEASE, () => progressAt, deps.log);
  const stagedBefore = await deps.objects.hasObject(bottleIndexKey(generation));
  try {
    // One listing instead of a lookup per blob: tens of thousands of misses cost more than the listing.
    const storedBefore = new Set<string>();
    for await (const sha of deps.blobs.list()) storedBefore.add(sha);
    const importer = new EntryImporter(deps, manifest, published, options, reader, storedBefore, () => (progressAt = Date.now()));
    const stored = await importer.run();
    const concurrency = options.concurrency ?? DEFAULT_TRANSFER_CONCURRENCY;
    await checkComplete(deps, manifest, concurrency);
    const record: PublishedGeneration = { ...manifest.generation };
    if (!(await deps.state.setPublished(record, published?.generation))) throw new BundleError('the published generation changed during the import; not overwriting it');
    await retagOrphans(deps, manifest, published, storedBefore, concurrency);
    await deps.state.putRun({ runId, status: 'published', startedAt: new Date(started).toISOString(), finishedAt: new Date().toISOString(), generation, bytesTransferred: stored.bytes, durationMs: Date.now() - started });
    deps.log.info('imported and published', { generation, base: manifest.base, blobsStored: stored.blobs, alreadyStored: stored.alreadyStored });
    await deps.state.releaseLease(SYNC_LEASE, runId);
    if (deps.housekeeping) await housekeepAfterPublish({ state: deps.state, housekeeping: deps.housekeeping, log: deps.log }, deps.housekeepingPolicy);
    return summary({ published: true, blobs: { stored: stored.blobs, alreadyStored: stored.alreadyStored }, bytes: { read: reader.position, stored: stored.bytes } });
  } catch (error) {
    await deps.state.putRun({ runId, status: 'failed', startedAt: new Date(started).toISOString(), finishedAt: new Date().toISOString(), generation, error: (error as Error).message });
    // A generation that was in the store before (an older one, kept) is never removed; one staged by this import is.
    if (!stagedBefore) await deps.leftovers?.discardRun(generation);
    await deps.state.releaseLease(SYNC_LEASE, runId);
    throw error;
  } finally {
    stopHeartbeat();
  }
}

async function readManifest(reader: StreamReader): Promise<BundleManifest> {
  const header = await readHeader(reader);
  if (!header) throw new BundleError('the bundle is empty');
  if (header.path !== MANIFEST_PATH) throw new BundleError(`the bundle starts with ${header.path}, not ${MANIFEST_PATH}: not a bundle of this tool, or not its first volume`);
  if (header.size > MAX_MANIFEST_BYTES) throw new BundleError(`${MANIFEST_PATH} is ${header.size} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have`);
  const body = await readBody(reader, MANIFEST_PATH, header.size);
  return parseManifest(body);
}

async function readHeader(reader: StreamReader) {
  const at = reader.position;
  const block = await reader.read(BLOCK);
  if (block.length < BLOCK) throw new BundleError(`the bundle ends at byte ${at}, before its end-of-archive marker: it is truncated or a volume is missing`);
  try {
    return parseHeader(block, at);
  } catch (error) {
    if (error instanceof TarFormatError) throw new BundleError(error.message);
    throw error;
  }
}

async function readBody(reader: StreamReader, path: string, size: number): Promise<Buffer> {
  const body = await reader.read(size);
  if (body.length < size) throw truncated(path, reader.position);
  await skipPadding(reader, path, size);
  return Buffer.from(body); // a copy: the reader's chunk may be larger and is not ours to keep
}

async function skipPadding(reader: StreamReader, path: string, size: number): Promise<void> {
  const pad = (BLOCK - (size % BLOCK)) % BLOCK;
  if ((await reader.read(pad)).length < pad) throw truncated(path, reader.position);
}

async function* once(body: Buffer): AsyncGenerator<Buffer> {
  yield body;
}

const truncated = (path: string, at: number) => new BundleError(`the bundle ends at byte ${at}, inside ${path}: it is truncated or a volume is missing`);

/** A `--since` bundle applies only on top of the generation it was cut from. */
async function refuseWrongBase(deps: ImportDeps, manifest: BundleManifest, published: PublishedGeneration | undefined): Promise<void> {
  const base = manifest.base;
  if (base === undefined || published?.generation === base) return;
  if (await deps.objects.hasObject(bottleIndexKey(base))) return;
  throw new BundleError(
    `the bundle carries only the change since generation ${base}, which this store does not have (it serves ${published?.generation ?? 'nothing yet'}); import a bundle of ${base}, or a full bundle, first`,
  );
}

/** Reads the entries in order, checking each before it is stored. */
class EntryImporter {
  /** Digests the signed formula.jws.json names, for any tag: the only bottles the bundle may carry. */
  private signedBottles?: Set<string>;
  /** Blobs brew.json and taps.json name: brew.git's packs, portable Rubies, taps' packs and downloads. */
  private readonly recordBlobs = new Set<string>();
  /** sha256s the signed packages files give casks: what a pinned cask file in casks.json may be. */
  private signedCaskFiles = new Set<string>();
  /** Cask files casks.json names (pinned ones checked against `signedCaskFiles`). */
  private caskBlobs = new Set<string>();
  private readonly generatedAt = new Map<string, number>();
  private readonly apiSeen = new Set<string>();
  private gated = false;
  private readonly stats = { blobs: 0, alreadyStored: 0, bytes: 0 };
  private readonly total: number;
  /** Writes of small blobs and image indexes, overlapped with reading the rest of the bundle. */
  private readonly behind: WriteBehind;

  constructor(
    private readonly deps: ImportDeps,
    private readonly manifest: BundleManifest,
    private readonly published: PublishedGeneration | undefined,
    private readonly options: ImportOptions,
    private readonly reader: StreamReader,
    /** Blobs the store held when the import began (an interrupted import's, or any generation's). */
    private readonly storedBefore: ReadonlySet<string>,
    private readonly progressed: () => void,
  ) {
    this.behind = new WriteBehind(options.concurrency ?? DEFAULT_TRANSFER_CONCURRENCY);
    this.total = manifest.entries.reduce((n, e) => n + BLOCK + Math.ceil(e.size / BLOCK) * BLOCK, reader.position + 2 * BLOCK);
  }

  async run(): Promise<{ blobs: number; alreadyStored: number; bytes: number }> {
    try {
      return await this.readEntries();
    } finally {
      // Whatever went wrong, no write is still running when the caller cleans up.
      await this.behind.settle();
    }
  }

  private async readEntries(): Promise<{ blobs: number; alreadyStored: number; bytes: number }> {
    const apiPrefix = `${STORE_PREFIXES.api}${this.manifest.generation.generation}/`;
    for (const entry of this.manifest.entries) {
      this.stopIfInterrupted();
      const header = await readHeader(this.reader);
      if (!header) throw new BundleError(`the bundle ends before ${entry.path}: it is incomplete`);
      if (header.path !== entry.path || header.size !== entry.size) {
        throw new BundleError(`expected ${entry.path} (${entry.size} bytes) next, found ${header.path} (${header.size} bytes): the bundle does not match its manifest`);
      }
      if (entry.path.startsWith(STORE_PREFIXES.blobs)) {
        this.passGates();
        await this.blob(entry);
      } else {
        const limit = entry.path.startsWith(apiPrefix) && !entry.path.startsWith(`${apiPrefix}_mirror/`) ? this.options.maxApiFileBytes ?? DEFAULT_UPSTREAM_LIMITS.maxApiFileBytes : MAX_SMALL_FILE_BYTES;
        if (entry.size > limit) throw new BundleError(`${entry.path} is ${entry.size} bytes, more than the ${limit} allowed`);
        const body = await readBody(this.reader, entry.path, entry.size);
        if (createHash('sha256').update(body).digest('hex') !== entry.sha256) throw new BundleError(`${entry.path} does not match its sha256 in the manifest: the bundle is damaged or was tampered with`);
        await this.file(entry, body, apiPrefix);
      }
      this.progressed();
      this.options.onProgress?.({ bytesDone: this.reader.position, bytesTotal: this.total });
    }
    this.passGates();
    if ((await readHeader(this.reader)) !== undefined) throw new BundleError('the bundle holds more files than its manifest lists');
    await this.behind.drain();
    // An interruption after the last entry still publishes nothing: the caller asked to stop before the publish.
    this.stopIfInterrupted();
    return this.stats;
  }

  private stopIfInterrupted(): void {
    if (this.options.signal?.aborted) throw new BundleError('interrupted: nothing was published; run the import again to resume');
  }

  private async file(entry: BundleEntry, body: Buffer, apiPrefix: string): Promise<void> {
    if (entry.path === this.manifest.entries[0].path) {
      if (!body.equals(sumsFile(this.manifest.entries))) throw new BundleError('SHA256SUMS does not match the manifest');
      return;
    }
    if (entry.path.startsWith(`${apiPrefix}_mirror/`)) {
      this.passGates();
      this.mirrorFile(entry, body);
    } else if (entry.path.startsWith(apiPrefix)) {
      this.apiFile(entry.path.slice(apiPrefix.length), body);
    } else {
      this.passGates(); // an image index: thousands of them, written behind
      await this.behind.add(() => this.deps.objects.putObject(entry.path, body));
      return;
    }
    await this.deps.objects.putObject(entry.path, body);
  }

  /** A signed API file: the key's signature, and the shape its name promises. */
  private apiFile(file: string, body: Buffer): void {
    const key = this.options.publicKey;
    const record = this.manifest.generation;
    if (!record.files.includes(file)) throw new BundleError(`${file} is not one of the generation's API files`);
    if (record.fileDigests && record.fileDigests[file] !== createHash('sha256').update(body).digest('hex')) throw new BundleError(`${file} is not the file the generation's record names`);
    if (file === 'formula.jws.json') {
      const pieces = verifySignedPayloadPieces(file, body, key);
      // Every tag's bottles: the bundle may have been cut from a mirror of any tags. Unusable formulae are left out, as in a sync.
      this.signedBottles = new Set(wantedBottles(formulaEntries(pieces()), undefined, true, []).map((b) => b.sha256));
    } else {
      const payload = verifySignedPayload(file, body, key);
      const tag = /^internal\/packages\.(.+)\.jws\.json$/.exec(file)?.[1];
      if (tag) {
        const at = checkPackagesShape(file, tag, payload);
        if (at !== undefined) this.generatedAt.set(file, at);
        for (const sha of signedCaskDigests(payload)) this.signedCaskFiles.add(sha);
      } else if (CORE_API_FILES.includes(file)) {
        checkPayloadShape(file, JSON.parse(payload));
      }
    }
    this.apiSeen.add(file);
  }

  /** Once every API file is verified, the replay and drop gates of a sync, before anything they vouch for is read. */
  private passGates(): void {
    if (this.gated) return;
    const missing = this.manifest.generation.files.filter((f) => !this.apiSeen.has(f));
    if (missing.length > 0) throw new BundleError(`the bundle lacks the generation's API file${missing.length > 1 ? 's' : ''} ${missing.slice(0, 3).join(', ')}`);
    if (!this.signedBottles) throw new BundleError('the bundle has no formula.jws.json');
    refuseReplay(this.published, this.generatedAt, this.options.force ?? false);
    const record = this.manifest.generation;
    if (record.packagesGeneratedAt) {
      for (const [file, at] of this.generatedAt) if (record.packagesGeneratedAt[file] !== at) throw new BundleError(`${file} is not the file the generation's record names`);
    }
    refuseLargeDrop(this.published, record.bottles ?? 0, this.options.force ? 100 : this.options.maxDropPercent ?? SYNC_DEFAULTS.maxDropPercent);
    this.gated = true;
  }

  /** The bottle index may name only signed digests; brew.json names the brew blobs the bundle may carry. */
  private mirrorFile(entry: BundleEntry, body: Buffer): void {
    const generation = this.manifest.generation.generation;
    if (entry.path === bottleIndexKey(generation)) {
      let line = 0;
      try {
        for (const bottle of decodeBottleIndex(body)) {
          line++;
          if (!this.signedBottles!.has(bottle.sha256)) throw new BundleError(`the bottle index names ${bottle.flatFile} with digest ${bottle.sha256}, which the signed API does not`);
        }
      } catch (error) {
        if (error instanceof BundleError) throw error;
        throw new BundleError(`the bottle index is malformed near line ${line + 1}`);
      }
    } else if (entry.path === caskRecordKey(generation)) {
      const checked = checkedCaskBlobs(body, this.signedCaskFiles);
      if (typeof checked === 'string') throw new BundleError(checked);
      this.caskBlobs = new Set(checked);
    } else if (entry.path === brewRecordKey(generation) || entry.path === tapRecordKey(generation)) {
      // brew.json and taps.json name their blobs by digest; each is checked against it as it is stored.
      const named = blobsNamedIn(entry.path === brewRecordKey(generation) ? 'brew.json' : 'taps.json', body);
      if (typeof named === 'string') throw new BundleError(named);
      for (const sha of named) this.recordBlobs.add(sha);
    }
  }

  /** A blob the signed API or brew.json names, streamed into the store, which keeps it only if it hashes to its name. */
  private async blob(entry: BundleEntry): Promise<void> {
    const sha = entry.sha256;
    if (!this.signedBottles!.has(sha) && !this.recordBlobs.has(sha) && !this.caskBlobs.has(sha)) {
      throw new BundleError(`${entry.path} is neither a bottle the signed API names nor a file brew.json, casks.json or taps.json names`);
    }
    if (entry.size <= PIPELINED_FILE_BYTES) {
      // Small: read whole, then stored behind the reading, so thousands of bottles overlap their writes.
      const body = await this.reader.read(entry.size);
      if (body.length < entry.size) throw truncated(entry.path, this.reader.position);
      const copy = Buffer.from(body); // the reader's buffer is not ours to keep
      await this.behind.add(() => this.store(entry, once(copy)));
    } else {
      await this.store(entry, this.reader.chunks(entry.size, () => truncated(entry.path, this.reader.position)));
    }
    await skipPadding(this.reader, entry.path, entry.size);
  }

  /** Stores one blob unless an earlier, interrupted import did; either way its bytes are hashed. */
  private async store(entry: BundleEntry, body: AsyncIterable<Uint8Array>): Promise<void> {
    const sha = entry.sha256;
    if (this.storedBefore.has(sha)) {
      // Already stored and verified: not copied again, but still hashed,
      // so a damaged bundle is reported whatever the store already holds.
      const hash = createHash('sha256');
      for await (const chunk of body) hash.update(chunk);
      if (hash.digest('hex') !== sha) throw new BundleError(`${entry.path} does not hash to its name: the bundle is damaged or was tampered with; nothing was published`);
      this.progressed();
      this.stats.alreadyStored++;
      return;
    }
    try {
      await this.deps.blobs.put(body, { sha256: sha, length: entry.size });
    } catch (error) {
      if (error instanceof BlobIntegrityError) throw new BundleError(`${entry.path} does not hash to its name: the bundle is damaged or was tampered with; nothing was published`);
      throw error;
    }
    this.stats.blobs++;
    this.stats.bytes += entry.size;
  }
}

/** Every object the generation names is in the store, save what the exporting store lacked too. */
async function checkComplete(deps: ImportDeps, manifest: BundleManifest, concurrency: number): Promise<void> {
  const record = manifest.generation;
  const contents = await generationContents(deps.objects, record.generation, record.files);
  const absentBlobs = new Set(manifest.absent.blobs);
  const absentManifests = new Set(manifest.absent.manifests);
  const stored = new Set<string>();
  for await (const sha of deps.blobs.list()) stored.add(sha);
  const missing = [...contents.blobs].filter((sha) => !absentBlobs.has(sha) && !stored.has(sha)).map(blobKey);
  await forEachLimited(contents.manifests, concurrency, async (key) => {
    if (!absentManifests.has(key) && !(await deps.objects.hasObject(key))) missing.push(key);
  });
  for (const file of record.files) if (!(await deps.objects.hasObject(apiKey(record.generation, file)))) missing.push(apiKey(record.generation, file));
  if (missing.length > 0) {
    const needs = manifest.base ? ` (this bundle builds on ${manifest.base}: import that generation's bundle first)` : '';
    throw new BundleError(`the store lacks ${missing.length} object(s) the generation names, e.g. ${missing.slice(0, 3).join(', ')}${needs}; nothing was published`);
  }
}

/** Blobs the new generation names lose their orphan mark; those only the previous one named get one, as after a sync. */
async function retagOrphans(deps: ImportDeps, manifest: BundleManifest, previous: PublishedGeneration | undefined, storedBefore: ReadonlySet<string>, concurrency: number): Promise<void> {
  const next = await generationContents(deps.objects, manifest.generation.generation, []);
  const before = previous ? await generationContents(deps.objects, previous.generation, []).catch(() => undefined) : undefined;
  const at = (deps.now ?? (() => new Date()))();
  await forEachLimited([...(before?.blobs ?? [])].filter((sha) => !next.blobs.has(sha)), concurrency, (sha) => deps.blobs.markOrphaned(sha, at));
  // Only a blob stored before this import can carry a mark; one it stored is new.
  await forEachLimited([...next.blobs].filter((sha) => !before?.blobs.has(sha) && storedBefore.has(sha)), concurrency, (sha) => deps.blobs.clearOrphaned(sha));
}

