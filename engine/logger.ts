/** Minimal structured JSON logger; every line carries the fields bound at creation (run id, batch id). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** ISO timestamp of the current millisecond; formatted once per millisecond, since the mirror logs every request. */
let stampedAt = -1;
let stamp = '';
function timestamp(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = new Date(now).toISOString();
  }
  return stamp;
}

/** `{"a":1,"b":2}` → `,"a":1,"b":2` (or '' for no fields), ready to append to an open JSON object. */
function members(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const json = JSON.stringify(fields);
  return json.length > 2 ? `,${json.slice(1, -1)}` : '';
}

const clashes = (fields: Record<string, unknown>, bound: Record<string, unknown>): boolean => {
  for (const key in fields) if (key in bound || key === 'timestamp' || key === 'level' || key === 'message') return true;
  return false;
};

/**
 * One JSON object per line; a call's fields override bound ones. Bound
 * fields are serialized once, at creation, because the mirror logs every
 * request; a clash falls back to merging, so no line has duplicate keys.
 */
export function jsonLogger(bound: Record<string, unknown> = {}, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Logger {
  const boundMembers = members(bound);
  const emit = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(
      fields && clashes(fields, bound)
        ? JSON.stringify({ timestamp: timestamp(), level, message, ...bound, ...fields })
        : `{"timestamp":"${timestamp()}","level":"${level}","message":${JSON.stringify(message)}${boundMembers}${members(fields)}}`,
    );
  return {
    info: (message, fields) => emit('INFO', message, fields),
    error: (message, fields) => emit('ERROR', message, fields),
    child: (fields) => jsonLogger({ ...bound, ...fields }, write),
  };
}

const flushAtExit = new Set<() => void>();

/** A line sink that batches writes: one write per `maxBytes` or `flushMs` instead of one per line. */
export interface BatchedLines {
  readonly write: (line: string) => void;
  flush(): void;
}

/**
 * Batches log lines for a hot path (the mirror's access log). Writing to a
 * pipe or file is a synchronous syscall per call in Node; at tens of thousands
 * of requests a second that costs a large share of the server's CPU. Lines
 * are encoded into a byte buffer as they arrive (holding the strings instead
 * keeps them alive across garbage collections, which costs more than the
 * syscalls saved) and flushed when `maxBytes` have gathered, after `flushMs`,
 * and at exit, so at most `flushMs` of access log is lost if the process is
 * killed outright.
 */
export function batchedLines(out: (chunk: Buffer) => void, maxBytes = 64 * 1024, flushMs = 250): BatchedLines {
  let buffer = Buffer.allocUnsafe(maxBytes);
  let used = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (used === 0) return;
    const chunk = buffer.subarray(0, used);
    buffer = Buffer.allocUnsafe(maxBytes); // the writer may still hold `chunk`
    used = 0;
    out(chunk);
  };
  flushAtExit.add(flush);
  if (flushAtExit.size === 1) process.once('exit', () => flushAtExit.forEach((f) => f()));
  return {
    write: (line) => {
      const worstCase = line.length * 3 + 1; // UTF-8 bytes per UTF-16 unit, plus the newline
      if (worstCase > maxBytes) {
        flush();
        out(Buffer.from(`${line}\n`));
        return;
      }
      if (used + worstCase > maxBytes) flush();
      used += buffer.write(line, used);
      buffer[used++] = 0x0a;
      if (used >= maxBytes - 1) flush();
      else if (!timer) {
        timer = setTimeout(flush, flushMs);
        timer.unref();
      }
    },
    flush,
  };
}

/** One line of the mirror's access log. */
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

const str = (value: string | undefined): string => (value === undefined ? 'null' : JSON.stringify(value));

/**
 * The access log: the same JSON line `jsonLogger(bound).info('request', record)`
 * writes, serialized field by field because it runs on every request. Every
 * string goes through JSON.stringify (paths and forwarded IPs are
 * client-controlled), so a line is always valid JSON.
 */
export function jsonAccessLog(bound: Record<string, unknown>, write: (line: string) => void): AccessLog {
  const boundMembers = members(bound);
  return (r) =>
    write(
      `{"timestamp":"${timestamp()}","level":"INFO","message":"request"${boundMembers},"requestId":${str(r.requestId)},"method":${str(r.method)},` +
        `"path":${str(r.path)},"route":${str(r.route)},"status":${r.status},"bytes":${r.bytes},"durationMs":${r.durationMs},` +
        `"ip":${str(r.ip)},"generation":${str(r.generation)}}`,
    );
}
