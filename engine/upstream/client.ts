/**
 * HTTP access to the upstream registry and API, following brew's rules:
 * GHCR wants `Authorization: Bearer QQ==` (anonymous), and the header is
 * dropped as soon as a redirect leaves the original origin (blob downloads
 * redirect to a CDN with its own signed URL). Redirects are followed by hand
 * so that rule holds whatever the HTTP library does.
 */

import { MirrorError } from '../errors';
import { positiveIntegersFromEnv } from '../runtime-config';

export const ANONYMOUS_GHCR_TOKEN = 'QQ==';

export class UpstreamError extends MirrorError {
  readonly kind = 'upstream-input';

  constructor(
    message: string,
    /** True when retrying cannot help (404, 401/403, bad redirect). */
    public readonly permanent: boolean,
    public readonly status?: number,
    /** Server-requested delay (Retry-After), in milliseconds. */
    public readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface UpstreamResponse {
  readonly body: AsyncIterable<Uint8Array>;
  /** Content-Length of the final response, when announced. */
  readonly length?: number;
  readonly headers: Headers;
  /** URL that finally answered (after redirects). */
  readonly url: string;
  /** Drops the response unread (the connection is closed). */
  cancel(): void;
}

/**
 * What a hostile or broken upstream may cost a run: every request has a
 * deadline for its headers and a floor on body throughput, and bodies read
 * whole have a size cap. Defaults sit far above what formulae.brew.sh and
 * ghcr.io need (formula.jws.json is about 33 MB, an image index a few KB).
 */
export interface UpstreamLimits {
  /** Time allowed until response headers arrive, per request and per redirect hop. Default 30 s. */
  readonly headersTimeoutMs: number;
  /** A body must average at least this many bytes a second over every `throughputWindowMs`. Default 1024. */
  readonly minBytesPerSecond: number;
  /** Window of the throughput floor. Default 30 s. */
  readonly throughputWindowMs: number;
  /** Largest API file read (decompressed). Default 128 MiB. */
  readonly maxApiFileBytes: number;
  /** Largest OCI image index read. Default 1 MiB. */
  readonly maxIndexBytes: number;
}

export const DEFAULT_UPSTREAM_LIMITS: UpstreamLimits = {
  headersTimeoutMs: 30_000,
  minBytesPerSecond: 1024,
  throughputWindowMs: 30_000,
  maxApiFileBytes: 128 * 1024 * 1024,
  maxIndexBytes: 1024 * 1024,
};

/** Environment variables that override `DEFAULT_UPSTREAM_LIMITS` (the CLI and every AWS workload read them). */
export const UPSTREAM_LIMIT_ENV = {
  headersTimeoutMs: 'HBS_UPSTREAM_HEADERS_TIMEOUT_MS',
  minBytesPerSecond: 'HBS_UPSTREAM_MIN_BYTES_PER_SECOND',
  throughputWindowMs: 'HBS_UPSTREAM_THROUGHPUT_WINDOW_MS',
  maxApiFileBytes: 'HBS_MAX_API_FILE_BYTES',
  maxIndexBytes: 'HBS_MAX_INDEX_BYTES',
} as const satisfies Record<keyof UpstreamLimits, string>;

/** The limits set in `env`; a malformed value fails fast, naming its variable. */
export function upstreamLimitsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Partial<UpstreamLimits> {
  return positiveIntegersFromEnv(UPSTREAM_LIMIT_ENV, env);
}

export interface UpstreamOptions {
  /** Deadlines, throughput floor and size caps; unset fields keep their defaults. */
  readonly limits?: Partial<UpstreamLimits>;
  /** Bearer token for the registry origin. Default: the anonymous `QQ==`. */
  readonly token?: string;
  /**
   * Where plain http is allowed: `loopback` (the default: a local fixture or
   * proxy) or `any`. Everything else must be https, redirects included.
   */
  readonly plainHttp?: 'loopback' | 'any';
  readonly maxRedirects?: number;
  readonly fetch?: typeof fetch;
  readonly userAgent?: string;
}

/**
 * A URL fit for messages and logs: no query string or fragment (CDN redirects
 * carry signed, short-lived tokens there) and no credentials.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const redacted = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
    return parsed.search || parsed.hash ? `${redacted}?…` : redacted;
  } catch {
    return '(invalid URL)';
  }
}

/** Literal hosts no upstream request may reach: link-local (the instance metadata range) and metadata names. */
const FORBIDDEN_HOST = /^(169\.254\.\d{1,3}\.\d{1,3}|\[?fe[89ab][0-9a-f]:[^\]]*\]?|\[?fd00:ec2::254\]?|metadata\.google\.internal|metadata)$/i;
const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)$/i;

