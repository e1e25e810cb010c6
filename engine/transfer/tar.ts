import { MirrorError } from '../errors';

/**
 * The subset of POSIX ustar a bundle needs: regular files, written and read
 * as a stream. `tar -t`, `tar -x` and any other tar read what this writes;
 * the reader accepts only what the writer produces, and refuses the rest
 * (links, devices, names that are not store keys) before reading any body.
 */
export const BLOCK = 512;

/** ustar's 11 octal digits of size: larger files would need GNU's base-256 extension. */
export const MAX_TAR_ENTRY_BYTES = 8 * 1024 ** 3 - 1;

export class TarFormatError extends MirrorError {
  readonly kind = 'verification';
}

/** Bytes an entry takes in the archive: its header and its body padded to whole blocks. */
export const entryBytes = (size: number): number => BLOCK + Math.ceil(size / BLOCK) * BLOCK;

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/** Bytes of a whole archive holding files of these sizes. */
export const archiveBytes = (sizes: Iterable<number>): number => {
  let total = END_OF_ARCHIVE.length;
  for (const size of sizes) total += entryBytes(size);
  return total;
};

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** Splits a path into ustar's prefix (155) and name (100) at a `/`. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let cut = path.indexOf('/'); cut !== -1; cut = path.indexOf('/', cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  throw new TarFormatError(`path too long for a ustar archive: ${path.slice(0, 80)}…`);
}

/** A ustar header for a regular file (mode 0644, owner 0, a fixed mtime: the same files give the same archive). */
export function fileHeader(path: string, size: number, mtimeSeconds = 0): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_TAR_ENTRY_BYTES) throw new TarFormatError(`${path}: ${size} bytes is more than a ustar entry holds`);
  const { prefix, name } = splitName(path);
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(mtimeSeconds, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii'); // the checksum counts its own field as spaces
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return header;
}

/** Zero bytes that pad a body of `size` bytes to a whole block. */
export const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

export interface TarHeader {
  readonly path: string;
  readonly size: number;
}

/** Parses one header block; undefined for a zero block (the end of the archive). */
export function parseHeader(block: Buffer, offset: number): TarHeader | undefined {
  if (block.every((b) => b === 0)) return undefined;
  const field = (start: number, length: number) => {
    const raw = block.subarray(start, start + length);
    const end = raw.indexOf(0);
    return raw.subarray(0, end === -1 ? length : end).toString('utf8');
  };
  const stored = parseInt(field(148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (stored !== sum) throw new TarFormatError(`not a tar header at byte ${offset} (checksum ${stored}, computed ${sum}): the bundle is damaged or a volume is missing or out of order`);
  if (field(257, 6) !== 'ustar') throw new TarFormatError(`header at byte ${offset} is not ustar`);
  const type = field(156, 1);
  const prefix = field(345, 155);
  const path = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
  if (type !== '0' && type !== '') throw new TarFormatError(`${path}: only regular files belong in a bundle (type ${JSON.stringify(type)})`);
  const sizeText = field(124, 12).trim();
  if (!/^[0-7]+$/.test(sizeText)) throw new TarFormatError(`${path}: malformed size field`);
  return { path, size: parseInt(sizeText, 8) };
}

/**
 * Reads exactly the bytes asked for from a stream of chunks, without copying
 * body bytes more than once: bodies are handed on as slices of the chunks read.
 */
export class StreamReader {
  private readonly source: AsyncIterator<Uint8Array>;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes handed out so far (the position in the stream). */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]();
  }

  private async next(): Promise<Buffer | undefined> {
    if (this.done) return undefined;
    const next = await this.source.next();
    if (next.done) {
      this.done = true;
      return undefined;
    }
    return Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
  }

  private async fill(): Promise<boolean> {
    const chunk = await this.next();
    if (!chunk) return false;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return true;
  }

  /** Exactly `n` bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    if (this.pending.length < n) {
      // One copy for a large read (a 33 MB API file), not one per chunk read.
      const parts = [this.pending];
      let have = this.pending.length;
      while (have < n) {
        const chunk = await this.next();
        if (!chunk) break;
        parts.push(chunk);
        have += chunk.length;
      }
      this.pending = Buffer.concat(parts, have);
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(out.length);
    this.position += out.length;
    return out;
  }

  /** The next `n` bytes as chunks; throws `short` if the stream ends first. */
  async *chunks(n: number, short: () => Error): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.fill())) throw short();
      const out = this.pending.subarray(0, Math.min(left, this.pending.length));
      this.pending = this.pending.subarray(out.length);
      this.position += out.length;
      left -= out.length;
      yield out;
    }
  }

  /** True when nothing at all is left. */
  async atEnd(): Promise<boolean> {
    return this.pending.length === 0 && !(await this.fill());
  }
}
