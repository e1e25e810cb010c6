import { performance } from 'perf_hooks';
import { SERVE_DEFAULTS } from '../../defaults';
import { BlobStore, RateLimiter, RateVerdict } from '../../ports';
import { httpErrors } from '../http-errors';
import { ServerMetrics } from '../metrics';
import { BoundedMap } from '../bounded-map';
import { NamedBottle } from '../named-bottles';
import { PullThrough } from '../pull-through';
import { BodyWriter, Exchange, HeaderList, ReplyWriter, attachment, isPromise, notModified, requireSnapshot, withSecurityHeaders } from '../reply';

/** `proxy` streams bottles through the server; `redirect` answers with a short-lived store URL. */
export type ServeMode = 'proxy' | 'redirect';

/** A short-lived URL for a blob (S3 presigned GET, with the response's Content-Disposition when given). */
export type Presigner = (sha256: string, expiresInSeconds: number, contentDisposition?: string) => Promise<string>;

/** Blob sizes (immutable, content-addressed) and presigned URLs kept in memory. */
const BLOB_SIZE_ENTRIES = 65_536;
const PRESIGNED_ENTRIES = 65_536;

export interface BlobRouteOptions {
  readonly blobs: BlobStore;
  readonly mode: ServeMode;
  /** Required in redirect mode. */
  readonly presign?: Presigner;
  /**
   * Lifetime of presigned URLs. Default `SERVE_DEFAULTS.presignExpirySeconds` (300 s). One URL is handed out for the
   * first fifth of its life, so every client gets at least four fifths of it,
   * and SigV4 signing happens once per blob per minute instead of per request.
   */
  readonly presignExpirySeconds?: number;
  /**
   * Each client's byte budget (`byteBudgetLimit`): charged the size of every blob it is
   * redirected to, or the bytes it is streamed, before it gets them; spent, it gets 429.
   */
  readonly byteBudget: RateLimiter;
  /** A byte budget of another size, for a team whose token has its own (`bottles token create --budget`). Default: the one above. */
  readonly teamByteBudget?: (bytesPerHour: number) => RateLimiter;
  /** Set when pull-through is on: a bottle the signed API names but the store lacks is fetched on request. */
  readonly pullThrough?: PullThrough;
}

/** How a blob response is keyed in the presign cache and named for download. */
interface BlobNaming {
  /** Presign-cache key: the encoded flat name, or `sha256:<hex>` for the registry route. */
  readonly key: string;
  /** The flat file name for `Content-Disposition` (bottle routes only). */
  readonly fileName?: () => string;
  /** Default `application/gzip` (bottles, portable Ruby). */
  readonly contentType?: string;
}

