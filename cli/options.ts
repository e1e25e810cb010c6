import { parseByteSize } from '../engine/byte-size';
import { SERVE_DEFAULTS, SYNC_DEFAULTS } from '../engine/defaults';
import { KeyObject } from 'crypto';
import { readFileSync } from 'fs';
import { UsageError } from '../engine/errors';
import { HOMEBREW_1_PEM } from '../engine/homebrew/homebrew-1-key';
import { loadPublicKey } from '../engine/homebrew/signed-api';
import { DEFAULT_HOUSEKEEPING } from '../engine/sync/housekeeping';
import { DEFAULT_TRANSFER_CONCURRENCY } from '../engine/transfer/pipelining';

/**
 * The range of every numeric option: the usage and the checks quote these.
 * The defaults are the engine's own (`SYNC_DEFAULTS`, `SERVE_DEFAULTS`,
 * `DEFAULT_HOUSEKEEPING`), never spelled here.
 */
export const LIMITS = {
  concurrency: { default: SYNC_DEFAULTS.concurrency, min: 1, max: 64 },
  transferConcurrency: { default: DEFAULT_TRANSFER_CONCURRENCY, min: 1, max: 64 },
  maxPulls: { default: SERVE_DEFAULTS.maxPulls, min: 1, max: 256 },
  maxMissingPercent: { default: SYNC_DEFAULTS.maxMissingPercent, min: 0, max: 100 },
  maxDropPercent: { default: SYNC_DEFAULTS.maxDropPercent, min: 0, max: 100 },
  port: { default: SERVE_DEFAULTS.port, min: 0, max: 65535 },
  brewReleases: { default: SYNC_DEFAULTS.brewReleases, min: 1, max: 20 },
  keepGenerations: { default: DEFAULT_HOUSEKEEPING.keepGenerations, min: 1, max: 1000 },
  orphanGraceDays: { default: DEFAULT_HOUSEKEEPING.orphanGraceDays, min: 0, max: 3650 },
  runRecordDays: { default: DEFAULT_HOUSEKEEPING.runRecordDays, min: 0, max: 36500 },
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

/** A size such as `20G`, `512M` or plain bytes (binary suffixes, as `split -b` reads them). */
export function sizeOption(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw new UsageError(`${flag} must be a size such as 20G, 512M or a number of bytes, not ${JSON.stringify(value)}`);
  return bytes;
}

/** `--public-key PEM`: the key the signed API must verify with; Homebrew's homebrew-1 unless given. */
export function publicKeyOption(keyFile: string | undefined): KeyObject {
  try {
    return loadPublicKey(keyFile ? readFileSync(keyFile) : HOMEBREW_1_PEM);
  } catch (error) {
    throw new UsageError(`--public-key: cannot load ${keyFile}: ${(error as Error).message}`);
  }
}
