import { randomUUID, createHash } from 'crypto';
import * as http from 'http';
import { performance } from 'perf_hooks';
import { readFileSync } from 'fs';
import { Socket } from 'net';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { promisify } from 'util';
import { createGzip, gzip } from 'zlib';
import { Logger } from '../logger';
import { ALB_IDLE_TIMEOUT_SECONDS, HEALTH_PATH, positiveIntegersFromEnv } from '../runtime-config';
import { OCI_INDEX_MEDIA_TYPE, apiKey, isSha256, manifestKey } from '../store-layout';
import { AccessLog } from './access-log';
import { HttpError, httpErrors } from './http-errors';
import { ServerMetrics } from './metrics';
import { BlobStore, ObjectStore, RateLimiter, RateVerdict, StateStore } from '../ports';
import { ApiFile, GenerationSnapshot, loadSnapshot } from './snapshot';
import { missingObjects } from './completeness';

const gzipAsync = promisify(gzip);

/** `proxy` streams bottles through the server; `redirect` answers with a short-lived store URL. */
export type ServeMode = 'proxy' | 'redirect';

export interface MirrorServerDeps {
  readonly objects: ObjectStore;
  readonly blobs: BlobStore;
  readonly state: StateStore;
  readonly log: Logger;
  /** The per-request access log. Default: `log.info('request', …)`. Busy servers pass a BatchedAccessLog's `log`. */
  readonly accessLog?: AccessLog;
  readonly limiter: RateLimiter;
  /** How bottles are delivered. `proxy` streams them; `redirect` needs a presigner. */
  readonly mode: ServeMode;
  /** A short-lived URL for a blob (S3 presigned GET, with the response's Content-Disposition when given); required in redirect mode. */
  readonly presign?: (sha256: string, expiresInSeconds: number, contentDisposition?: string) => Promise<string>;
  /**
   * Lifetime of presigned URLs. Default 300 s. One URL is handed out for the
   * first fifth of its life, so every client gets at least four fifths of it,
   * and SigV4 signing happens once per blob per minute instead of per request.
   */
  readonly presignExpirySeconds?: number;
  /**
   * Take the client IP from X-Forwarded-For, behind the ALB. Its last entry is
   * the address the ALB saw; earlier ones come from the client and could be
   * forged to dodge the rate limit. Default false.
   */
  readonly trustProxy?: boolean;
  /**
   * Switch to a new generation only once every object it names is in this
   * store (`missingObjects`). For a mirror reading a replica (the DR
   * standby), where the pointer arrives before the objects. Default false: a
   * primary's sync publishes only after everything is stored.
   */
  readonly verifyCompleteness?: boolean;
  /** How often to look for a newly published generation. Default 5 s. */
  readonly pollMs?: number;
  /** Connection caps and the stalled-download timeout; unset fields keep their defaults. */
  readonly limits?: Partial<ServerLimits>;
  /** Lines the access log dropped (a BatchedAccessLog's `droppedLines`), for /metrics and the EMF report. */
  readonly accessLogDropped?: () => number;
}

/**
 * What a hostile or careless client may cost the server. Every cap refuses
 * politely: a connection over a cap gets a 503 with Retry-After and is closed.
 */
export interface ServerLimits {
  /** Open client connections in all. Default: `defaultMaxConnections()`, under the file-descriptor limit. */
  readonly maxConnections: number;
  /**
   * Open connections per client address. Default 64. Not applied behind a
   * load balancer (`trustProxy`), where every connection comes from it.
   */
  readonly maxConnectionsPerClient: number;
  /** A download the client accepts no bytes of for this long is cut. Default 30 s. */
  readonly writeStallMs: number;
}

/** File descriptors kept free for the store, the state files, logs and the generation refresh. */
export const FD_HEADROOM = 1024;

/**
 * The default connection cap: 10,000, or fewer when the process may not open
 * that many files (`nofile` from /proc/self/limits) and still keep
 * `FD_HEADROOM` for everything else. At least 64.
 */
export function defaultMaxConnections(fileLimit: number | undefined = readFileLimit()): number {
  const cap = 10_000;
  if (fileLimit === undefined) return cap;
  return Math.max(64, Math.min(cap, fileLimit - FD_HEADROOM));
}

function readFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined; // not Linux: the fixed cap applies
  }
}

export const DEFAULT_SERVER_LIMITS: Omit<ServerLimits, 'maxConnections'> = { maxConnectionsPerClient: 64, writeStallMs: 30_000 };

/** Environment variables that override the server's limits (`bottles serve` and the mirror task read them). */
export const SERVER_LIMIT_ENV = {
  maxConnections: 'HBS_MAX_CONNECTIONS',
  maxConnectionsPerClient: 'HBS_MAX_CONNECTIONS_PER_CLIENT',
  writeStallMs: 'HBS_WRITE_STALL_MS',
} as const satisfies Record<keyof ServerLimits, string>;

/** The limits set in `env`; a malformed value fails fast, naming its variable. */
export function serverLimitsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Partial<ServerLimits> {
  return positiveIntegersFromEnv(SERVER_LIMIT_ENV, env);
}

/** A connection over a cap may take this long to send its request and read the 503. */
const REFUSAL_GRACE_MS = 2000;
/** Past the cap by this many, connections are closed at once, without a 503: the descriptors matter more. */
const HARD_OVERFLOW = 256;

