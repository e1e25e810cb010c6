import { createHash } from 'crypto';
import { Logger } from '../logger';
import { BlobStore, ObjectStore, StateStore } from '../ports';
import { STORE_PREFIXES, blobKey } from '../store-layout';
import { BUNDLE_FORMAT, BUNDLE_VERSION, BundleEntry, BundleError, BundleManifest, MANIFEST_PATH, SUMS_PATH, sumsFile } from './bundle-format';
import { GenerationContents, generationContents } from './generation-contents';
import { DEFAULT_TRANSFER_CONCURRENCY, PIPELINED_FILE_BYTES, ReadAhead, forEachLimited } from './pipelining';
import { END_OF_ARCHIVE, archiveBytes, fileHeader, padding } from './tar';

export interface TransferDeps {
  readonly objects: ObjectStore;
  readonly blobs: BlobStore;
  readonly state: StateStore;
  readonly log: Logger;
  readonly now?: () => Date;
}

/** Bytes through a bundle so far, for a progress display. */
export interface TransferProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** Where an archive's bytes go: one file, or volumes of a fixed size (`BundleFileWriter`). */
export interface BundleSink {
  write(chunk: Buffer): Promise<void>;
  /** Makes the bundle visible under its names; before this, nothing is. */
  commit(): Promise<string[]>;
  /** Removes whatever was written. */
  abort(): Promise<void>;
}

export interface ExportOptions {
  /** Leave out what this earlier generation already names: the bundle is the change since it. */
  readonly since?: string;
  /** Cut the archive into volumes of at most this many bytes. */
  readonly volumeBytes?: number;
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Small files read ahead at once. @default DEFAULT_TRANSFER_CONCURRENCY */
  readonly concurrency?: number;
}

export interface ExportSummary {
  readonly generation: string;
  readonly base?: string;
  readonly files: number;
  readonly blobs: number;
  readonly bytes: number;
  readonly volumes: string[];
  readonly absent: { readonly blobs: number; readonly manifests: number };
  readonly durationMs: number;
}

/**
 * Writes the published generation as a bundle (`bundle-format.ts`): the
 * manifest first, then every file with the size and sha256 the manifest
 * gives. Every byte written is hashed as it goes, so a damaged blob in this
 * store stops the export instead of travelling.
 */
export async function exportBundle(deps: TransferDeps, options: ExportOptions, openSink: (volumeBytes: number | undefined) => BundleSink): Promise<ExportSummary> {
  const started = Date.now();
  const published = await deps.state.getPublished();
  if (!published) throw new BundleError('nothing is published in this store yet: run `bottles sync` first');
  const generation = published.generation;
  const contents = await generationContents(deps.objects, generation, published.files);
  const base = options.since === undefined ? undefined : await baseContents(deps, options.since, generation);
  const concurrency = options.concurrency ?? DEFAULT_TRANSFER_CONCURRENCY;
  const { entries, absent } = await listEntries(deps, contents, base, concurrency);
  const manifest = layOut({
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    createdAt: (deps.now ?? (() => new Date()))().toISOString(),
    generation: published,
    ...(options.since !== undefined ? { base: options.since } : {}),
    entries: [{ path: SUMS_PATH, size: 0, sha256: '' }, ...entries],
    absent,
  }, options.volumeBytes);
  const manifestBody = Buffer.from(JSON.stringify(manifest));
  const total = archiveBytes([manifestBody.length, ...manifest.entries.map((e) => e.size)]);
  const sink = openSink(options.volumeBytes);
  let done = 0;
  const write = async (chunk: Buffer) => {
    await sink.write(chunk);
    done += chunk.length;
    options.onProgress?.({ bytesDone: done, bytesTotal: total });
  };
  try {
    await writeEntry(write, MANIFEST_PATH, manifestBody);
    await writeEntry(write, SUMS_PATH, sumsFile(manifest.entries));
    const ahead = new ReadAhead(manifest.entries.slice(1), concurrency, (entry) =>
      entry.size <= PIPELINED_FILE_BYTES ? readSmall(deps, entry) : undefined,
    );
    for (let next = await ahead.shift(); next; next = await ahead.shift()) {
      if (next.body) await writeEntry(write, next.item.path, next.body);
      else await writeStored(deps, write, next.item);
    }
    await write(END_OF_ARCHIVE);
    const volumes = await sink.commit();
    deps.log.info('bundle written', { generation, base: options.since, entries: entries.length, bytes: total, volumes: volumes.length });
    const blobs = entries.filter((e) => e.path.startsWith(STORE_PREFIXES.blobs)).length;
    return { generation, base: options.since, files: entries.length - blobs, blobs, bytes: total, volumes, absent: { blobs: absent.blobs.length, manifests: absent.manifests.length }, durationMs: Date.now() - started };
  } catch (error) {
    await sink.abort();
    throw error;
  }
}