/** Why `url` must not be requested (scheme, address), or undefined when it may. */
export function refuseTarget(url: string, plainHttp: 'loopback' | 'any' = 'loopback'): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return `refusing ${parsed.protocol} URLs (http and https only)`;
  if (FORBIDDEN_HOST.test(parsed.hostname)) return `refusing link-local or metadata address ${parsed.hostname}`;
  if (parsed.protocol === 'http:' && plainHttp === 'loopback' && !LOOPBACK_HOST.test(parsed.hostname)) return 'refusing plain http outside loopback (https required)';
  return undefined;
}

/** Parses Retry-After (delta-seconds or HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Reads a whole (small) response body, an API file or an image index, and
 * gives up as soon as it passes `maxBytes` (fetch decompresses on the fly, so
 * this also caps a gzip bomb at `maxBytes` of output).
 */
export async function readAll(response: Pick<UpstreamResponse, 'body' | 'length' | 'url' | 'cancel'>, maxBytes: number): Promise<Buffer> {
  const tooBig = () => new UpstreamError(`GET ${redactUrl(response.url)}: body larger than the ${maxBytes}-byte cap`, true);
  if (response.length !== undefined && response.length > maxBytes) {
    response.cancel();
    throw tooBig();
  }
  if (response.length !== undefined) {
    // Announced: one buffer of that size, filled as chunks arrive (no chunk list and no concatenated copy).
    const body = Buffer.allocUnsafe(response.length);
    let filled = 0;
    for await (const chunk of response.body) {
      if (filled + chunk.length > body.length) throw new UpstreamError(`GET ${redactUrl(response.url)}: body longer than its Content-Length`, false);
      body.set(chunk, filled);
      filled += chunk.length;
    }
    if (filled !== body.length) throw new UpstreamError(`GET ${redactUrl(response.url)}: body shorter than its Content-Length`, false);
    return body;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > maxBytes) throw tooBig(); // leaving the loop cancels the body
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * Ends a blob's body with an error as soon as it passes `expected` bytes:
 * an endless body is never written to disk in full.
 */
export async function* cutAt(body: AsyncIterable<Uint8Array>, expected: number | undefined, url: string): AsyncIterable<Uint8Array> {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (expected !== undefined && total > expected) throw new UpstreamError(`GET ${redactUrl(url)}: body longer than the expected ${expected} bytes`, false);
    yield chunk;
  }
}

export class Upstream {
  private readonly token: string;
  private readonly maxRedirects: number;
  private readonly fetchImpl: typeof fetch;
  private readonly userAgent: string;
  private readonly plainHttp: 'loopback' | 'any';
  readonly limits: UpstreamLimits;
  /** Requests in flight, so `abortAll` can end them (Ctrl-C, SIGTERM). */
  private readonly inFlight = new Set<AbortController>();
  private stopped?: string;
  /** Date.now() of the last response or body chunk: what the run's lease heartbeat calls progress. */
  lastActivityMs = Date.now();

  constructor(options: UpstreamOptions = {}) {
    this.limits = { ...DEFAULT_UPSTREAM_LIMITS, ...(options.limits ?? upstreamLimitsFromEnv()) };
    this.plainHttp = options.plainHttp ?? 'loopback';
    this.token = options.token ?? ANONYMOUS_GHCR_TOKEN;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.fetchImpl = options.fetch ?? fetch;
    this.userAgent = options.userAgent ?? 'homebrew-bottles-sync';
  }

  /** Ends every request in flight and refuses new ones: the run is stopping. */
  abortAll(reason: string): void {
    this.stopped = reason;
    for (const controller of this.inFlight) controller.abort();
  }

