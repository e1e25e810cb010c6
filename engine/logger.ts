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
