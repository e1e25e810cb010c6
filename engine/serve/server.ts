import { randomUUID, createHash } from 'crypto';
import * as http from 'http';
import { pipeline } from 'stream/promises';
import { promisify } from 'util';
import { gzip } from 'zlib';
import { Logger } from '../logger';
import { BlobStore, ObjectStore, StateStore } from '../ports';
import { manifestKey } from '../sync/manifests';
import { OCI_INDEX_MEDIA_TYPE } from '../sync/upstream';
import { ServerMetrics } from './metrics';
import { RateLimiter } from './rate-limit';
import { GenerationSnapshot, loadSnapshot } from './snapshot';

const gzipAsync = promisify(gzip);

export interface MirrorServerDeps {
  readonly objects: ObjectStore;
  readonly blobs: BlobStore;
  readonly state: StateStore;
  readonly log: Logger;
  readonly limiter: RateLimiter;
  /** How bottles are delivered. `proxy` streams them; `redirect` needs a presigner. */
  readonly mode: 'proxy' | 'redirect';
  /** Short-lived URL for a blob (S3 presigned GET); required in redirect mode. */
  readonly presign?: (sha256: string) => Promise<string>;
  /** Take the client IP from X-Forwarded-For (behind the ALB). Default false. */
  readonly trustProxy?: boolean;
  /** How often to look for a newly published generation. Default 5 s. */
  readonly pollMs?: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext) => Promise<void>;

interface RequestContext {
  readonly requestId: string;
  readonly snapshot?: GenerationSnapshot;
  route: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'cross-origin-resource-policy': 'cross-origin',
};

const IMAGE = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;
const REF = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Decodes one path segment exactly as brew encoded it; anything odd is a 400, never a file access. */
function decodeSegment(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_request', 'malformed percent-encoding');
  }
  // eslint-disable-next-line no-control-regex
  if (decoded === '' || decoded === '.' || decoded === '..' || /[\/\\\u0000-\u001f\u007f]/.test(decoded)) {
    throw new HttpError(400, 'bad_request', 'malformed path');
  }
  return decoded;
}

