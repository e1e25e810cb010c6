import type { TeamIdentity } from '../keys/token-verifier';
import * as http from 'http';
import { performance } from 'perf_hooks';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { Logger } from '../logger';
import { AccessLog } from './access-log';
import { HttpError, httpErrors } from './http-errors';
import { ServerMetrics } from './metrics';
import { GenerationSnapshot } from './snapshot';

/**
 * Header lists are flat `[name, value, name, value, …]` arrays handed straight
 * to `writeHead`: no per-header `setHeader` bookkeeping on the hot path.
 */
export type HeaderList = readonly string[];

/** One request in flight: what every route needs, and what the access log and metrics record. */
export interface Exchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly requestId: string;
  /** performance.now() at arrival (a double: no BigInt per request). */
  readonly started: number;
  /** The generation this request is answered from, fixed when it arrives. */
  readonly snapshot?: GenerationSnapshot;
  /**
   * The generation served before it, fixed with it. Its bottles stay
   * reachable by name: a client that read the previous API a moment before
   * the switch asks for that API's bottles next.
   */
  readonly previous?: GenerationSnapshot;
  route: string;
  /** Response body bytes handed to the socket. */
  bytes: number;
  /** Client address, resolved on first use. */
  ip?: string;
  /** The team whose valid token the request carries (token mode), set before routing. */
  team?: TeamIdentity;
}

/** Handlers answer synchronously when everything is in memory, and return a promise only when they must wait. */
export type Handler = (x: Exchange) => void | Promise<void>;

export const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T>)?.then === 'function';

export const SECURITY_HEADERS: HeaderList = [
  'x-content-type-options', 'nosniff',
  'x-frame-options', 'DENY',
  'referrer-policy', 'no-referrer',
  'content-security-policy', "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security', 'max-age=31536000; includeSubDomains',
  'cross-origin-resource-policy', 'cross-origin',
];

export const JSON_NO_STORE: HeaderList = ['content-type', 'application/json', 'cache-control', 'no-store'];

/** Security headers followed by `headers`; slice and push, which stay on V8's fast path (concat does not). */
export function withSecurityHeaders(headers: HeaderList): string[] {
  const list = SECURITY_HEADERS.slice();
  for (let i = 0; i < headers.length; i++) list.push(headers[i]);
  return list;
}

/** `attachment; filename="…"`: flat names are letters, digits and `@+._-`, so no quoting is needed inside. */
export const attachment = (fileName: string): string => `attachment; filename="${fileName.replace(/["\\\r\n]/g, '_')}"`;

/** Longest request path written to the access log; a longer one is cut and marked. */
export const MAX_LOGGED_PATH = 1024;

/** The request path as logged: at most `MAX_LOGGED_PATH` characters (a flood of huge paths must not flood the log). */
export function loggedPath(url: string | undefined): string | undefined {
  return url === undefined || url.length <= MAX_LOGGED_PATH ? url : `${url.slice(0, MAX_LOGGED_PATH)}…(${url.length} chars)`;
}

/**
 * The first (or last) value of a request header, found in the raw list. Reading
 * `req.headers` makes Node build (and lower-case) the whole header object,
 * which the redirect route otherwise never needs.
 */
export function rawHeader(req: http.IncomingMessage, lowerCaseName: string, last = false): string | undefined {
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

/** True when the request's validators (If-None-Match, else If-Modified-Since) match. */
export function notModified(req: http.IncomingMessage, etag: string, lastModified?: string): boolean {
  const inm = req.headers['if-none-match'];
  if (inm) return inm.split(',').some((t) => t.trim() === etag || t.trim() === '*' || t.trim() === `W/${etag}`);
  const ims = req.headers['if-modified-since'];
  if (ims && lastModified) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && Date.parse(lastModified) <= since;
  }
  return false;
}

/** A response body written piece by piece (`ReplyWriter.openBody`). */
export interface BodyWriter {
  /** Resolves once the client can take more (or has gone away). */
  write(chunk: Uint8Array): Promise<void>;
  end(): void;
  /** Ends the response short: the client sees a failed download. */
  abort(): void;
}

export interface ReplyDeps {
  readonly log: Logger;
  readonly metrics: ServerMetrics;
  /** The per-request access log. Default: `log.info('request', …)`. */
  readonly accessLog?: AccessLog;
  /** Take the client address from the last X-Forwarded-For entry (behind the ALB). */
  readonly trustProxy?: boolean;
  /** Registers a streamed download with the stall sweep (the connection guard). */
  readonly watchDownload: (x: Exchange) => void;
}

