/**
 * The engine's error catalog. Callers decide what to do by an error's kind,
 * never by listing classes:
 *
 * - `upstream-input`: upstream sent something unusable (malformed JSON, a
 *   formula name that cannot be a file name, an image index without the
 *   bottle, an HTTP failure). Nothing is published; the last mirror stays.
 * - `verification`: a signature or digest did not match. Nothing is published.
 * - `local-environment`: this machine or account refused (disk full, read-only
 *   store, permissions, a port in use, a control-plane call rejected).
 * - `usage`: the caller asked for something invalid (a flag, a configuration
 *   value, a missing environment variable). The CLI exits 2.
 *
 * Anything that is not a `MirrorError` is a bug and is reported as unexpected.
 */
export type ErrorKind = 'upstream-input' | 'verification' | 'local-environment' | 'usage';

export abstract class MirrorError extends Error {
  abstract readonly kind: ErrorKind;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export function errorKind(error: unknown): ErrorKind | undefined {
  return error instanceof MirrorError ? error.kind : undefined;
}

/** Bad upstream input or a failed verification: the run stops, nothing changes, and the message says why. */
export const isRejectedInput = (error: unknown): boolean => {
  const kind = errorKind(error);
  return kind === 'upstream-input' || kind === 'verification';
};

/** A usage or configuration error (the caller's to fix; exit code 2). */
export class UsageError extends MirrorError {
  readonly kind = 'usage';
}

/** A configuration value (an `HBS_*` variable, read at synthesis or at run time) that is missing or invalid: one line naming the variable. */
export class ConfigurationError extends MirrorError {
  readonly kind = 'usage';
}

/** This machine or account refused something the run needs. */
export class LocalEnvironmentError extends MirrorError {
  readonly kind = 'local-environment';
}
