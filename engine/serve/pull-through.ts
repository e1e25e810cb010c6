import { NamedBottle } from './named-bottles';
import { SERVE_DEFAULTS, SYNC_DEFAULTS } from '../defaults';
import { BlobIntegrityError, BlobStore, CircuitBreaker, ObjectStore } from '../ports';
import { OCI_INDEX_MEDIA_TYPE, manifestKey } from '../store-layout';
import { ManifestError, requireWantedDigests } from '../upstream/image-index';
import { Upstream, UpstreamError, cutAt, readAll, redactUrl } from '../upstream/client';
import { HttpError } from './http-errors';
import { ServerMetrics } from './metrics';
import { BodyWriter } from './reply';

/**
 * Pull-through (issue #24): a partial mirror fetches a bottle or image index
 * the published generation's signed API names, but the store lacks, on its
 * first request; checks it against the digest the signed API gives; keeps it;
 * and serves it. Nothing the signed API does not name is ever fetched: the
 * routes ask here only with a bottle from the generation's named index.
 */
export interface PullThroughOptions {
  readonly upstream: Upstream;
  /** The registry's origin; blobs and indexes are fetched from `<registryUrl>/v2/homebrew/core/…`. @default SYNC_DEFAULTS.registryUrl (ghcr.io, as the sync) */
  readonly registryUrl?: string;
  /** Per-host breaker shared with the sync's policy: while open, pulls are refused without a request. */
  readonly breaker: CircuitBreaker;
  /** Upstream fetches at once; one more is refused with 503 and Retry-After. @default SERVE_DEFAULTS.maxPulls */
  readonly maxPulls?: number;
  /** Largest blob fetched (its Content-Length, and the bytes counted as it streams). @default SERVE_DEFAULTS.maxPullBytes */
  readonly maxPullBytes?: number;
}

/** Seconds a client is told to wait after a refused or failed pull. */
export const PULL_RETRY_AFTER_SECONDS = 30;

export class PullThrough {
  private readonly blobFetches = new Map<string, Promise<void>>();
  private readonly manifestFetches = new Map<string, Promise<void>>();
  private readonly registryUrl: string;
  private readonly host: string;
  private readonly maxPulls: number;
  private readonly maxPullBytes: number;
  /** Upstream fetches running now (a gauge on /metrics and /status). */
  active = 0;

  constructor(
    private readonly options: PullThroughOptions,
    private readonly stores: { readonly blobs: BlobStore; readonly objects: ObjectStore },
    private readonly metrics: ServerMetrics,
  ) {
    this.registryUrl = (options.registryUrl ?? SYNC_DEFAULTS.registryUrl).replace(/\/+$/, '');
    this.host = new URL(this.registryUrl).host;
    this.maxPulls = options.maxPulls ?? SERVE_DEFAULTS.maxPulls;
    this.maxPullBytes = options.maxPullBytes ?? SERVE_DEFAULTS.maxPullBytes;
  }

  /**
   * Fetches `bottle` into the store, or waits for the fetch of it already
   * running (one upstream request however many clients ask at once). `open`,
   * given the upstream's Content-Length, may return the client's response
   * body: it then gets the bytes as they arrive, all but the last piece until
   * the digest is checked, and a failed check ends it short. Resolves true
   * when `open`'s client got the bytes, false when the caller is to serve
   * them from the store.
   */
  pullBlob(bottle: NamedBottle, open?: (length: number) => BodyWriter | undefined | Promise<BodyWriter | undefined>): Promise<boolean> {
    const running = this.blobFetches.get(bottle.sha256);
    if (running) {
      this.metrics.pullThrough.shared++;
      return running.then(() => false);
    }
    const task = this.limited(() => this.fetchBlob(bottle, open));
    return this.singleFlight(this.blobFetches, bottle.sha256, task);
  }

  /** Fetches the image index `image:ref` into the store once it names every digest in `digests` (what the signed API gives for it). */
  pullManifest(image: string, ref: string, digests: readonly string[]): Promise<void> {
    const id = `${image}:${ref}`;
    const running = this.manifestFetches.get(id);
    if (running) {
      this.metrics.pullThrough.shared++;
      return running;
    }
    return this.singleFlight(this.manifestFetches, id, this.limited(() => this.fetchManifest(image, ref, digests)));
  }

  /** Registers `task` as the fetch of `key` until it settles; waiting clients share its outcome. */
  private singleFlight<T>(fetches: Map<string, Promise<void>>, key: string, task: Promise<T>): Promise<T> {
    const shared = task.then(() => undefined);
    shared.catch(() => undefined); // observed by whoever waits; never an unhandled rejection
    fetches.set(key, shared);
    void shared.finally(() => fetches.delete(key)).catch(() => undefined);
    return task;
  }