/**
 * Writes every response: security headers, the request id, Content-Length,
 * errors as JSON, streamed bodies, and the access-log record and metrics of
 * each request, once, when it ends.
 */
export class ReplyWriter {
  constructor(private readonly deps: ReplyDeps) {}

  clientIp(x: Exchange): string {
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

  /** An error as JSON; mid-stream, the connection is cut so the client sees a broken body, not a short one. */
  fail(x: Exchange, error: unknown): void {
    const e = error instanceof HttpError ? error : httpErrors.internal();
    if (!(error instanceof HttpError)) this.deps.log.error('request failed', { requestId: x.requestId, error: (error as Error).message });
    if (x.res.headersSent) {
      x.res.destroy();
      return;
    }
    this.send(x, e.status, ['content-type', 'application/json', ...e.headers], JSON.stringify({ error: e.code, message: e.message, requestId: x.requestId }));
  }

  /**
   * Writes a whole response (security headers, request id, the given headers,
   * Content-Length for a body) and records it: once a buffered response is
   * handed to the socket there is nothing left to wait for.
   */
  send(x: Exchange, status: number, headers: HeaderList, body?: Buffer | string): void {
    const list = withSecurityHeaders(headers); // a fresh list, so it can take the request id itself
    if (body !== undefined) list.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
    this.write(x, status, list, body);
  }

  /** Like send(), with a header list already complete but for the request id (prepared once for immutable responses). */
  respond(x: Exchange, status: number, complete: HeaderList, body?: Buffer | string): void {
    this.write(x, status, complete.slice(), body);
  }

  /**
   * Streams `source` as the body (`length` bytes) after the headers; the
   * request is recorded when the response closes, completed or cut off.
   */
  async stream(x: Exchange, status: number, headers: HeaderList, source: AsyncIterable<Uint8Array>, length: number): Promise<void> {
    x.res.once('close', () => this.record(x));
    this.deps.watchDownload(x);
    const complete = withSecurityHeaders(headers);
    complete.push('x-request-id', x.requestId, 'content-length', String(length));
    x.res.writeHead(status, complete);
    await this.pipeCounted(x, source, length);
  }

  /**
   * Starts a response whose body is written piece by piece (pull-through's
   * bytes as they arrive from upstream). A client that goes away makes the
   * writes no-ops: the caller's work (storing the blob) goes on.
   */
  openBody(x: Exchange, status: number, headers: HeaderList, length: number): BodyWriter {
    x.res.once('close', () => this.record(x));
    this.deps.watchDownload(x);
    const complete = withSecurityHeaders(headers);
    complete.push('x-request-id', x.requestId, 'content-length', String(length));
    x.res.writeHead(status, complete);
    const res = x.res;
    return {
      async write(chunk) {
        if (res.destroyed) return;
        x.bytes += chunk.length;
        if (res.write(chunk)) return;
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      },
      end: () => {
        if (!res.destroyed) res.end();
      },
      abort: () => res.destroy(),
    };
  }

  /**
   * Pipes a body to the client, counting bytes. A client that hangs up
   * before the last byte (brew's header probe, a cancelled download) is
   * ordinary: logged at info with where it stopped. A client that closes the
   * socket as soon as it has Content-Length bytes races the end of the
   * pipeline; that download completed and is not logged.
   */
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
      if (!x.res.destroyed || x.res.writableFinished) throw error;
      if (x.bytes < length) this.deps.log.info('client closed the download early', { requestId: x.requestId, route: x.route, bytes: x.bytes, of: length });
    }
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
    this.deps.metrics.observe(x.route, x.res.statusCode, seconds, x.bytes);
    const record = {
      requestId: x.requestId,
      method: x.req.method,
      path: loggedPath(x.req.url),
      route: x.route,
      status: x.res.statusCode,
      bytes: x.bytes,
      durationMs: Math.round(seconds * 1000),
      ip: this.clientIp(x),
      // The team, never its token: the egress a team caused can be read from the log.
      ...(x.team ? { team: x.team.team } : {}),
      generation: x.snapshot?.generation.generation,
    };
    if (this.deps.accessLog) this.deps.accessLog(record);
    else this.deps.log.info('request', { ...record });
  }
}

/** The request's generation, or 503 while nothing is published. */
export function requireSnapshot(x: Exchange): GenerationSnapshot {
  if (!x.snapshot) throw httpErrors.noGeneration();
  return x.snapshot;
}
