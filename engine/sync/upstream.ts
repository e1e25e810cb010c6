/**
 * HTTP access to the upstream registry and API, following brew's rules:
 * GHCR wants `Authorization: Bearer QQ==` (anonymous), and the header is
 * dropped as soon as a redirect leaves the original origin (blob downloads
 * redirect to a CDN with its own signed URL). Redirects are followed by hand
 * so that rule holds whatever the HTTP library does.
 */

import { MirrorError } from '../errors';

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
}

export interface UpstreamOptions {
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

/** Reads a whole (small) response body, e.g. an API file or an image index. */
export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export class Upstream {
  private readonly token: string;
  private readonly maxRedirects: number;
  private readonly fetchImpl: typeof fetch;
  private readonly userAgent: string;
  private readonly plainHttp: 'loopback' | 'any';

  constructor(options: UpstreamOptions = {}) {
    this.plainHttp = options.plainHttp ?? 'loopback';
    this.token = options.token ?? ANONYMOUS_GHCR_TOKEN;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.fetchImpl = options.fetch ?? fetch;
    this.userAgent = options.userAgent ?? 'homebrew-bottles-sync';
  }

  /**
   * GET `url`; resolves with the streaming body of a 200, throws `UpstreamError` otherwise.
   * `registryAuth: false` for the JSON API, which brew fetches without the registry token.
   */
  async get(url: string, accept?: string, registryAuth = true): Promise<UpstreamResponse> {
    const origin = new URL(url).origin;
    let current = url;
    for (let hop = 0; hop <= this.maxRedirects; hop++) {
      const refused = refuseTarget(current, this.plainHttp);
      if (refused) throw new UpstreamError(`GET ${redactUrl(current)}: ${refused}`, true);
      const headers: Record<string, string> = { 'user-agent': this.userAgent };
      if (accept) headers.accept = accept;
      if (registryAuth && new URL(current).origin === origin) headers.authorization = `Bearer ${this.token}`;
      let response: Response;
      try {
        response = await this.fetchImpl(current, { headers, redirect: 'manual' });
      } catch (error) {
        throw new UpstreamError(`GET ${redactUrl(current)}: ${(error as Error).message}`, false);
      }
      if ([301, 302, 303, 307, 308].includes(response.status)) {
        await response.body?.cancel();
        const location = response.headers.get('location');
        if (!location) throw new UpstreamError(`GET ${redactUrl(current)}: redirect without Location`, true, response.status);
        current = new URL(location, current).toString();
        continue;
      }
      if (response.status === 200 && response.body) {
        const length = response.headers.get('content-length');
        return {
          body: response.body as unknown as AsyncIterable<Uint8Array>,
          length: length === null ? undefined : Number(length),
          headers: response.headers,
          url: current,
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
}