async function baseContents(deps: TransferDeps, since: string, generation: string): Promise<GenerationContents> {
  if (since === generation) throw new BundleError(`--since ${since} is the published generation itself: there is nothing to carry`);
  try {
    return await generationContents(deps.objects, since, []);
  } catch (error) {
    if (error instanceof BundleError) throw new BundleError(`${error.message}; --since needs a generation this store still keeps (see \`bottles gc\`), or export a full bundle`);
    throw error;
  }
}

/** Every file to carry, with its size and sha256, and what the generation names that this store lacks. */
async function listEntries(deps: TransferDeps, contents: GenerationContents, base: GenerationContents | undefined, concurrency: number) {
  const entries: BundleEntry[] = [];
  for (const key of contents.files) {
    const body = await deps.objects.getObject(key);
    if (!body) throw new BundleError(`the published generation lacks ${key}; the store is damaged (run \`bottles sync\` to repair it)`);
    entries.push({ path: key, size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  }
  // Thousands of image indexes and bottles: looked up a few at a time, listed in a fixed order.
  const manifests = [...contents.manifests].filter((k) => !base?.manifests.has(k)).sort();
  const indexes: (BundleEntry | undefined)[] = new Array(manifests.length);
  await forEachLimited(manifests.keys(), concurrency, async (i) => {
    const body = await deps.objects.getObject(manifests[i]);
    indexes[i] = body && { path: manifests[i], size: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  });
  const shas = [...contents.blobs].filter((s) => !base?.blobs.has(s)).sort();
  const sizes: (number | undefined)[] = new Array(shas.length);
  await forEachLimited(shas.keys(), concurrency, async (i) => {
    sizes[i] = await deps.blobs.size(shas[i]);
  });
  const absent = { blobs: shas.filter((_, i) => sizes[i] === undefined), manifests: manifests.filter((_, i) => indexes[i] === undefined) };
  for (const entry of indexes) if (entry) entries.push(entry);
  shas.forEach((sha, i) => sizes[i] !== undefined && entries.push({ path: blobKey(sha), size: sizes[i]!, sha256: sha }));
  return { entries, absent };
}

/** Fills in SHA256SUMS's digest and, for a split bundle, the volume count (which the manifest's own size decides). */
function layOut(draft: BundleManifest, volumeBytes: number | undefined): BundleManifest {
  const rest = draft.entries.slice(1);
  const sums = sumsFile(rest);
  let manifest: BundleManifest = { ...draft, entries: [{ path: SUMS_PATH, size: sums.length, sha256: createHash('sha256').update(sums).digest('hex') }, ...rest] };
  if (volumeBytes === undefined) return manifest;
  for (let count = 1; ; ) {
    manifest = { ...manifest, volumes: { count, bytes: volumeBytes } };
    const total = archiveBytes([Buffer.byteLength(JSON.stringify(manifest)), ...manifest.entries.map((e) => e.size)]);
    const needed = Math.ceil(total / volumeBytes);
    if (needed === count) return manifest;
    count = needed;
  }
}

async function writeEntry(write: (chunk: Buffer) => Promise<void>, path: string, body: Buffer): Promise<void> {
  await write(fileHeader(path, body.length));
  await write(body);
  await write(padding(body.length));
}

/** A small stored file read whole, ahead of its turn, and checked against the manifest before it is written. */
async function readSmall(deps: TransferDeps, entry: BundleEntry): Promise<Buffer> {
  // A read buffer the size of the file: a 1 MiB buffer for each of 43,000 small bottles is what the GC would spend its time on.
  const source = entry.path.startsWith(STORE_PREFIXES.blobs)
    ? await deps.blobs.read(entry.sha256, undefined, { chunkBytes: entry.size + 1 })
    : await deps.objects.getObject(entry.path).then((body) => body && [body]);
  if (!source) throw new BundleError(`${entry.path} disappeared from the store while exporting`);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    if (bytes > entry.size) break;
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  }
  const body = Buffer.concat(chunks);
  if (bytes !== entry.size || createHash('sha256').update(body).digest('hex') !== entry.sha256) throw damaged(entry);
  return body;
}

const damaged = (entry: BundleEntry) =>
  new BundleError(`${entry.path} in this store does not match its digest or size: it is damaged; nothing was written (run \`bottles sync\` to repair it)`);

/** One stored file, hashed as it is written: what travels is what the manifest says. */
async function writeStored(deps: TransferDeps, write: (chunk: Buffer) => Promise<void>, entry: BundleEntry): Promise<void> {
  const blob = entry.path.startsWith(STORE_PREFIXES.blobs);
  const source = blob ? await deps.blobs.read(entry.sha256, undefined, { chunkBytes: PIPELINED_FILE_BYTES }) : await deps.objects.readObject(entry.path);
  if (!source) throw new BundleError(`${entry.path} disappeared from the store while exporting`);
  await write(fileHeader(entry.path, entry.size));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of source) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    bytes += buffer.length;
    if (bytes > entry.size) break;
    hash.update(buffer);
    await write(buffer);
  }
  if (bytes !== entry.size || hash.digest('hex') !== entry.sha256) throw damaged(entry);
  await write(padding(entry.size));
}