/**
 * Header lists are flat `[name, value, name, value, …]` arrays handed straight
 * to `writeHead`: no per-header `setHeader` bookkeeping on the hot path.
 */
type HeaderList = readonly string[];

/** One request in flight: what every handler needs, and what the access log and metrics record. */
interface Exchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly requestId: string;
  /** performance.now() at arrival (a double: no BigInt per request). */
  readonly started: number;
  /** The generation this request is answered from, fixed when it arrives. */
  readonly snapshot?: GenerationSnapshot;
  route: string;
  /** Response body bytes handed to the socket. */
  bytes: number;
  /** Client address, resolved on first use. */
  ip?: string;
}

/**
 * A run's failure reason fit for a public page: URLs keep only their origin
 * (paths and query strings can carry tokens), local file paths are hidden.
 */
export function publicReason(reason: string): string {
  return reason
    .replace(/\b(https?:\/\/[^\s/?#'"]+)([^\s'"]*?)([:;,.]?)(?=[\s'"]|$)/g, (_, origin: string, rest: string, end: string) => `${origin}${rest ? '/…' : ''}${end}`)
    .replace(/(^|[\s'"(=])(\/[^\s'"):]+)/g, '$1(local path)')
    .slice(0, 300);
}

/** Longest request path written to the access log; a longer one is cut and marked. */
export const MAX_LOGGED_PATH = 1024;

/** The request path as logged: at most `MAX_LOGGED_PATH` characters (a flood of huge paths must not flood the log). */
export function loggedPath(url: string | undefined): string | undefined {
  return url === undefined || url.length <= MAX_LOGGED_PATH ? url : `${url.slice(0, MAX_LOGGED_PATH)}…(${url.length} chars)`;
}

/** Handlers answer synchronously when everything is in memory, and return a promise only when they must wait. */
type Handler = (x: Exchange) => void | Promise<void>;


export const SECURITY_HEADERS: HeaderList = [
  'x-content-type-options', 'nosniff',
  'x-frame-options', 'DENY',
  'referrer-policy', 'no-referrer',
  'content-security-policy', "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security', 'max-age=31536000; includeSubDomains',
  'cross-origin-resource-policy', 'cross-origin',
];

const IMAGE = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;
const REF = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const encodesSlash = (segment: string | undefined): boolean => segment !== undefined && segment.includes('%') && /%2f|%5c/i.test(segment);

/** Decodes one path segment exactly as brew encoded it; anything odd is a 400, never a file access. */
function decodeSegment(raw: string): string {
  let decoded = raw;
  try {
    if (raw.includes('%')) decoded = decodeURIComponent(raw);
  } catch {
    throw httpErrors.badRequest('malformed percent-encoding');
  }
  // eslint-disable-next-line no-control-regex
  if (decoded === '' || decoded === '.' || decoded === '..' || /[\/\\\u0000-\u001f\u007f]/.test(decoded)) {
    throw httpErrors.badRequest('malformed path');
  }
  return decoded;
}

/** Parses `Range: bytes=…` for one range; undefined = whole body. Throws 416 when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = httpErrors.rangeNotSatisfiable(size);
  if (!match || (match[1] === '' && match[2] === '')) throw unsatisfiable;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw unsatisfiable;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start > end || start >= size) throw unsatisfiable;
  return { start, end };
}

/**
 * The first (or last) value of a request header, found in the raw list. Reading
 * `req.headers` makes Node build (and lower-case) the whole header object,
 * which the redirect route otherwise never needs.
 */
function rawHeader(req: http.IncomingMessage, lowerCaseName: string, last = false): string | undefined {
  const raw = req.rawHeaders;
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === lowerCaseName.length && raw[i].toLowerCase() === lowerCaseName) {
      found = raw[i + 1];
      if (!last) break;
    }
  }
  return found;
}

/** Security headers followed by `headers`; slice and push, which stay on V8's fast path (concat does not). */
function withSecurityHeaders(headers: HeaderList): string[] {
  const list = SECURITY_HEADERS.slice();
  for (let i = 0; i < headers.length; i++) list.push(headers[i]);
  return list;
}

/**
 * Idle keep-alive connections are closed after this long: 5 s above the ALB's
 * idle timeout, so the ALB closes first and never sends a request down a
 * connection the server is closing.
 */
export const KEEP_ALIVE_TIMEOUT_MS = (ALB_IDLE_TIMEOUT_SECONDS + 5) * 1000;

/** How long `stop()` lets downloads in flight finish: under the task's 120 s stop timeout, with room to flush logs. */
export const DRAIN_TIMEOUT_MS = 110_000;

const JSON_NO_STORE: HeaderList = ['content-type', 'application/json', 'cache-control', 'no-store'];
const REGISTRY_BASE: HeaderList = ['content-type', 'application/json', 'docker-distribution-api-version', 'registry/2.0'];
const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T>)?.then === 'function';

interface CachedManifest {
  readonly body: Buffer;
  readonly headers: HeaderList;
  /** The 200 response's complete header list (security headers and Content-Length included). */
  readonly ok: HeaderList;
  readonly etag: string;
  /** `sha256:<hex>` of the body. */
  readonly digest: string;
}

/** How a blob response is keyed in the presign cache and named for download. */
interface BlobNaming {
  /** Presign-cache key: the encoded flat name, or `sha256:<hex>` for the registry route. */
  readonly key: string;
  /** The flat file name for `Content-Disposition` (bottle routes only). */
  readonly fileName?: () => string;
}

/** `attachment; filename="…"`: flat names are letters, digits and `@+._-`, so no quoting is needed inside. */
export const attachment = (fileName: string): string => `attachment; filename="${fileName.replace(/["\\\r\n]/g, '_')}"`;

/** A small insertion-ordered map that drops its oldest entry when full. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.limit) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}

/**
 * The HTTP server `brew` talks to. Routes (see README):
 * `/api/<file>`, `/bottles/<flat file name>`, `/bottles/<image>/manifests/<ref>`,
 * `/v2/`, `/v2/homebrew/core/<image>/manifests/<ref>`,
 * `/v2/homebrew/core/<image>/blobs/sha256:<hex>`, `/health`, `/health/detailed`,
 * `/metrics`, `/status`.
 *
 * The hot path stays synchronous while everything it needs is in memory (the
 * generation snapshot, immutable manifests, blob sizes, recently presigned
 * URLs, the local rate limiter) and only awaits when it has to go to a store.
 */
export class MirrorServer {
  readonly server: http.Server;
  readonly metrics = new ServerMetrics();
  private snapshot?: GenerationSnapshot;
  /**
   * The generation served before the current one. Its bottles stay reachable
   * by name: a client that read the previous API a moment before the switch
   * asks for that API's bottles next, and they are still stored (orphans
   * expire after 90 days), so they must not turn into 404s at the switch.
   */
  private previous?: GenerationSnapshot;
  private poller?: NodeJS.Timeout;
  /** The poller's refresh in flight, if any (stop() waits for it). */
  private refreshing?: Promise<void>;
  /** gzip of API files by ETag (content-addressed, so valid across generations), made once each. */
  private readonly gzipped = new BoundedMap<string, Buffer>(64);
  private readonly gzipping = new Map<string, Promise<Buffer>>();
  /** Image indexes and blob sizes are immutable (content-addressed), so they are kept once read. */
  private readonly manifests = new BoundedMap<string, CachedManifest>(4096);
  private readonly blobSizes = new BoundedMap<string, number>(65536);
  /** Recently presigned URLs with their complete 302 header lists, reusable until `until` (performance.now() ms). */
  private readonly presigned = new BoundedMap<string, { until: number; headers: HeaderList }>(65536);
  readonly limits: ServerLimits;
  /** Open connections per client address (only counted when the address is the client's). */
  private readonly perClient = new Map<string, number>();
  /** Connections over a cap: their first request is answered 503 and the connection closed. */
  private readonly refused = new WeakSet<Socket>();
  /** Downloads in flight, checked for stalls by one sweep. */
  private readonly downloads = new Map<Exchange, { bytes: number; since: number }>();
  private stallSweep?: NodeJS.Timeout;

  constructor(private readonly deps: MirrorServerDeps) {
    if (deps.mode === 'redirect' && !deps.presign) throw new Error('redirect mode needs a store that can presign URLs (S3)');
    this.limits = { maxConnections: deps.limits?.maxConnections ?? defaultMaxConnections(), ...DEFAULT_SERVER_LIMITS, ...deps.limits };
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.on('connection', (socket: Socket) => this.admitConnection(socket));
    if (deps.accessLogDropped) this.metrics.accessLogDropped = deps.accessLogDropped;
  }

  /**
   * Counts the connection against the total and per-client caps. Over a cap
   * it is marked refused (its request gets a 503) and closed after a short
   * grace; far over, it is closed at once, so descriptors stay for the store.
   */
  private admitConnection(socket: Socket): void {
    const address = this.deps.trustProxy ? undefined : socket.remoteAddress ?? 'unknown';
    const open = ++this.metrics.openConnections;
    const fromClient = address === undefined ? 0 : (this.perClient.get(address) ?? 0) + 1;
    if (address !== undefined) this.perClient.set(address, fromClient);
    socket.once('close', () => {
      this.metrics.openConnections--;
      if (address === undefined) return;
      const left = (this.perClient.get(address) ?? 1) - 1;
      if (left === 0) this.perClient.delete(address);
      else this.perClient.set(address, left);
    });
    const overTotal = open > this.limits.maxConnections;
    const overClient = fromClient > this.limits.maxConnectionsPerClient;
    if (!overTotal && !overClient) return;
    this.metrics.connectionsRefused++;
    if (open > this.limits.maxConnections + HARD_OVERFLOW) {
      socket.destroy();
      return;
    }
    this.refused.add(socket);
    socket.setTimeout(REFUSAL_GRACE_MS, () => socket.destroy());
  }

  /** Cuts downloads whose client accepted no bytes for `writeStallMs`; runs while any download is in flight. */
  private sweepStalled = (): void => {
    const now = performance.now();
    for (const [x, seen] of this.downloads) {
      if (x.bytes !== seen.bytes) {
        seen.bytes = x.bytes;
        seen.since = now;
      } else if (now - seen.since >= this.limits.writeStallMs) {
        this.downloads.delete(x);
        this.metrics.downloadsStalled++;
        this.deps.log.info('download cut: the client stopped reading', { requestId: x.requestId, route: x.route, bytes: x.bytes, stalledMs: Math.round(now - seen.since) });
        x.res.destroy();
      }
    }
    if (this.downloads.size === 0 && this.stallSweep) {
      clearInterval(this.stallSweep);
      this.stallSweep = undefined;
    }
  };

  private watchDownload(x: Exchange): void {
    this.downloads.set(x, { bytes: x.bytes, since: performance.now() });
    x.res.once('close', () => this.downloads.delete(x));
    if (!this.stallSweep) {
      this.stallSweep = setInterval(this.sweepStalled, Math.max(10, Math.floor(this.limits.writeStallMs / 4)));
      this.stallSweep.unref();
    }
  }

  /** Loads the published generation if it changed; requests in flight keep the snapshot they started with. */
  async refresh(): Promise<void> {
    const published = await this.deps.state.getPublished();
    if (!published || published.generation === this.snapshot?.generation.generation) return;
    const next = await loadSnapshot(this.deps.objects, published);
    if (this.deps.verifyCompleteness) {
      const missing = await missingObjects(this.deps, next, this.snapshot);
      if (missing.count > 0) {
        // Keep serving the complete generation; the next poll looks again.
        this.deps.log.warn('new generation not complete in this store yet; still serving the previous one', {
          generation: published.generation,
          serving: this.snapshot?.generation.generation ?? null,
          missing: missing.count,
          examples: missing.examples,
        });
        return;
      }
    }
    this.previous = this.snapshot;
    this.snapshot = next; // one reference swap: atomic for every later request
    this.deps.log.info('serving generation', { generation: published.generation, bottles: next.bottles.size });
  }

  /** Loads the published generation and listens; rejects with the socket error (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  async listen(port: number, host: string): Promise<number> {
    await this.refresh().catch((error) => this.deps.log.warn('no generation loaded yet', { error: (error as Error).message }));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.poller = setInterval(() => {
      if (this.refreshing) return; // one refresh at a time: a slow store must not pile them up
      this.refreshing = this.refresh()
        .catch((error) => this.deps.log.error('generation refresh failed', { error: (error as Error).message }))
        .finally(() => (this.refreshing = undefined));
    }, this.deps.pollMs ?? 5000);
    this.poller.unref();
    return (this.server.address() as { port: number }).port;
  }

  /**
   * Stops accepting connections and lets requests in flight finish. A
   * keep-alive connection busy when the stop began becomes idle later, so idle
   * connections are closed every 100 ms until none is left (otherwise one
   * would linger for the keep-alive timeout); whatever is still open after
   * `drainMs` is cut, so the process exits before ECS's stop timeout (120 s)
   * turns SIGTERM into SIGKILL.
   */
  async stop(drainMs = DRAIN_TIMEOUT_MS): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    await this.refreshing;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const sweep = setInterval(() => this.server.closeIdleConnections(), 100);
    const deadline = setTimeout(() => this.server.closeAllConnections(), drainMs);
    try {
      await closed;
    } finally {
      clearInterval(sweep);
      clearTimeout(deadline);
    }
  }

  private clientIp(x: Exchange): string {
    if (x.ip === undefined) {
      let forwarded = '';
      if (this.deps.trustProxy) {
        const chain = rawHeader(x.req, 'x-forwarded-for', true) ?? '';
        forwarded = chain.slice(chain.lastIndexOf(',') + 1).trim();
      }
      x.ip = forwarded || x.req.socket.remoteAddress || 'unknown';
    }
    return x.ip;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.refused.has(req.socket)) return this.refuseConnection(req, res);
    const incoming = rawHeader(req, 'x-request-id');
    const x: Exchange = {
      req,
      res,
      requestId: incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID(),
      started: performance.now(),
      snapshot: this.snapshot,
      route: 'unknown',
      bytes: 0,
      ip: undefined,
    };
    try {
      // The ALB's health check is never limited; everything else is, before routing, so
      // floods of 404, 400 and 405 requests cost a client its budget like any other.
      if (req.url === HEALTH_PATH && req.method === 'GET') return this.dispatch(x);
      const verdict = this.deps.limiter.take(this.clientIp(x));
      if (isPromise(verdict)) verdict.then((v) => this.admit(x, v), (error) => this.fail(x, error));
      else this.admit(x, verdict);
    } catch (error) {
      this.fail(x, error);
    }
  }

  /** The polite answer past a connection cap: 503, Retry-After, and the connection closed. */
  private refuseConnection(_req: http.IncomingMessage, res: http.ServerResponse): void {
    const body = JSON.stringify({ error: 'too_many_connections', message: 'too many open connections; retry shortly' });
    res.shouldKeepAlive = false;
    res.writeHead(503, withSecurityHeaders(['content-type', 'application/json', 'retry-after', '1', 'connection', 'close', 'content-length', String(Buffer.byteLength(body))]));
    res.end(body);
  }

  private admit(x: Exchange, verdict: RateVerdict): void {
    if (verdict.allowed) return this.dispatch(x);
    x.route = 'rate_limited'; // refused before routing
    this.fail(x, httpErrors.rateLimited(verdict.retryAfterSeconds));
  }

  /** Method check, routing, and the route's handler. */
  private dispatch(x: Exchange): void {
    try {
      if (x.req.method !== 'GET' && x.req.method !== 'HEAD') throw httpErrors.methodNotAllowed();
      this.run(x, this.route(x));
    } catch (error) {
      this.fail(x, error);
    }
  }

  private run(x: Exchange, handler: Handler): void {
    try {
      const pending = handler(x);
      if (pending) pending.catch((error) => this.fail(x, error));
    } catch (error) {
      this.fail(x, error);
    }
  }

  private fail(x: Exchange, error: unknown): void {
    const e = error instanceof HttpError ? error : httpErrors.internal();
    if (!(error instanceof HttpError)) this.deps.log.error('request failed', { requestId: x.requestId, error: (error as Error).message });
    if (x.res.headersSent) {
      x.res.destroy(); // mid-stream: the client must see a broken body, not a short one
      return;
    }
    this.send(x, e.status, ['content-type', 'application/json', ...e.headers], JSON.stringify({ error: e.code, message: e.message, requestId: x.requestId }));
  }

  /**
   * Writes a whole response (security headers, request id, the given headers,
   * Content-Length for a body) and records it: once a buffered response is
   * handed to the socket there is nothing left to wait for.
   */
  private send(x: Exchange, status: number, headers: HeaderList, body?: Buffer | string): void {
    const list = withSecurityHeaders(headers); // a fresh list, so it can take the request id itself
    if (body !== undefined) list.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
    this.write(x, status, list, body);
  }

  /** Like send(), with a header list already complete but for the request id (prepared once for immutable responses). */
  private respond(x: Exchange, status: number, complete: HeaderList, body?: Buffer | string): void {
    this.write(x, status, complete.slice(), body);
  }

  /** Adds the request id to a list this request owns, writes the response and records it. */
  private write(x: Exchange, status: number, list: string[], body?: Buffer | string): void {
    list.push('x-request-id', x.requestId);
    x.res.writeHead(status, list);
    if (body === undefined || x.req.method === 'HEAD') {
      x.res.end();
    } else {
      x.bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      x.res.end(body);
    }
    this.record(x);
  }

  /** Metrics and the access log line of one request. */
  private record(x: Exchange): void {
    const seconds = (performance.now() - x.started) / 1000;
    this.metrics.observe(x.route, x.res.statusCode, seconds, x.bytes);
    const record = {
      requestId: x.requestId,
      method: x.req.method,
      path: loggedPath(x.req.url),
      route: x.route,
      status: x.res.statusCode,
      bytes: x.bytes,
      durationMs: Math.round(seconds * 1000),
      ip: this.clientIp(x),
      generation: x.snapshot?.generation.generation,
    };
    if (this.deps.accessLog) this.deps.accessLog(record);
    else this.deps.log.info('request', { ...record });
  }

  /** Maps the raw path to a handler; throws 400 for malformed and 404 for unknown paths. */
  private route(x: Exchange): Handler {
    const url = x.req.url ?? '/';
    const query = url.indexOf('?');
    const raw = query === -1 ? url : url.slice(0, query);
    // The busiest route first, without splitting: `/bottles/<one segment>`.
    if (raw.startsWith('/bottles/') && raw.indexOf('/', 9) === -1) {
      x.route = 'bottle';
      const encoded = raw.slice(9);
      // brew's own encoding of a known name needs no decoding; anything else is decoded (and checked) first.
      const known = x.snapshot?.bottlesByEncodedName.get(encoded) ?? this.previous?.bottlesByEncodedName.get(encoded);
      if (known !== undefined) return (e) => this.bottle(e, known, encoded);
      const name = decodeSegment(encoded); // rejects an encoded slash, like every segment
      return (e) => this.bottleByName(e, name);
    }
    const parts = raw.split('/');
    // An encoded slash in the route-selecting segments could make one route look like another.
    if (raw.includes('//') || encodesSlash(parts[1]) || encodesSlash(parts[2])) throw httpErrors.badRequest('malformed path');
    const segments = parts.slice(1);
    const at = (name: string) => {
      x.route = name;
    };
    if (raw === HEALTH_PATH) return at('health'), this.health;
    if (raw === `${HEALTH_PATH}/detailed`) return at('health_detailed'), this.healthDetailed;
    if (raw === '/metrics') return at('metrics'), this.prometheus;
    if (raw === '/status') return at('status'), this.status;
    if (raw === '/v2/' || raw === '/v2') return at('registry_base'), this.registryBase;

    if (segments[0] === 'api' && segments.length >= 2) {
      at('api');
      const file = segments.slice(1).map(decodeSegment).join('/');
      return (e) => this.apiFile(e, file);
    }
    const manifestAt = segments.lastIndexOf('manifests');
    if (segments[0] === 'bottles' && manifestAt >= 2 && manifestAt === segments.length - 2) {
      at('manifest');
      return this.manifestRoute(segments.slice(1, manifestAt), segments[manifestAt + 1]);
    }
    if (segments[0] === 'v2' && segments[1] === 'homebrew' && segments[2] === 'core' && segments.length >= 6) {
      const kind = segments[segments.length - 2];
      const image = segments.slice(3, segments.length - 2);
      const last = segments[segments.length - 1];
      if (kind === 'manifests') {
        at('registry_manifest');
        return this.manifestRoute(image, last);
      }
      if (kind === 'tags' && last === 'list') {
        at('registry_tags');
        const name = image.map(decodeSegment).join('/');
        if (!IMAGE.test(name)) throw httpErrors.badRequest('malformed image name');
        return (e) => this.tagsList(e, name);
      }
      if (kind === 'blobs') {
        at('registry_blob');
        const digest = decodeSegment(last);
        if (!digest.startsWith('sha256:') || !isSha256(digest.slice(7))) throw httpErrors.badRequest('malformed digest');
        if (!IMAGE.test(image.map(decodeSegment).join('/'))) throw httpErrors.badRequest('malformed image name');
        return (e) => this.blob(e, digest.slice(7));
      }
    }
    throw httpErrors.notFound('no such route');
  }

  private manifestRoute(imageSegments: string[], rawRef: string): Handler {
    const image = imageSegments.map(decodeSegment).join('/');
    const ref = decodeSegment(rawRef);
    if (!IMAGE.test(image)) throw httpErrors.badRequest('malformed image or reference');
    // A reference is a tag or, as OCI clients send it, a digest (`sha256:<hex>`).
    if (ref.startsWith('sha256:') && isSha256(ref.slice(7))) return (e) => this.manifestByDigest(e, image, ref);
    if (!REF.test(ref)) throw httpErrors.badRequest('malformed image or reference');
    return (e) => this.manifest(e, image, ref);
  }

  /** Tags (manifest refs) of `image` in the request's generation. */
  private refsOf(snapshot: GenerationSnapshot, image: string): string[] {
    const prefix = `${image}:`;
    const refs: string[] = [];
    for (const id of snapshot.manifests) if (id.startsWith(prefix) && !id.includes('/', prefix.length)) refs.push(id.slice(prefix.length));
    return refs.sort();
  }

  /** `GET /v2/homebrew/core/<image>/tags/list`, as the OCI distribution spec answers it. */
  private tagsList(x: Exchange, image: string): void {
    const tags = this.refsOf(this.requireSnapshot(x), image);
    this.metrics.lookup(tags.length > 0);
    if (tags.length === 0) throw httpErrors.notFound('no such image in the published generation');
    this.send(x, 200, REGISTRY_BASE, JSON.stringify({ name: `homebrew/core/${image}`, tags }));
  }

  /**
   * A manifest requested by digest: the image index of this generation whose
   * bytes hash to it. Platform manifests (the index's children) are not
   * mirrored, so their digests are a clean 404.
   */
  private async manifestByDigest(x: Exchange, image: string, digest: string): Promise<void> {
    const snapshot = this.requireSnapshot(x);
    for (const ref of this.refsOf(snapshot, image)) {
      const manifest = await this.loadManifest(image, ref);
      if (manifest?.digest === digest) return this.sendManifest(x, manifest);
    }
    this.sendManifest(x, undefined);
  }

  /** An image index from the cache or the store (immutable, so cached once read). */
  private loadManifest(image: string, ref: string): CachedManifest | undefined | Promise<CachedManifest | undefined> {
    const id = `${image}:${ref}`;
    const cached = this.manifests.get(id);
    if (cached) return cached;
    return this.deps.objects.getObject(manifestKey(image, ref)).then((stored) => {
      if (!stored) return undefined;
      const digest = `sha256:${createHash('sha256').update(stored).digest('hex')}`;
      const etag = `"${digest}"`;
      const headers = ['content-type', OCI_INDEX_MEDIA_TYPE, 'docker-content-digest', digest, 'etag', etag, 'cache-control', 'public, max-age=31536000, immutable'];
      const ok = withSecurityHeaders(headers);
      ok.push('content-length', String(stored.length));
      const loaded = { body: stored, headers, ok, etag, digest };
      this.manifests.set(id, loaded);
      return loaded;
    });
  }

  private requireSnapshot(x: Exchange): GenerationSnapshot {
    if (!x.snapshot) throw httpErrors.noGeneration();
    return x.snapshot;
  }

  private notModified(req: http.IncomingMessage, etag: string, lastModified?: string): boolean {
    const inm = req.headers['if-none-match'];
    if (inm) return inm.split(',').some((t) => t.trim() === etag || t.trim() === '*' || t.trim() === `W/${etag}`);
    const ims = req.headers['if-modified-since'];
    if (ims && lastModified) {
      const since = Date.parse(ims);
      return !Number.isNaN(since) && Date.parse(lastModified) <= since;
    }
    return false;
  }

  private apiFile(x: Exchange, file: string): void | Promise<void> {
    const snapshot = this.requireSnapshot(x);
    const entry = snapshot.api.get(file);
    this.metrics.lookup(entry !== undefined);
    if (!entry) throw httpErrors.notFound('no such API file in the published generation');
    const headers = [
      'content-type', 'application/json',
      'etag', entry.etag,
      'last-modified', snapshot.lastModified,
      'cache-control', 'public, max-age=60',
      'vary', 'Accept-Encoding',
    ];
    if (this.notModified(x.req, entry.etag, snapshot.lastModified)) return this.send(x, 304, headers);
    const acceptEncoding = x.req.headers['accept-encoding'];
    if (!acceptEncoding || !/\bgzip\b/.test(acceptEncoding)) {
      if (entry.body) return this.send(x, 200, headers, entry.body);
      return this.streamApiFile(x, apiKey(snapshot.generation.generation, file), entry.size, headers);
    }
    headers.push('content-encoding', 'gzip');
    const compressed = this.gzipped.get(entry.etag);
    if (compressed) return this.send(x, 200, headers, compressed);
    return this.gzip(apiKey(snapshot.generation.generation, file), entry).then((body) => this.send(x, 200, headers, body));
  }

  /** A large API file, streamed from the store (HEAD: its length only). */
  private async streamApiFile(x: Exchange, key: string, size: number, headers: string[]): Promise<void> {
    if (x.req.method === 'HEAD') return this.send(x, 200, headers.concat('content-length', String(size)));
    const source = await this.deps.objects.readObject(key);
    if (!source) throw httpErrors.internal();
    x.res.once('close', () => this.record(x));
    this.watchDownload(x);
    const complete = withSecurityHeaders(headers);
    complete.push('x-request-id', x.requestId, 'content-length', String(size));
    x.res.writeHead(200, complete);
    await this.pipeCounted(x, source, size);
  }

  /** gzip of an API file, made once per content (keyed by its ETag) from memory or from the store. */
  private gzip(key: string, entry: ApiFile): Promise<Buffer> {
    let pending = this.gzipping.get(entry.etag);
    if (!pending) {
      const made = entry.body ? gzipAsync(entry.body) : this.gzipFromStore(key);
      pending = made.then(
        (compressed) => {
          this.gzipped.set(entry.etag, compressed);
          this.gzipping.delete(entry.etag);
          return compressed;
        },
        (error) => {
          this.gzipping.delete(entry.etag);
          throw error;
        },
      );
      this.gzipping.set(entry.etag, pending);
    }
    return pending;
  }

  private async gzipFromStore(key: string): Promise<Buffer> {
    const source = await this.deps.objects.readObject(key);
    if (!source) throw httpErrors.internal();
    const chunks: Buffer[] = [];
    await pipeline(source, createGzip(), async (zipped: AsyncIterable<Buffer>) => {
      for await (const chunk of zipped) chunks.push(chunk);
    });
    return Buffer.concat(chunks);
  }

  private bottleByName(x: Exchange, name: string): void | Promise<void> {
    const sha256 = this.requireSnapshot(x).bottles.get(name) ?? this.previous?.bottles.get(name);
    if (!sha256) {
      this.metrics.lookup(false);
      throw httpErrors.notFound('no such bottle in the published generation');
    }
    return this.bottle(x, sha256, encodeURIComponent(name), name);
  }

  /**
   * A bottle the request's snapshot names, sent with `Content-Disposition`
   * naming its flat file (brew then skips its `--head --request GET` probe).
   * `encoded` keys the presigned-URL cache; the plain name is decoded only
   * when a response needs it.
   */
  private bottle(x: Exchange, sha256: string, encoded: string, flatName?: string): void | Promise<void> {
    this.metrics.lookup(true);
    return this.sendBlob(x, sha256, { key: encoded, fileName: () => flatName ?? decodeURIComponent(encoded) });
  }

  private blob(x: Exchange, sha256: string): void | Promise<void> {
    const known = this.requireSnapshot(x).blobs.has(sha256) || this.previous?.blobs.has(sha256) === true;
    this.metrics.lookup(known);
    if (!known) throw httpErrors.notFound('no such blob in the published generation');
    return this.sendBlob(x, sha256, { key: `sha256:${sha256}` });
  }

  /**
   * A GET in redirect mode gets a presigned store URL (carrying the
   * disposition, which S3 then sends); HEAD is answered here, because a
   * presigned GET URL refuses HEAD. Proxy mode streams.
   */
  private sendBlob(x: Exchange, sha256: string, naming: BlobNaming): void | Promise<void> {
    if (this.deps.mode === 'redirect' && x.req.method !== 'HEAD') {
      // Reuse windows are measured on the monotonic clock the request was stamped with.
      const reuse = this.presigned.get(naming.key);
      if (reuse && reuse.until > x.started) return this.respond(x, 302, reuse.headers);
      const expiresIn = this.deps.presignExpirySeconds ?? 300;
      const signedAt = performance.now();
      const disposition = naming.fileName ? attachment(naming.fileName()) : undefined;
      return this.deps.presign!(sha256, expiresIn, disposition).then((url) => {
        const headers = withSecurityHeaders(['location', url, 'cache-control', 'no-store', 'content-length', '0']);
        this.presigned.set(naming.key, { until: signedAt + (expiresIn * 1000) / 5, headers });
        this.respond(x, 302, headers);
      });
    }
    const size = this.blobSizes.get(sha256);
    if (size !== undefined) return this.streamBlob(x, sha256, size, naming);
    return this.deps.blobs.size(sha256).then((found) => {
      if (found === undefined) throw httpErrors.notFound('bottle not in the store');
      this.blobSizes.set(sha256, found);
      return this.streamBlob(x, sha256, found, naming);
    });
  }

  private async streamBlob(x: Exchange, sha256: string, size: number, naming: BlobNaming): Promise<void> {
    const etag = `"${sha256}"`;
    const base = ['content-type', 'application/gzip', 'etag', etag, 'accept-ranges', 'bytes', 'cache-control', 'public, max-age=31536000, immutable'];
    if (naming.fileName) base.push('content-disposition', attachment(naming.fileName()));
    if (this.notModified(x.req, etag)) return this.send(x, 304, base);
    const range = parseRange(x.req.headers.range, size);
    const length = range ? range.end - range.start + 1 : size;
    const source = x.req.method === 'HEAD' ? undefined : await this.deps.blobs.read(sha256, range);
    const headers = range ? base.concat('content-range', `bytes ${range.start}-${range.end}/${size}`) : base;
    if (!source) return this.send(x, range ? 206 : 200, headers.concat('content-length', String(length)));
    // A download is recorded when it ends, completed or cut off by the client.
    x.res.once('close', () => this.record(x));
    this.watchDownload(x);
    const complete = withSecurityHeaders(headers);
    complete.push('x-request-id', x.requestId, 'content-length', String(length));
    x.res.writeHead(range ? 206 : 200, complete);
    await this.pipeCounted(x, source, length);
  }

  /** Pipes a body to the client, counting bytes; a client hanging up mid-body is ordinary (info, with where it stopped). */
  private async pipeCounted(x: Exchange, source: AsyncIterable<Uint8Array>, length: number): Promise<void> {
    try {
      if (source instanceof Readable) {
        source.on('data', (chunk: Uint8Array) => (x.bytes += chunk.length)); // observes; pipe() still paces the stream
        await pipeline(source, x.res);
        return;
      }
      const counted = async function* (this: void, chunks: AsyncIterable<Uint8Array>, exchange: Exchange) {
        for await (const chunk of chunks) {
          exchange.bytes += chunk.length;
          yield chunk;
        }
      };
      await pipeline(counted(source, x), x.res);
    } catch (error) {
      // A client that hangs up mid-body (brew's header probe, a cancelled download) is ordinary: info, with where it stopped.
      if (!x.res.destroyed || x.res.writableFinished) throw error;
      this.deps.log.info('client closed the download early', { requestId: x.requestId, route: x.route, bytes: x.bytes, of: length });
    }
  }

  private manifest(x: Exchange, image: string, ref: string): void | Promise<void> {
    if (!this.requireSnapshot(x).manifests.has(`${image}:${ref}`)) return this.sendManifest(x, undefined);
    const loaded = this.loadManifest(image, ref);
    if (!isPromise(loaded)) return this.sendManifest(x, loaded);
    return loaded.then((manifest) => this.sendManifest(x, manifest));
  }

  private sendManifest(x: Exchange, manifest: CachedManifest | undefined): void {
    this.metrics.lookup(manifest !== undefined);
    if (!manifest) throw httpErrors.notFound('no such manifest in the published generation');
    if (this.notModified(x.req, manifest.etag)) return this.send(x, 304, manifest.headers);
    this.respond(x, 200, manifest.ok, manifest.body);
  }

  private registryBase = (x: Exchange): void => this.send(x, 200, REGISTRY_BASE, '{}');

  private health = (x: Exchange): void => this.send(x, 200, JSON_NO_STORE, '{"status":"ok"}');

  private healthDetailed = async (x: Exchange): Promise<void> => {
    const timed = async (check: () => Promise<unknown>) => {
      const started = process.hrtime.bigint();
      try {
        await check();
        return { ok: true, latencyMs: Number(process.hrtime.bigint() - started) / 1e6 };
      } catch (error) {
        return { ok: false, latencyMs: Number(process.hrtime.bigint() - started) / 1e6, error: (error as Error).name };
      }
    };
    const generation = x.snapshot?.generation;
    const [store, state, cache] = await Promise.all([
      timed(async () => {
        if (generation && !(await this.deps.objects.hasObject(apiKey(generation.generation, 'formula.jws.json')))) throw new Error('missing');
      }),
      timed(() => this.deps.state.getPublished()),
      timed(() => this.deps.limiter.ping()),
    ]);
    // A store never synced serves (503 on the API) and says so here.
    const published = generation ? { ok: true } : { ok: false, error: 'nothing has been published yet' };
    const status = !store.ok || !state.ok ? 'unhealthy' : !cache.ok || !published.ok ? 'degraded' : 'ok';
    const checks = { store, state, cache: { ...cache, backend: this.deps.limiter.backend }, generation: published };
    const body = JSON.stringify({ status, generation: generation?.generation ?? null, checks });
    this.send(x, status === 'unhealthy' ? 503 : 200, JSON_NO_STORE, body);
  };

  private prometheus = (x: Exchange): void => {
    const published = x.snapshot?.generation.publishedAt;
    const age = published ? Math.max(0, (Date.now() - Date.parse(published)) / 1000) : undefined;
    this.send(x, 200, ['content-type', 'text/plain; version=0.0.4', 'cache-control', 'no-store'], this.metrics.render(age));
  };

  private status = async (x: Exchange): Promise<void> => {
    const generation = x.snapshot?.generation;
    const lastRun = await this.deps.state.latestRun();
    const body = JSON.stringify({
      generation: generation ? { id: generation.generation, publishedAt: generation.publishedAt, verifiedAt: generation.verifiedAt, files: generation.files } : null,
      ageSeconds: generation ? Math.round((Date.now() - Date.parse(generation.publishedAt)) / 1000) : null,
      lastRun: lastRun
        ? {
            runId: lastRun.runId,
            status: lastRun.status,
            startedAt: lastRun.startedAt,
            finishedAt: lastRun.finishedAt,
            bottles: lastRun.bottles,
            bytesTransferred: lastRun.bytesTransferred,
            failures: lastRun.failures?.length ?? 0,
            error: lastRun.error === undefined ? undefined : publicReason(lastRun.error),
          }
        : null,
    });
    this.send(x, 200, JSON_NO_STORE, body);
  };
}
