import { UsageError } from '../engine/errors';

/** The limits of every numeric option, written down once: the usage, the checks and the README quote these. */
export const LIMITS = {
  concurrency: { default: 4, min: 1, max: 64 },
  maxMissingPercent: { default: 1, min: 0, max: 100 },
  maxDropPercent: { default: 10, min: 0, max: 100 },
  port: { default: 8080, min: 0, max: 65535 },
  keepGenerations: { default: 3, min: 1, max: 1000 },
  orphanGraceDays: { default: 90, min: 0, max: 3650 },
  runRecordDays: { default: 365, min: 0, max: 36500 },
} as const;

/**
 * `--opt -1` is ambiguous to Node's parser (is `-1` an option?). Options that
 * take a value get it glued on (`--opt=-1`), so the range check below answers
 * with a clear message instead of the parser's.
 */
export function glueNegativeValues(args: readonly string[], valueOptions: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (valueOptions.includes(args[i].replace(/^--/, '')) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

export function integerOption(value: string | undefined, flag: string, limits: { default: number; min: number; max: number }): number {
  if (value === undefined) return limits.default;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < limits.min || n > limits.max) {
    throw new UsageError(`${flag} must be an integer from ${limits.min} to ${limits.max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

export function numberOption(value: string | undefined, flag: string, limits: { default: number; min: number; max: number }): number {
  if (value === undefined) return limits.default;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < limits.min || n > limits.max) {
    throw new UsageError(`${flag} must be a number from ${limits.min} to ${limits.max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** A positive number without an upper bound (rates, bursts). */
export function positiveOption(value: string | undefined, flag: string, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, not ${JSON.stringify(value)}`);
  }
  return n;
}
