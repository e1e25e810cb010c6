/**
 * The mirror's access log: one JSON line per request, the line
 * `jsonLogger(bound).info('request', record)` would write, encoded straight
 * into a batch buffer.
 *
 * It runs on every request, and at tens of thousands of requests a second the
 * obvious version (a template string, JSON.stringify per field, one write per
 * line) cost more CPU than the rest of the redirect route. Here plain ASCII
 * fields are copied byte by byte (client-controlled ones are checked as they
 * are copied and fall back to JSON.stringify), no line string is built, and
 * the buffer goes out in one write per `maxBytes`, per `flushMs` and at exit.
 * At most `flushMs` of log is lost if the process is killed outright.
 */

import { positiveIntegersFromEnv } from '../runtime-config';

/** One line of the access log. */
export interface AccessRecord {
  readonly requestId: string;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly route: string;
  readonly status: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly ip: string;
  readonly generation: string | undefined;
}

export type AccessLog = (record: AccessRecord) => void;

export interface BatchedAccessLogOptions {
  /** Buffer size; a full buffer is written out. Default 64 KiB. */
  readonly maxBytes?: number;
  /** Longest time a line waits in the buffer. Default 250 ms. */
  readonly flushMs?: number;
  /** Wall clock in ms (tests pin it). Default Date.now. */
  readonly now?: () => number;
  /**
   * Bytes written but not yet taken by the log's reader (`stream.writableLength`).
   * With it, a batch that would take the backlog past `maxBacklogBytes` is
   * dropped and its lines counted, so an undrained stdout costs bounded memory.
   */
  readonly backlog?: () => number;
  /** Default 8 MiB (`DEFAULT_ACCESS_LOG_BACKLOG_BYTES`, or `HBS_ACCESS_LOG_BACKLOG_BYTES`). */
  readonly maxBacklogBytes?: number;
}

export const DEFAULT_ACCESS_LOG_BACKLOG_BYTES = 8 * 1024 * 1024;
export const ACCESS_LOG_BACKLOG_ENV = 'HBS_ACCESS_LOG_BACKLOG_BYTES';

/** The backlog bound set in the environment, if any; a malformed value fails fast, naming the variable. */
export function accessLogBacklogFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): number | undefined {
  return positiveIntegersFromEnv({ maxBacklogBytes: ACCESS_LOG_BACKLOG_ENV }, env).maxBacklogBytes;
}

const ascii = (text: string) => Buffer.from(text, 'latin1');
const QUOTE = 0x22;
/** JSON escapes are at most 6 characters per UTF-16 unit, and UTF-8 is at most 3 bytes per unit. */
const WORST_BYTES_PER_UNIT = 6;
/** Distinct methods or routes given pieces of their own; a caller with more still works, unhelped. */
const MAX_CACHED_PIECES = 64;

/** Copies `s` as a JSON string literal; plain ASCII byte by byte, anything needing escapes through JSON.stringify. */
function putString(buffer: Buffer, at: number, s: string): number {
  const start = at;
  buffer[at++] = QUOTE;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === 0x5c) return start + buffer.write(JSON.stringify(s), start, 'utf8');
    buffer[at++] = c;
  }
  buffer[at++] = QUOTE;
  return at;
}

/** Copies a short constant; a loop beats TypedArray#set's call overhead below a few dozen bytes. */
function putBytes(buffer: Buffer, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buffer[at++] = bytes[i];
  return at;
}

/** Copies a non-negative integer's decimal digits. */
function putInteger(buffer: Buffer, at: number, n: number): number {
  const digits = String(n);
  for (let i = 0; i < digits.length; i++) buffer[at++] = digits.charCodeAt(i);
  return at;
}

const json = (value: string | undefined) => (value === undefined ? 'null' : JSON.stringify(value));
const BYTES = ascii(',"bytes":');
const DURATION = ascii(',"durationMs":');
const IP = ascii(',"ip":');
/** Offset of the timestamp in the head: after `{"timestamp":"`. */
const TIMESTAMP_AT = 14;

const flushAtExit = new Set<() => void>();

export class BatchedAccessLog {
  private readonly maxBytes: number;
  private readonly flushMs: number;
  private readonly now: () => number;
  private buffer: Buffer;
  private used = 0;
  /** Lines in `buffer`. */
  private lines = 0;
  private readonly backlog?: () => number;
  private readonly maxBacklogBytes: number;
  /** Lines dropped because the reader fell behind (a metric). */
  droppedLines = 0;
  private timer?: NodeJS.Timeout;
  /**
   * `{"timestamp":"…","level":"INFO","message":"request",<bound>,"requestId":`,
   * its timestamp rewritten in place: the date and time once per second, the
   * milliseconds once per millisecond.
   */
  private readonly head: Buffer;
  private headSecond = -1;
  private headMs = -1;
  // Pieces that repeat from line to line, encoded once each:
  // `,"method":…,"path":` per method, `,"route":…,"status":` per route, `,"generation":…}\n` for the latest generation.
  private readonly methodPieces = new Map<string | undefined, Buffer>();
  private readonly routePieces = new Map<string, Buffer>();
  private generation?: string;
  private generationPiece = ascii(',"generation":null}\n');
  /** Everything but the pieces and the three free-form strings: the head, three numbers of at most 20 digits, the constants. */
  private readonly fixedBytes: number;