  /** The concurrency cap and the breaker around one upstream fetch; upstream failures become 502 or 504. */
  private async limited<T>(fetch: () => Promise<T>): Promise<T> {
    if (this.active >= this.maxPulls) {
      this.metrics.pullThrough.busy++;
      throw new HttpError(503, 'pull_through_busy', `${this.maxPulls} upstream fetches are running; try again shortly`, ['retry-after', String(PULL_RETRY_AFTER_SECONDS)]);
    }
    this.active++;
    try {
      if (!(await this.options.breaker.allowRequest(this.host))) {
        this.metrics.pullThrough.failures++;
        throw new HttpError(503, 'upstream_unavailable', `${this.host} failed repeatedly; not asking it for a while`, ['retry-after', String(PULL_RETRY_AFTER_SECONDS)]);
      }
      const result = await fetch();
      await this.options.breaker.recordSuccess(this.host);
      return result;
    } catch (error) {
      if (!(error instanceof UpstreamError || error instanceof BlobIntegrityError || error instanceof ManifestError)) throw error;
      this.metrics.pullThrough.failures++;
      await this.options.breaker.recordFailure(this.host);
      throw upstreamFailure(error);
    } finally {
      this.active--;
    }
  }

  private async fetchBlob(bottle: NamedBottle, open?: (length: number) => BodyWriter | undefined | Promise<BodyWriter | undefined>): Promise<boolean> {
    const url = `${this.registryUrl}/v2/homebrew/core/${bottle.image}/blobs/sha256:${bottle.sha256}`;
    const response = await this.options.upstream.get(url, undefined, true, true);
    if (response.length !== undefined && response.length > this.maxPullBytes) {
      response.cancel();
      throw new UpstreamError(`GET ${redactUrl(url)}: ${response.length} bytes, more than the ${this.maxPullBytes} a pull may fetch`, true);
    }
    let client: BodyWriter | undefined;
    try {
      client = response.length !== undefined && open ? await open(response.length) : undefined;
    } catch (error) {
      response.cancel(); // refused (the client's byte budget): nothing fetched
      throw error;
    }
    const held = new HeldBack(client);
    this.metrics.pullThrough.pulls++;
    try {
      const body = cutAt(lostAsUpstream(response.body, response.url), response.length ?? this.maxPullBytes, response.url);
      const { bytes } = await this.stores.blobs.put(held.tap(body), { sha256: bottle.sha256, length: response.length });
      this.metrics.pullThrough.bytes += bytes;
    } catch (error) {
      held.fail(); // the client's download ends short: brew sees a failed download, never a wrong file
      throw error;
    }
    await held.finish();
    return client !== undefined;
  }

  private async fetchManifest(image: string, ref: string, digests: readonly string[]): Promise<void> {
    const response = await this.options.upstream.get(`${this.registryUrl}/v2/homebrew/core/${image}/manifests/${ref}`, OCI_INDEX_MEDIA_TYPE);
    const body = await readAll(response, this.options.upstream.limits.maxIndexBytes);
    this.metrics.pullThrough.pulls++;
    requireWantedDigests(body, digests, image, ref);
    await this.stores.objects.putObject(manifestKey(image, ref), body);
    this.metrics.pullThrough.bytes += body.length;
  }
}

/**
 * Passes a body on to the client one piece late: the last piece is written
 * only after the store has checked the digest, so a body that fails the
 * check never reaches the client whole.
 */
class HeldBack {
  private held?: Uint8Array;

  constructor(private readonly client: BodyWriter | undefined) {}

  async *tap(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      if (this.held) await this.client?.write(this.held);
      this.held = chunk;
      yield chunk;
    }
  }

  async finish(): Promise<void> {
    if (this.held) await this.client?.write(this.held);
    this.client?.end();
  }

  fail(): void {
    this.client?.abort();
  }
}

/** A connection lost mid-body is upstream's failure (as a deadline is), not this server's. */
async function* lostAsUpstream(body: AsyncIterable<Uint8Array>, url: string): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    throw new UpstreamError(`GET ${redactUrl(url)}: ${(error as Error).message}`, false);
  }
}

/** 504 when upstream did not answer in time, 502 otherwise; either way with Retry-After. */
function upstreamFailure(error: Error): HttpError {
  const retry = ['retry-after', String(PULL_RETRY_AFTER_SECONDS)];
  if (error instanceof UpstreamError && /no response within|body slower than/.test(error.message)) {
    return new HttpError(504, 'upstream_timeout', 'upstream did not answer in time', retry);
  }
  const what = error instanceof BlobIntegrityError || error instanceof ManifestError ? 'upstream sent a file that fails its check against the signed API' : 'upstream failed';
  return new HttpError(502, 'upstream_failed', what, retry);
}