/** Parses `Range: bytes=…` for one range; undefined = whole body. Throws 416 when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = new HttpError(416, 'range_not_satisfiable', 'range not satisfiable', { 'content-range': `bytes */${size}` });
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
 * The HTTP server `brew` talks to. Routes (see README):
 * `/api/<file>`, `/bottles/<flat file name>`, `/bottles/<image>/manifests/<ref>`,
 * `/v2/`, `/v2/homebrew/core/<image>/manifests/<ref>`,
 * `/v2/homebrew/core/<image>/blobs/sha256:<hex>`, `/health`, `/health/detailed`,
 * `/metrics`, `/status`.
 */
export class MirrorServer {
  readonly server: http.Server;
  readonly metrics = new ServerMetrics();
  private snapshot?: GenerationSnapshot;
  private poller?: NodeJS.Timeout;
  private readonly gzipCache = new WeakMap<Buffer, Promise<Buffer>>();
  /** Image indexes are immutable, so they are kept in memory once read (bounded, oldest dropped first). */
  private readonly manifestCache = new Map<string, { body: Buffer; digest: string }>();
  private static readonly MANIFEST_CACHE_ENTRIES = 4096;

  constructor(private readonly deps: MirrorServerDeps) {
    if (deps.mode === 'redirect' && !deps.presign) throw new Error('redirect mode needs a store that can presign URLs (S3)');
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 65_000; // above the ALB's 60 s idle timeout
  }

  /** Loads the published generation if it changed; requests in flight keep the snapshot they started with. */
  async refresh(): Promise<void> {
    const published = await this.deps.state.getPublished();
    if (!published || published.generation === this.snapshot?.generation.generation) return;
    const next = await loadSnapshot(this.deps.objects, published);
    this.snapshot = next; // one reference swap: atomic for every later request
    this.deps.log.info('serving generation', { generation: published.generation, bottles: next.bottles.size });
  }

  async listen(port: number, host: string): Promise<number> {
    await this.refresh().catch((error) => this.deps.log.error('no generation loaded yet', { error: (error as Error).message }));
    this.poller = setInterval(
      () => void this.refresh().catch((error) => this.deps.log.error('generation refresh failed', { error: (error as Error).message })),
      this.deps.pollMs ?? 5000,
    );
    this.poller.unref();
    await new Promise<void>((resolve) => this.server.listen(port, host, resolve));
    return (this.server.address() as { port: number }).port;
  }

  /** Stops accepting connections and resolves once in-flight responses (downloads included) have finished. */
  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await closed;
  }

  private clientIp(req: http.IncomingMessage): string {
    const forwarded = this.deps.trustProxy ? String(req.headers['x-forwarded-for'] ?? '').split(',')[0].trim() : '';
    return forwarded || req.socket.remoteAddress || 'unknown';
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const ctx: RequestContext = { requestId, snapshot: this.snapshot, route: 'unknown' };
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    res.setHeader('x-request-id', requestId);
    let bytes = 0;
    const write = res.write.bind(res);
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk) bytes += (chunk as Buffer).length ?? 0;
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof res.write;

    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', 'only GET and HEAD');
      const handler = this.route(req, ctx);
      if (ctx.route !== 'health') {
        const verdict = await this.deps.limiter.take(this.clientIp(req));
        if (!verdict.allowed) {
          throw new HttpError(429, 'rate_limited', 'too many requests', { 'retry-after': String(verdict.retryAfterSeconds) });
        }
      }
      await handler(req, res, ctx);
    } catch (error) {
      const e =
        error instanceof HttpError ? error : new HttpError(500, 'internal_error', 'internal error');
      if (!(error instanceof HttpError)) this.deps.log.error('request failed', { requestId, error: (error as Error).message });
      if (!res.headersSent) {
        const body = JSON.stringify({ error: e.code, message: e.message, requestId });
        res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...e.headers });
        res.end(req.method === 'HEAD' ? undefined : body);
      } else {
        res.destroy();
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const done = () => {
        this.metrics.observe(ctx.route, res.statusCode, seconds, bytes);
        this.deps.log.info('request', {
          requestId,
          method: req.method,
          path: req.url,
          route: ctx.route,
          status: res.statusCode,
          bytes,
          durationMs: Math.round(seconds * 1000),
          ip: this.clientIp(req),
          generation: ctx.snapshot?.generation.generation,
        });
      };
      if (res.writableFinished) done();
      else res.once('close', done);
    }
  }

  /** Maps the raw path to a handler; throws 400 for malformed and 404 for unknown paths. */
  private route(req: http.IncomingMessage, ctx: RequestContext): Handler {
    const raw = (req.url ?? '/').split('?')[0];
    if (raw.includes('//') || /%2f|%5c/i.test(raw.split('/').slice(0, 3).join('/'))) throw new HttpError(400, 'bad_request', 'malformed path');
    const segments = raw.split('/').slice(1);
    const at = (name: string) => {
      ctx.route = name;
    };
    if (raw === '/health') return at('health'), this.health;
    if (raw === '/health/detailed') return at('health_detailed'), this.healthDetailed;
    if (raw === '/metrics') return at('metrics'), this.prometheus;
    if (raw === '/status') return at('status'), this.status;
    if (raw === '/v2/' || raw === '/v2') return at('registry_base'), this.registryBase;

    if (segments[0] === 'api' && segments.length >= 2) {
      at('api');
      const file = segments.slice(1).map(decodeSegment).join('/');
      return (r, s, c) => this.apiFile(r, s, c, file);
    }
    if (segments[0] === 'bottles' && segments.length === 2) {
      at('bottle');
      const name = decodeSegment(segments[1]);
      return (r, s, c) => this.bottleByName(r, s, c, name);
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
      if (kind === 'blobs') {
        at('registry_blob');
        const digest = decodeSegment(last);
        if (!digest.startsWith('sha256:') || !SHA256.test(digest.slice(7))) throw new HttpError(400, 'bad_request', 'malformed digest');
        if (!IMAGE.test(image.map(decodeSegment).join('/'))) throw new HttpError(400, 'bad_request', 'malformed image name');
        return (r, s, c) => this.blob(r, s, c, digest.slice(7));
      }
    }
    throw new HttpError(404, 'not_found', 'no such route');
  }

  private manifestRoute(imageSegments: string[], rawRef: string): Handler {
    const image = imageSegments.map(decodeSegment).join('/');
    const ref = decodeSegment(rawRef);
    if (!IMAGE.test(image) || !REF.test(ref)) throw new HttpError(400, 'bad_request', 'malformed image or reference');
    return (r, s, c) => this.manifest(r, s, c, image, ref);
  }

  private requireSnapshot(ctx: RequestContext): GenerationSnapshot {
    if (!ctx.snapshot) throw new HttpError(503, 'no_generation', 'nothing has been published yet', { 'retry-after': '60' });
    return ctx.snapshot;
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

  private apiFile = async (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext, file: string): Promise<void> => {
    const snapshot = this.requireSnapshot(ctx);
    const entry = snapshot.api.get(file);
    this.metrics.lookup(entry !== undefined);
    if (!entry) throw new HttpError(404, 'not_found', 'no such API file in the published generation');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      etag: entry.etag,
      'last-modified': snapshot.lastModified,
      'cache-control': 'public, max-age=60',
      vary: 'Accept-Encoding',
    };
    if (this.notModified(req, entry.etag, snapshot.lastModified)) {
      res.writeHead(304, headers).end();
      return;
    }
    let body = entry.body;
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      let compressed = this.gzipCache.get(entry.body);
      if (!compressed) {
        compressed = gzipAsync(entry.body);
        this.gzipCache.set(entry.body, compressed);
      }
      body = await compressed;
      headers['content-encoding'] = 'gzip';
    }
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  private bottleByName = async (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext, name: string): Promise<void> => {
    const sha256 = this.requireSnapshot(ctx).bottles.get(name);
    this.metrics.lookup(sha256 !== undefined);
    if (!sha256) throw new HttpError(404, 'not_found', 'no such bottle in the published generation');
    await this.sendBlob(req, res, sha256);
  };

  private blob = async (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext, sha256: string): Promise<void> => {
    const known = this.requireSnapshot(ctx).blobs.has(sha256);
    this.metrics.lookup(known);
    if (!known) throw new HttpError(404, 'not_found', 'no such blob in the published generation');
    await this.sendBlob(req, res, sha256);
  };

  private async sendBlob(req: http.IncomingMessage, res: http.ServerResponse, sha256: string): Promise<void> {
    if (this.deps.mode === 'redirect') {
      res.writeHead(302, { location: await this.deps.presign!(sha256), 'cache-control': 'no-store', 'content-length': '0' }).end();
      return;
    }
    const size = await this.deps.blobs.size(sha256);
    if (size === undefined) throw new HttpError(404, 'not_found', 'bottle not in the store');
    const etag = `"${sha256}"`;
    const base = { 'content-type': 'application/gzip', etag, 'accept-ranges': 'bytes', 'cache-control': 'public, max-age=31536000, immutable' };
    if (this.notModified(req, etag)) {
      res.writeHead(304, base).end();
      return;
    }
    const range = parseRange(req.headers.range, size);
    const headers = range
      ? { ...base, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${size}` }
      : { ...base, 'content-length': String(size) };
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await pipeline(await this.deps.blobs.read(sha256, range), res);
  }

  private manifest = async (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext, image: string, ref: string): Promise<void> => {
    const id = `${image}:${ref}`;
    const named = this.requireSnapshot(ctx).manifests.has(id);
    let cached = named ? this.manifestCache.get(id) : undefined;
    if (named && !cached) {
      const stored = await this.deps.objects.getObject(manifestKey(image, ref));
      if (stored) {
        cached = { body: stored, digest: `sha256:${createHash('sha256').update(stored).digest('hex')}` };
        if (this.manifestCache.size >= MirrorServer.MANIFEST_CACHE_ENTRIES) this.manifestCache.delete(this.manifestCache.keys().next().value!);
        this.manifestCache.set(id, cached);
      }
    }
    this.metrics.lookup(cached !== undefined);
    if (!cached) throw new HttpError(404, 'not_found', 'no such manifest in the published generation');
    const { body, digest } = cached;
    const headers = {
      'content-type': OCI_INDEX_MEDIA_TYPE,
      'docker-content-digest': digest,
      etag: `"${digest}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    };
    if (this.notModified(req, `"${digest}"`)) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  private registryBase = async (_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
  };

  private health = async (_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end('{"status":"ok"}');
  };

  private healthDetailed = async (_req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext): Promise<void> => {
    const timed = async (check: () => Promise<unknown>) => {
      const started = process.hrtime.bigint();
      try {
        await check();
        return { ok: true, latencyMs: Number(process.hrtime.bigint() - started) / 1e6 };
      } catch (error) {
        return { ok: false, latencyMs: Number(process.hrtime.bigint() - started) / 1e6, error: (error as Error).name };
      }
    };
    const generation = ctx.snapshot?.generation;
    const [store, state, cache] = await Promise.all([
      timed(async () => {
        if (generation && !(await this.deps.objects.hasObject(`api/generations/${generation.generation}/formula.jws.json`))) throw new Error('missing');
      }),
      timed(() => this.deps.state.getPublished()),
      timed(() => this.deps.limiter.ping()),
    ]);
    const status = !store.ok || !state.ok ? 'unhealthy' : !cache.ok ? 'degraded' : 'ok';
    const body = JSON.stringify({ status, generation: generation?.generation ?? null, checks: { store, state, cache: { ...cache, backend: this.deps.limiter.backend } } });
    res.writeHead(status === 'unhealthy' ? 503 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
  };

  private prometheus = async (_req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext): Promise<void> => {
    const published = ctx.snapshot?.generation.publishedAt;
    const age = published ? Math.max(0, (Date.now() - Date.parse(published)) / 1000) : undefined;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store' }).end(this.metrics.render(age));
  };

  private status = async (_req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext): Promise<void> => {
    const generation = ctx.snapshot?.generation;
    const lastRun = await this.deps.state.latestRun();
    const body = JSON.stringify({
      generation: generation ? { id: generation.generation, publishedAt: generation.publishedAt, files: generation.files } : null,
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
            error: lastRun.error,
          }
        : null,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
  };
}