  constructor(
    bound: Record<string, unknown>,
    private readonly out: (chunk: Buffer) => void,
    options: BatchedAccessLogOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 64 * 1024;
    this.flushMs = options.flushMs ?? 250;
    this.now = options.now ?? Date.now;
    this.backlog = options.backlog;
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_ACCESS_LOG_BACKLOG_BYTES;
    this.buffer = Buffer.allocUnsafe(this.maxBytes);
    const boundJson = JSON.stringify(bound);
    const boundMembers = boundJson.length > 2 ? `,${boundJson.slice(1, -1)}` : '';
    this.head = Buffer.from(`{"timestamp":"1970-01-01T00:00:00.000Z","level":"INFO","message":"request"${boundMembers},"requestId":`, 'utf8');
    this.fixedBytes = this.head.length + 3 * 20 + BYTES.length + DURATION.length + IP.length;
    flushAtExit.add(this.flush);
    if (flushAtExit.size === 1) process.once('exit', () => flushAtExit.forEach((flush) => flush()));
  }

  /** Appends one request's line. */
  readonly log: AccessLog = (r) => {
    const method = this.methodPiece(r.method);
    const route = this.routePiece(r.route);
    const generation = this.generationPieceFor(r.generation);
    const path = r.path ?? '';
    const worstCase = this.fixedBytes + method.length + route.length + generation.length + (r.requestId.length + path.length + r.ip.length + 2) * WORST_BYTES_PER_UNIT;
    let buffer = this.buffer;
    let at = this.used;
    let alone = false;
    if (worstCase > this.maxBytes) {
      // A line longer than the whole buffer (a huge path) goes out on its own.
      this.flush();
      buffer = Buffer.allocUnsafe(worstCase);
      at = 0;
      alone = true;
    } else if (at + worstCase > this.maxBytes) {
      this.flush();
      buffer = this.buffer;
      at = 0;
    }
    this.stampHead();
    buffer.set(this.head, at);
    at = putString(buffer, at + this.head.length, r.requestId);
    buffer.set(method, at);
    at += method.length;
    at = r.path === undefined ? at + buffer.write('null', at, 'latin1') : putString(buffer, at, r.path);
    buffer.set(route, at);
    at = putInteger(buffer, at + route.length, r.status);
    at = putInteger(buffer, putBytes(buffer, at, BYTES), r.bytes);
    at = putInteger(buffer, putBytes(buffer, at, DURATION), r.durationMs);
    at = putString(buffer, putBytes(buffer, at, IP), r.ip);
    buffer.set(generation, at);
    at += generation.length;
    if (alone) {
      this.emit(buffer.subarray(0, at), 1);
      return;
    }
    this.used = at;
    this.lines++;
    if (!this.timer) {
      this.timer = setTimeout(this.flush, this.flushMs);
      this.timer.unref();
    }
  };

  /** Writes out whatever is buffered (idempotent). Call it before exiting on a signal. */
  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.used === 0) return;
    const chunk = this.buffer.subarray(0, this.used);
    const lines = this.lines;
    this.used = 0;
    this.lines = 0;
    if (this.emit(chunk, lines)) this.buffer = Buffer.allocUnsafe(this.maxBytes); // the writer may still hold `chunk`
  };

  /** Hands `chunk` to the writer unless the backlog is full; false when it was dropped (its buffer may be reused). */
  private emit(chunk: Buffer, lines: number): boolean {
    if (this.backlog && this.backlog() + chunk.length > this.maxBacklogBytes) {
      this.droppedLines += lines;
      return false;
    }
    this.out(chunk);
    return true;
  }

  private methodPiece(method: string | undefined): Buffer {
    let piece = this.methodPieces.get(method);
    if (!piece) {
      piece = Buffer.from(`,"method":${json(method)},"path":`, 'utf8');
      if (this.methodPieces.size < MAX_CACHED_PIECES) this.methodPieces.set(method, piece);
    }
    return piece;
  }

  private routePiece(route: string): Buffer {
    let piece = this.routePieces.get(route);
    if (!piece) {
      piece = Buffer.from(`,"route":${json(route)},"status":`, 'utf8');
      if (this.routePieces.size < MAX_CACHED_PIECES) this.routePieces.set(route, piece);
    }
    return piece;
  }

  private generationPieceFor(generation: string | undefined): Buffer {
    if (generation !== this.generation) {
      this.generation = generation;
      this.generationPiece = Buffer.from(`,"generation":${json(generation)}}\n`, 'utf8');
    }
    return this.generationPiece;
  }

  /** Brings the head's ISO 8601 timestamp to the current millisecond. */
  private stampHead(): void {
    const now = Math.floor(this.now());
    if (now === this.headMs) return;
    this.headMs = now;
    const second = Math.floor(now / 1000);
    if (second !== this.headSecond) {
      this.headSecond = second;
      this.head.write(new Date(second * 1000).toISOString().slice(0, 20), TIMESTAMP_AT, 'latin1');
    }
    const ms = now - second * 1000;
    const at = TIMESTAMP_AT + 20;
    this.head[at] = 0x30 + Math.floor(ms / 100);
    this.head[at + 1] = 0x30 + (Math.floor(ms / 10) % 10);
    this.head[at + 2] = 0x30 + (ms % 10);
  }
}
