import { randomUUID } from 'crypto';
import { createReadStream, promises as fs, statSync } from 'fs';
import * as path from 'path';
import { BundleError, BundleManifest, volumeName } from '../../transfer/bundle-format';
import { BundleSink } from '../../transfer/export';
import { LocalEnvironmentError } from '../../errors';

/** Read size for bundle files: large reads keep a multi-GB import near the disk's speed. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** Write size for bundle files: two such buffers are held at most (one written, one filling). */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Writes a bundle to `out`, or to `out.001`, `out.002`, … of at most
 * `volumeBytes` each. Everything is written under temporary names and renamed
 * only on commit, so an interrupted export leaves no file that looks whole.
 * Existing files are never overwritten.
 */
export class BundleFileWriter implements BundleSink {
  private readonly written: { partial: string; final: string }[] = [];
  private handle?: fs.FileHandle;
  private inVolume = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushing: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly out: string,
    private readonly volumeBytes?: number,
  ) {}

  private async next(): Promise<void> {
    await this.handle?.close();
    const final = this.volumeBytes === undefined ? this.out : volumeName(this.out, this.written.length);
    if (await fs.stat(final).then(() => true, () => false)) throw new LocalEnvironmentError(`${final} exists; remove it or choose another --out`);
    const partial = path.join(path.dirname(final), `.${path.basename(final)}.partial-${randomUUID()}`);
    this.handle = await fs.open(partial, 'wx');
    this.written.push({ partial, final });
    this.inVolume = 0;
  }

  /**
   * Collects chunks (tar headers, paddings and small files are a few hundred bytes each) into
   * writes of WRITE_CHUNK_BYTES, one of which runs while the next is collected.
   */
  async write(chunk: Buffer): Promise<void> {
    this.rethrow();
    // A large read is written as it is, without a copy.
    if (this.pendingBytes === 0 && chunk.length >= WRITE_CHUNK_BYTES) return this.writeBehind(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= WRITE_CHUNK_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const batch = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.writeBehind(batch);
  }

  /** Waits for the previous write, then starts this one and returns: the caller fills the next batch meanwhile. */
  private async writeBehind(batch: Buffer): Promise<void> {
    await this.flushing;
    this.rethrow();
    this.flushing = this.writeNow(batch).catch((error: unknown) => {
      this.failure ??= { error };
    });
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error;
  }

  private async writeNow(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.handle || (this.volumeBytes !== undefined && this.inVolume === this.volumeBytes)) await this.next();
      const room = this.volumeBytes === undefined ? chunk.length - offset : Math.min(chunk.length - offset, this.volumeBytes - this.inVolume);
      const { bytesWritten } = await this.handle!.write(chunk, offset, room);
      offset += bytesWritten;
      this.inVolume += bytesWritten;
    }
  }

  async commit(): Promise<string[]> {
    await this.flush();
    await this.flushing;
    this.rethrow();
    await this.handle?.sync();
    await this.handle?.close();
    this.handle = undefined;
    for (const { partial, final } of this.written) await fs.rename(partial, final);
    return this.written.map((w) => w.final);
  }

  async abort(): Promise<void> {
    await this.flushing;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    for (const { partial } of this.written) await fs.rm(partial, { force: true });
  }
}

/** The bundle files an import was given, read as one stream; their number and sizes are checked against the manifest. */
export interface BundleSource {
  readonly stream: AsyncIterable<Uint8Array>;
  /** Throws naming what is missing or wrong once the manifest says how the bundle was cut. */
  check(manifest: BundleManifest): void;
}

const VOLUME_SUFFIX = /\.(\d{3,})$/;

export function openBundleFiles(paths: readonly string[]): BundleSource {
  if (paths.length === 0) throw new BundleError('no bundle file given');
  const sizes = paths.map((file) => {
    try {
      const stat = statSync(file);
      if (!stat.isFile()) throw new BundleError(`${file} is not a file`);
      return stat.size;
    } catch (error) {
      if (error instanceof BundleError) throw error;
      throw new BundleError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  });
  // Volumes are read in their numbered order, whatever order the shell gave them in.
  const ordered = paths.map((file, i) => ({ file, size: sizes[i], number: Number(VOLUME_SUFFIX.exec(file)?.[1] ?? 0) })).sort((a, b) => a.number - b.number);
  if (ordered[0].number > 1) throw new BundleError(`${volumeName(ordered[0].file.replace(VOLUME_SUFFIX, ''), 0)} is missing: a bundle's manifest is in its first volume`);
  async function* stream(): AsyncGenerator<Uint8Array> {
    for (const { file } of ordered) yield* createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  }
  return {
    stream: stream(),
    check(manifest: BundleManifest) {
      const volumes = manifest.volumes;
      if (!volumes) {
        if (ordered.length > 1) throw new BundleError(`this bundle is one file, not ${ordered.length} volumes; import ${ordered[0].file} alone`);
        return;
      }
      const stem = ordered[0].file.replace(VOLUME_SUFFIX, '');
      const given = new Set(ordered.map((v) => v.number));
      const missing = Array.from({ length: volumes.count }, (_, i) => i + 1).filter((n) => !given.has(n));
      if (missing.length > 0) {
        throw new BundleError(`volume${missing.length > 1 ? 's' : ''} ${missing.map((n) => volumeName(stem, n - 1)).join(', ')} of ${volumes.count} missing: pass every volume (${volumeName(stem, 0)} … ${volumeName(stem, volumes.count - 1)})`);
      }
      const extra = ordered.filter((v) => v.number < 1 || v.number > volumes.count);
      if (extra.length > 0) throw new BundleError(`${extra[0].file} is not one of this bundle's ${volumes.count} volumes`);
      const short = ordered.slice(0, -1).find((v) => v.size !== volumes.bytes);
      if (short) throw new BundleError(`${short.file} has ${short.size} bytes, not ${volumes.bytes}: it is truncated or from another bundle`);
    },
  };
}