/** A blob response's headers: immutable, its digest as the ETag, the flat file name for a bottle route. */
function blobHeaders(sha256: string, naming: BlobNaming): string[] {
  const headers = ['content-type', naming.contentType ?? 'application/gzip', 'etag', `"${sha256}"`, 'accept-ranges', 'bytes', 'cache-control', 'public, max-age=31536000, immutable'];
  if (naming.fileName) headers.push('content-disposition', attachment(naming.fileName()));
  return headers;
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
 * Bottles by flat name (`/bottles/<file>`) and blobs by digest
 * (`/v2/…/blobs/sha256:<hex>`): streamed with Range and validators in proxy
 * mode, answered with a presigned store URL in redirect mode.
 */
export class BlobRoutes {
  private readonly blobSizes = new BoundedMap<string, number>(BLOB_SIZE_ENTRIES);
  /** One limiter per team budget size in use (a handful: budgets are set per token by an operator). */
  private readonly teamBudgets = new Map<number, RateLimiter>();
  /** Recently presigned URLs with their complete 302 header lists, reusable until `until` (performance.now() ms). */
  private readonly presigned = new BoundedMap<string, { until: number; headers: HeaderList }>(PRESIGNED_ENTRIES);
  private readonly expiresIn: number;

  constructor(
    private readonly options: BlobRouteOptions,
    private readonly reply: ReplyWriter,
    private readonly metrics: ServerMetrics,
  ) {
    if (options.mode === 'redirect' && !options.presign) throw new Error('redirect mode needs a store that can presign URLs (S3)');
    this.expiresIn = options.presignExpirySeconds ?? SERVE_DEFAULTS.presignExpirySeconds;
  }

  /**
   * A bottle the request's snapshot names, sent with `Content-Disposition`
   * naming its flat file (brew then skips its `--head --request GET` probe).
   * `encoded` keys the presigned-URL cache; the plain name is decoded only
   * when a response needs it.
   */
  bottle(x: Exchange, sha256: string, encoded: string, flatName?: string): void | Promise<void> {
    this.metrics.lookup(true);
    return this.sendBlob(x, sha256, { key: encoded, fileName: () => flatName ?? decodeURIComponent(encoded) });
  }

  /** A bottle by its decoded flat name, in the request's generation or the one before, or one to pull through. */
  bottleByName(x: Exchange, name: string): void | Promise<void> {
    const sha256 = requireSnapshot(x).bottles.get(name) ?? x.previous?.bottles.get(name);
    if (sha256) return this.bottle(x, sha256, encodeURIComponent(name), name);
    const named = this.options.pullThrough && x.snapshot?.named?.byName(name);
    this.metrics.lookup(named !== undefined);
    if (!named) throw httpErrors.notFound('no such bottle in the published generation');
    return this.pulled(x, named, { key: encodeURIComponent(name), fileName: () => name });
  }

  /**
   * `/casks/<sha256>`: a cask file a published generation names (issue #33),
   * under the same byte budget and modes as bottles, saved under its vendor's
   * file name. Nothing else in the store is reachable by this route.
   */
  cask(x: Exchange, sha256: string): void | Promise<void> {
    const fileName = requireSnapshot(x).casks?.bySha.get(sha256) ?? x.previous?.casks?.bySha.get(sha256);
    this.metrics.lookup(fileName !== undefined);
    if (fileName === undefined) throw httpErrors.notFound('no such cask file in the published generation');
    return this.sendBlob(x, sha256, { key: `cask:${sha256}`, fileName: () => fileName, contentType: 'application/octet-stream' });
  }

  /** A download of a mirrored tap (`routes/taps.ts` looked it up), under the same budget and modes as bottles. */
  tapDownload(x: Exchange, sha256: string, fileName: string): void | Promise<void> {
    this.metrics.lookup(true);
    return this.sendBlob(x, sha256, { key: `tap:${sha256}`, fileName: () => fileName, contentType: 'application/octet-stream' });
  }

  blob(x: Exchange, sha256: string): void | Promise<void> {
    const known = requireSnapshot(x).blobs.has(sha256) || x.previous?.blobs.has(sha256) === true;
    const named = known || !this.options.pullThrough ? undefined : x.snapshot?.named?.bySha(sha256);
    this.metrics.lookup(known || named !== undefined);
    if (named) return this.pulled(x, named, { key: `sha256:${sha256}` });
    if (!known) throw httpErrors.notFound('no such blob in the published generation');
    return this.sendBlob(x, sha256, { key: `sha256:${sha256}` });
  }

  /**
   * A bottle the signed API names that this partial mirror did not mirror:
   * from the store once pulled; otherwise fetched now. A plain GET streams
   * the upstream bytes through as they are checked (in redirect mode too:
   * the store has nothing to redirect to yet); a HEAD, a Range or a
   * conditional request, and every request that joins a fetch already
   * running, is answered from the store once the fetch has kept the blob.
   */
  private async pulled(x: Exchange, bottle: NamedBottle, naming: BlobNaming): Promise<void> {
    const stored = this.blobSizes.get(bottle.sha256) ?? (await this.options.blobs.size(bottle.sha256));
    if (stored === undefined) {
      const plain = x.req.method === 'GET' && !x.req.headers.range && !x.req.headers['if-none-match'];
      const streamed = await this.options.pullThrough!.pullBlob(bottle, plain ? (length) => this.openPulled(x, bottle.sha256, length, naming) : undefined);
      if (streamed) return;
    } else {
      this.blobSizes.set(bottle.sha256, stored);
      this.metrics.pullThrough.hits++;
    }
    return this.sendBlob(x, bottle.sha256, naming);
  }

  /** The first client's response to a pull, charged its length like any download. */
  private async openPulled(x: Exchange, sha256: string, length: number, naming: BlobNaming): Promise<BodyWriter> {
    const verdict = this.takeBytes(x, length);
    this.admitBytes(x, isPromise(verdict) ? await verdict : verdict, length);
    return this.reply.openBody(x, 200, blobHeaders(sha256, naming), length);
  }

  /** A stored blob streamed from here in every mode (brew.git's packs: git must never be redirected). */
  streamStored(x: Exchange, sha256: string, contentType: string): Promise<void> {
    return this.sizeOf(sha256).then((size) => this.streamBlob(x, sha256, size, { key: `sha256:${sha256}`, contentType }));
  }

  private async sizeOf(sha256: string): Promise<number> {
    const cached = this.blobSizes.get(sha256);
    if (cached !== undefined) return cached;
    const found = await this.options.blobs.size(sha256);
    if (found === undefined) throw httpErrors.notFound('not in the store');
    this.blobSizes.set(sha256, found);
    return found;
  }

  /**
   * Charges the client's byte budget `bytes`, then answers; past the budget the request is
   * refused with 429 and charged nothing. No closure on the synchronous path (the in-memory
   * budget): the redirect route is measured per request (`npm run bench:serve`).
   */
  private charged(x: Exchange, bytes: number, answer: (this: BlobRoutes, x: Exchange, sha256: string, naming: BlobNaming) => void | Promise<void>, sha256: string, naming: BlobNaming): void | Promise<void> {
    const verdict = this.takeBytes(x, bytes);
    if (isPromise(verdict)) {
      return verdict.then((v) => {
        this.admitBytes(x, v, bytes);
        return answer.call(this, x, sha256, naming);
      });
    }
    this.admitBytes(x, verdict, bytes);
    return answer.call(this, x, sha256, naming);
  }

  /**
   * The budget a request draws on: its team's, by token, when it carries one (token mode),
   * with the team's own bytes per hour if its token has one; otherwise its address's.
   */
  private takeBytes(x: Exchange, bytes: number): RateVerdict | Promise<RateVerdict> {
    const team = x.team;
    if (!team) return this.options.byteBudget.take(this.reply.clientIp(x), bytes);
    return this.teamBudget(team.budgetBytesPerHour).take(`team:${team.id}`, bytes);
  }

  private teamBudget(bytesPerHour: number | undefined): RateLimiter {
    if (bytesPerHour === undefined || !this.options.teamByteBudget) return this.options.byteBudget;
    let limiter = this.teamBudgets.get(bytesPerHour);
    if (!limiter) this.teamBudgets.set(bytesPerHour, (limiter = this.options.teamByteBudget(bytesPerHour)));
    return limiter;
  }

  private admitBytes(x: Exchange, verdict: RateVerdict, bytes: number): void {
    if (!verdict.allowed) {
      this.metrics.byteBudgetRefused++;
      throw httpErrors.byteBudgetSpent(verdict.retryAfterSeconds);
    }
    this.metrics.bytesHandedOut += bytes;
    if (x.team) this.metrics.teamBytes.set(x.team.team, (this.metrics.teamBytes.get(x.team.team) ?? 0) + bytes);
  }

  /**
   * A GET in redirect mode gets a presigned store URL, once the client's byte
   * budget is charged the blob's size; HEAD is answered here, because a
   * presigned GET URL refuses HEAD. Proxy mode streams.
   */
  private sendBlob(x: Exchange, sha256: string, naming: BlobNaming): void | Promise<void> {
    if (this.options.mode === 'redirect' && x.req.method !== 'HEAD') {
      // The URL lets its holder download the whole blob: that is what the client is charged.
      const size = this.blobSizes.get(sha256);
      if (size !== undefined) return this.charged(x, size, this.redirect, sha256, naming);
      return this.sizeOf(sha256).then((found) => this.charged(x, found, this.redirect, sha256, naming));
    }
    const size = this.blobSizes.get(sha256);
    if (size !== undefined) return this.streamBlob(x, sha256, size, naming);
    return this.options.blobs.size(sha256).then((found) => {
      if (found === undefined) throw httpErrors.notFound('bottle not in the store');
      this.blobSizes.set(sha256, found);
      return this.streamBlob(x, sha256, found, naming);
    });
  }

  /** A presigned URL carrying the disposition (S3 then sends it); one URL is reused for the first fifth of its life. */
  private redirect(x: Exchange, sha256: string, naming: BlobNaming): void | Promise<void> {
    // Reuse windows are measured on the monotonic clock the request was stamped with.
    const reuse = this.presigned.get(naming.key);
    if (reuse && reuse.until > x.started) return this.reply.respond(x, 302, reuse.headers);
    const expiresIn = this.expiresIn;
    const signedAt = performance.now();
    const disposition = naming.fileName ? attachment(naming.fileName()) : undefined;
    return this.options.presign!(sha256, expiresIn, disposition).then((url) => {
      const headers = withSecurityHeaders(['location', url, 'cache-control', 'no-store', 'content-length', '0']);
      this.presigned.set(naming.key, { until: signedAt + (expiresIn * 1000) / 5, headers });
      this.reply.respond(x, 302, headers);
    });
  }

  private async streamBlob(x: Exchange, sha256: string, size: number, naming: BlobNaming): Promise<void> {
    const base = blobHeaders(sha256, naming);
    if (notModified(x.req, `"${sha256}"`)) return this.reply.send(x, 304, base);
    const range = parseRange(x.req.headers.range, size);
    const length = range ? range.end - range.start + 1 : size;
    const headers = range ? base.concat('content-range', `bytes ${range.start}-${range.end}/${size}`) : base;
    if (x.req.method === 'HEAD') return this.reply.send(x, range ? 206 : 200, headers.concat('content-length', String(length)));
    // A resumed download pays for the range it asks for.
    const verdict = this.takeBytes(x, length);
    this.admitBytes(x, isPromise(verdict) ? await verdict : verdict, length);
    const source = await this.options.blobs.read(sha256, range);
    await this.reply.stream(x, range ? 206 : 200, headers, source, length);
  }
}
