/**
 * Every HTTP error the mirror answers, from one place: a status, a stable
 * machine-readable code, a message without internals, and the headers the
 * status requires (`Allow` for 405, `Retry-After` for 429 and 503,
 * `Content-Range` for 416). The body is JSON: `{"error": code, "message": …}`.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Flat `[name, value, …]` list, as the server's prepared headers. */
    readonly headers: readonly string[] = [],
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The methods every route answers. */
export const ALLOWED_METHODS = 'GET, HEAD';

export const httpErrors = {
  badRequest: (message: string) => new HttpError(400, 'bad_request', message),
  notFound: (message: string) => new HttpError(404, 'not_found', message),
  /** Token mode (issue #35): a blob or git route without a valid team token. */
  unauthorized: (challenge: string) => new HttpError(401, 'token_required', 'this mirror needs a team token (docs/tokens.md)', ['www-authenticate', challenge]),
  methodNotAllowed: () => new HttpError(405, 'method_not_allowed', 'only GET and HEAD', ['allow', ALLOWED_METHODS]),
  rangeNotSatisfiable: (size: number) => new HttpError(416, 'range_not_satisfiable', 'range not satisfiable', ['content-range', `bytes */${size}`]),
  rateLimited: (retryAfterSeconds: number) => new HttpError(429, 'rate_limited', 'too many requests', ['retry-after', String(retryAfterSeconds)]),
  /** The client's byte budget is spent (issue #25); Retry-After says when it has refilled enough for one more blob. */
  byteBudgetSpent: (retryAfterSeconds: number) =>
    new HttpError(429, 'byte_budget_spent', 'this address or team has downloaded its hourly byte budget', ['retry-after', String(retryAfterSeconds)]),
  internal: () => new HttpError(500, 'internal_error', 'internal error'),
  noGeneration: () => new HttpError(503, 'no_generation', 'nothing has been published yet', ['retry-after', '60']),
};
