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
}

const ascii = (text: string) => Buffer.from(text, 'latin1');
const QUOTE = 0x22;
/** JSON escapes are at most 6 characters per UTF-16 unit, and UTF-8 is at most 3 bytes per unit. */
const WORST_BYTES_PER_UNIT = 6;

/** Copies `s` as a JSON string literal; plain ASCII byte by byte, anything needing escapes through JSON.stringify. */
function putString(buffer: Buffer, at: number, s: string | undefined): number {
  if (s === undefined) return at + buffer.write('null', at, 'latin1');
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

/** Copies a non-negative integer's decimal digits. */
function putInteger(buffer: Buffer, at: number, n: number): number {
  const digits = String(n);
  for (let i = 0; i < digits.length; i++) buffer[at++] = digits.charCodeAt(i);
  return at;
}

const flushAtExit = new Set<() => void>();

export class BatchedAccessLog {
  private readonly maxBytes: number;
  private readonly flushMs: number;
  private readonly now: () => number;
  private buffer: Buffer;
  private used = 0;
  private timer?: NodeJS.Timeout;
  // The constant parts of every line, encoded once.
  private readonly head: Buffer;
  private readonly afterTimestamp: Buffer;
  private readonly pieces: Buffer[];
  private readonly fixedBytes: number;
  /** `YYYY-MM-DDTHH:MM:SS.` of the current second, and which second that is. */
  private second = -1;
  private secondPrefix = Buffer.alloc(20);

  constructor(
    bound: Record<string, unknown>,
    private readonly out: (chunk: Buffer) => void,
    options: BatchedAccessLogOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 64 * 1024;
    this.flushMs = options.flushMs ?? 250;
    this.now = options.now ?? Date.now;
    this.buffer = Buffer.allocUnsafe(this.maxBytes);
    const boundJson = JSON.stringify(bound);
    const boundMembers = boundJson.length > 2 ? `,${boundJson.slice(1, -1)}` : '';
    this.head = ascii('{"timestamp":"');
    this.afterTimestamp = Buffer.from(`","level":"INFO","message":"request"${boundMembers},"requestId":`, 'utf8');
    this.pieces = [',"method":', ',"path":', ',"route":', ',"status":', ',"bytes":', ',"durationMs":', ',"ip":', ',"generation":', '}\n'].map(ascii);
    // Everything but the string fields: constants, a 24-character timestamp and three numbers of at most 20 digits.
    this.fixedBytes = this.head.length + 24 + this.afterTimestamp.length + this.pieces.reduce((sum, p) => sum + p.length, 0) + 3 * 20;
    flushAtExit.add(this.flush);
    if (flushAtExit.size === 1) process.once('exit', () => flushAtExit.forEach((flush) => flush()));
  }

  /** Appends one request's line. */
  readonly log: AccessLog = (r) => {
    const strings = (r.requestId.length + (r.method?.length ?? 4) + (r.path?.length ?? 4) + r.route.length + r.ip.length + (r.generation?.length ?? 4)) * WORST_BYTES_PER_UNIT + 12;
    const worstCase = this.fixedBytes + strings;
    if (worstCase > this.maxBytes) {
      // A line longer than the whole buffer (a huge path) goes out on its own.
      this.flush();
      const alone = Buffer.allocUnsafe(worstCase);
      this.out(alone.subarray(0, this.encode(alone, 0, r)));
      return;
    }
    if (this.used + worstCase > this.maxBytes) this.flush();
    this.used = this.encode(this.buffer, this.used, r);
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
    this.buffer = Buffer.allocUnsafe(this.maxBytes); // the writer may still hold `chunk`
    this.used = 0;
    this.out(chunk);
  };

  private encode(buffer: Buffer, at: number, r: AccessRecord): number {
    const p = this.pieces;
    buffer.set(this.head, at);
    at = this.putTimestamp(buffer, at + this.head.length);
    buffer.set(this.afterTimestamp, at);
    at = putString(buffer, at + this.afterTimestamp.length, r.requestId);
    buffer.set(p[0], at);
    at = putString(buffer, at + p[0].length, r.method);
    buffer.set(p[1], at);
    at = putString(buffer, at + p[1].length, r.path);
    buffer.set(p[2], at);
    at = putString(buffer, at + p[2].length, r.route);
    buffer.set(p[3], at);
    at = putInteger(buffer, at + p[3].length, r.status);
    buffer.set(p[4], at);
    at = putInteger(buffer, at + p[4].length, r.bytes);
    buffer.set(p[5], at);
    at = putInteger(buffer, at + p[5].length, r.durationMs);
    buffer.set(p[6], at);
    at = putString(buffer, at + p[6].length, r.ip);
    buffer.set(p[7], at);
    at = putString(buffer, at + p[7].length, r.generation);
    buffer.set(p[8], at);
    return at + p[8].length;
  }

  /** ISO 8601 with milliseconds; the date and time up to the second are formatted once per second. */
  private putTimestamp(buffer: Buffer, at: number): number {
    const now = this.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.secondPrefix = ascii(new Date(second * 1000).toISOString().slice(0, 20));
    }
    buffer.set(this.secondPrefix, at);
    at += this.secondPrefix.length;
    const ms = now - second * 1000;
    buffer[at++] = 0x30 + Math.floor(ms / 100);
    buffer[at++] = 0x30 + (Math.floor(ms / 10) % 10);
    buffer[at++] = 0x30 + (Math.floor(ms) % 10);
    buffer[at++] = 0x5a; // Z
    return at;
  }
}
