/**
 * Minimal structured JSON logger; every line carries the fields bound at
 * creation (run id, batch id). Levels: `debug` for detail off by default,
 * `info` for progress, `warn` for a degraded but working state (a held lease,
 * a cache outage), `error` for a failure someone must look at.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const SEVERITY: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

/** The level named by `value` (e.g. `LOG_LEVEL`, as Lambda's advanced logging sets it), or INFO. */
export function logLevel(value: string | undefined): LogLevel {
  const upper = value?.toUpperCase();
  return upper && upper in SEVERITY ? (upper as LogLevel) : 'INFO';
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
export function jsonLogger(
  bound: Record<string, unknown> = {},
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  minLevel: LogLevel = 'INFO',
): Logger {
  const boundMembers = members(bound);
  const threshold = SEVERITY[minLevel];
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) =>
    SEVERITY[level] >= threshold &&
    write(
      fields && clashes(fields, bound)
        ? JSON.stringify({ timestamp: timestamp(), level, message, ...bound, ...fields })
        : `{"timestamp":"${timestamp()}","level":"${level}","message":${JSON.stringify(message)}${boundMembers}${members(fields)}}`,
    );
  return {
    debug: (message, fields) => void emit('DEBUG', message, fields),
    info: (message, fields) => void emit('INFO', message, fields),
    warn: (message, fields) => void emit('WARN', message, fields),
    error: (message, fields) => void emit('ERROR', message, fields),
    child: (fields) => jsonLogger({ ...bound, ...fields }, write, minLevel),
  };
}