  /**
   * GET `url`; resolves with the streaming body of a 200, throws `UpstreamError` otherwise.
   * `registryAuth: false` for the JSON API, which brew fetches without the registry token.
   * `identity: true` asks for the bytes as stored (blobs: their sha256 is of the raw bytes).
   * `extraHeaders` (lower-case names) are a cask download's own (`url_kwargs`): user agent, referer, cookies.
   */
  async get(url: string, accept?: string, registryAuth = true, identity = false, extraHeaders?: Readonly<Record<string, string>>): Promise<UpstreamResponse> {
    const origin = new URL(url).origin;
    let current = url;
    for (let hop = 0; hop <= this.maxRedirects; hop++) {
      const refused = this.stopped ?? refuseTarget(current, this.plainHttp);
      if (refused) throw new UpstreamError(`GET ${redactUrl(current)}: ${refused}`, true);
      const headers: Record<string, string> = { 'user-agent': this.userAgent };
      if (accept) headers.accept = accept;
      if (identity) headers['accept-encoding'] = 'identity';
      if (registryAuth && new URL(current).origin === origin) headers.authorization = `Bearer ${this.token}`;
      // A cask's own headers (user agent, referer, cookies) go with every hop; cookies only to the origin that set them, as curl does.
      for (const [name, value] of Object.entries(extraHeaders ?? {})) if (name !== 'cookie' || new URL(current).origin === origin) headers[name] = value;
      const controller = new AbortController();
      this.inFlight.add(controller);
      const deadline = setTimeout(() => controller.abort(), this.limits.headersTimeoutMs);
      let response: Response;
      try {
        response = await this.fetchImpl(current, { headers, redirect: 'manual', signal: controller.signal });
      } catch (error) {
        this.inFlight.delete(controller);
        const why = this.stopped ?? (controller.signal.aborted ? `no response within ${this.limits.headersTimeoutMs / 1000} s` : (error as Error).message);
        throw new UpstreamError(`GET ${redactUrl(current)}: ${why}`, this.stopped !== undefined);
      } finally {
        clearTimeout(deadline);
      }
      this.lastActivityMs = Date.now();
      if (!(response.status === 200 && response.body)) this.inFlight.delete(controller);
      if ([301, 302, 303, 307, 308].includes(response.status)) {
        await response.body?.cancel();
        const location = response.headers.get('location');
        if (!location) throw new UpstreamError(`GET ${redactUrl(current)}: redirect without Location`, true, response.status);
        current = new URL(location, current).toString();
        continue;
      }
      if (response.status === 200 && response.body) {
        // Content-Length counts encoded bytes; fetch hands over the decoded body, whose length is unknown.
        const encoding = response.headers.get('content-encoding');
        const length = encoding && encoding !== 'identity' ? null : response.headers.get('content-length');
        return {
          body: this.guarded(response.body as unknown as AsyncIterable<Uint8Array>, controller, current),
          length: length === null ? undefined : Number(length),
          headers: response.headers,
          url: current,
          cancel: () => {
            controller.abort();
            this.inFlight.delete(controller);
          },
        };
      }
      await response.body?.cancel();
      const retryable = response.status === 429 || response.status >= 500;
      throw new UpstreamError(
        `GET ${redactUrl(current)}: HTTP ${response.status}`,
        !retryable,
        response.status,
        parseRetryAfter(response.headers.get('retry-after')),
      );
    }
    throw new UpstreamError(`GET ${redactUrl(url)}: more than ${this.maxRedirects} redirects`, true);
  }

  /**
   * The body with a throughput floor: a window with fewer than
   * `minBytesPerSecond × window` bytes aborts the request, so an upstream
   * trickling one byte a second fails within one window instead of hours.
   */
  private async *guarded(body: AsyncIterable<Uint8Array>, controller: AbortController, url: string): AsyncIterable<Uint8Array> {
    const { minBytesPerSecond, throughputWindowMs } = this.limits;
    const floor = (minBytesPerSecond * throughputWindowMs) / 1000;
    let windowBytes = 0;
    let stalled = false;
    const watchdog = setInterval(() => {
      if (windowBytes < floor) {
        stalled = true;
        controller.abort();
      }
      windowBytes = 0;
    }, throughputWindowMs);
    try {
      for await (const chunk of body) {
        windowBytes += chunk.length;
        this.lastActivityMs = Date.now();
        yield chunk;
      }
    } catch (error) {
      if (this.stopped) throw new UpstreamError(`GET ${redactUrl(url)}: ${this.stopped}`, true);
      if (stalled) throw new UpstreamError(`GET ${redactUrl(url)}: body slower than ${minBytesPerSecond} bytes/s over ${throughputWindowMs / 1000} s; gave up`, false);
      throw error;
    } finally {
      clearInterval(watchdog);
      this.inFlight.delete(controller);
    }
  }
}
