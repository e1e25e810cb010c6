import { createHash, randomUUID } from 'crypto';
import { createReadStream, createWriteStream, promises as fs } from 'fs';
import * as path from 'path';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { BlobExpectation, BlobIntegrityError, BlobStore, OrphanMarker } from '../../ports';
import { STORE_PREFIXES, isSha256, keySegments, requireSha256 } from '../../store-layout';

/** Read size when streaming a blob: what one download buffers on the server. */
export const BLOB_READ_CHUNK_BYTES = 64 * 1024;

/** Blobs up to this size (when the caller gives the length) are checked in memory and written in one call. */
const SMALL_BLOB_BYTES = 1024 * 1024;

/** Throws unless the body had the expected length and digest. */
function verified(expected: BlobExpectation, bytes: number, digest: string): void {
  if (expected.length !== undefined && bytes !== expected.length) {
    throw new BlobIntegrityError('length', `blob ${expected.sha256}: got ${bytes} bytes, expected ${expected.length}`);
  }
  if (digest !== expected.sha256) throw new BlobIntegrityError('digest', `blob ${expected.sha256}: body hashes to ${digest}`, digest);
}

/**
 * Blob store in a directory, with the same layout as the S3 bucket
 * (`<root>/blobs/sha256/<hex>`). Bodies stream through a hash into a temporary
 * file in the same directory and are renamed into place only after the digest
 * and length check, so a reader never sees a partial or wrong blob and a crash
 * leaves at most a `.partial-*` file, which `put` never reuses. A blob of at
 * most 1 MiB whose length is known is checked in memory first and written in
 * one call (an import stores tens of thousands of them).
 */
export class DirectoryBlobStore implements BlobStore, OrphanMarker {
  private readonly dir: string;
  /** Orphan marks: `<root>/orphaned/<hex>` holding the ISO time of marking (the S3 adapter uses an object tag). */
  private readonly orphanDir: string;

  constructor(root: string) {
    this.dir = path.join(root, ...keySegments(STORE_PREFIXES.blobs.slice(0, -1)));
    this.orphanDir = path.join(root, 'orphaned');
  }

  private pathOf(sha256: string): string {
    return path.join(this.dir, requireSha256(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    return fs
      .stat(this.pathOf(sha256))
      .then((s) => s.isFile())
      .catch(() => false);
  }

  /** The blob directory, created once per store (nothing removes it). */
  private ready?: Promise<unknown>;

  async put(body: AsyncIterable<Uint8Array>, expected: BlobExpectation): Promise<{ bytes: number }> {
    const target = this.pathOf(expected.sha256);
    await (this.ready ??= fs.mkdir(this.dir, { recursive: true }).catch((error) => {
      this.ready = undefined;
      throw error;
    }));
    const partial = path.join(this.dir, `.partial-${randomUUID()}`);
    try {
      const bytes = expected.length !== undefined && expected.length <= SMALL_BLOB_BYTES ? await this.writeSmall(body, expected, partial) : await this.writeStreamed(body, expected, partial);
      await fs.rename(partial, target);
      return { bytes };
    } catch (error) {
      await fs.rm(partial, { force: true });
      throw error;
    }
  }

  /** A small blob (most bottles of a generation, imported by the thousand) is checked in memory and written in one call. */
  private async writeSmall(body: AsyncIterable<Uint8Array>, expected: BlobExpectation, partial: string): Promise<number> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > expected.length!) break;
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    }
    const whole = Buffer.concat(chunks);
    verified(expected, bytes, createHash('sha256').update(whole).digest('hex'));
    await fs.writeFile(partial, whole, { flag: 'wx' });
    return bytes;
  }

  private async writeStreamed(body: AsyncIterable<Uint8Array>, expected: BlobExpectation, partial: string): Promise<number> {
    const hash = createHash('sha256');
    let bytes = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(body, measure, createWriteStream(partial, { flags: 'wx' }));
    verified(expected, bytes, hash.digest('hex'));
    return bytes;
  }

  async size(sha256: string): Promise<number | undefined> {
    return fs
      .stat(this.pathOf(sha256))
      .then((s) => (s.isFile() ? s.size : undefined))
      .catch(() => undefined);
  }

  async read(sha256: string, range?: { start: number; end: number }, hints?: { chunkBytes?: number }): Promise<AsyncIterable<Uint8Array>> {
    // 64 KiB reads (the default): a download whose client stops reading holds one read buffer and the
    // response's, about 128 KiB; the 1 MiB reads used before held 2 MiB per stalled download.
    return createReadStream(this.pathOf(sha256), { highWaterMark: hints?.chunkBytes ?? BLOB_READ_CHUNK_BYTES, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async markOrphaned(sha256: string, at: Date): Promise<void> {
    this.pathOf(sha256);
    await fs.mkdir(this.orphanDir, { recursive: true });
    // Keep the first mark: expiry counts from when the blob first became unwanted.
    await fs.writeFile(path.join(this.orphanDir, sha256), at.toISOString(), { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }

  async clearOrphaned(sha256: string): Promise<void> {
    this.pathOf(sha256);
    await fs.rm(path.join(this.orphanDir, sha256), { force: true });
  }

  async isOrphaned(sha256: string): Promise<boolean> {
    this.pathOf(sha256);
    return fs
      .stat(path.join(this.orphanDir, sha256))
      .then(() => true)
      .catch(() => false);
  }

  async *list(): AsyncIterable<string> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    for (const name of names.sort()) if (isSha256(name)) yield name;
  }
}
