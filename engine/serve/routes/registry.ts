import { createHash } from 'crypto';
import { ObjectStore } from '../../ports';
import { OCI_INDEX_MEDIA_TYPE, manifestKey } from '../../store-layout';
import { httpErrors } from '../http-errors';
import { ServerMetrics } from '../metrics';
import { BoundedMap } from '../bounded-map';
import { Exchange, HeaderList, ReplyWriter, isPromise, notModified, requireSnapshot, withSecurityHeaders } from '../reply';
import { GenerationSnapshot } from '../snapshot';
import { PullThrough } from '../pull-through';

const REGISTRY_BASE: HeaderList = ['content-type', 'application/json', 'docker-distribution-api-version', 'registry/2.0'];

/** Image indexes kept in memory once read (immutable: content-addressed). */
const MANIFEST_ENTRIES = 4096;

interface CachedManifest {
  readonly body: Buffer;
  readonly headers: HeaderList;
  /** The 200 response's complete header list (security headers and Content-Length included). */
  readonly ok: HeaderList;
  readonly etag: string;
  /** `sha256:<hex>` of the body. */
  readonly digest: string;
}

/**
 * The OCI registry brew's bottle downloads and OCI clients speak: `/v2/`,
 * image indexes by tag (`/bottles/<image>/manifests/<ref>` and
 * `/v2/homebrew/core/<image>/manifests/<ref>`) or by digest, and tags/list.
 */
export class RegistryRoutes {
  private readonly manifests = new BoundedMap<string, CachedManifest>(MANIFEST_ENTRIES);

  constructor(
    private readonly objects: ObjectStore,
    private readonly reply: ReplyWriter,
    private readonly metrics: ServerMetrics,
    /** Set when pull-through is on: an index the signed API names but the store lacks is fetched on request. */
    private readonly pullThrough?: PullThrough,
  ) {}

  base(x: Exchange): void {
    this.reply.send(x, 200, REGISTRY_BASE, '{}');
  }

  manifest(x: Exchange, image: string, ref: string): void | Promise<void> {
    const id = `${image}:${ref}`;
    if (!requireSnapshot(x).manifests.has(id)) {
      const digests = this.pullThrough && x.snapshot?.named?.manifest(id);
      return digests ? this.pulledManifest(x, image, ref, digests) : this.sendManifest(x, undefined);
    }
    const loaded = this.loadManifest(image, ref);
    if (!isPromise(loaded)) return this.sendManifest(x, loaded);
    return loaded.then((manifest) => this.sendManifest(x, manifest));
  }

  /**
   * A manifest requested by digest: the image index of this generation whose
   * bytes hash to it. Platform manifests (the index's children) are not
   * mirrored, so their digests are a clean 404.
   */
  async manifestByDigest(x: Exchange, image: string, digest: string): Promise<void> {
    const snapshot = requireSnapshot(x);
    for (const ref of refsOf(snapshot, image)) {
      const manifest = await this.loadManifest(image, ref);
      if (manifest?.digest === digest) return this.sendManifest(x, manifest);
    }
    this.sendManifest(x, undefined);
  }

  /** An index a partial mirror did not mirror but the signed API names: from the store once pulled, otherwise fetched now. */
  private async pulledManifest(x: Exchange, image: string, ref: string, digests: readonly string[]): Promise<void> {
    let manifest = await this.loadManifest(image, ref);
    if (manifest) this.metrics.pullThrough.hits++;
    else {
      await this.pullThrough!.pullManifest(image, ref, digests);
      manifest = await this.loadManifest(image, ref);
    }
    this.sendManifest(x, manifest);
  }

  /** `GET /v2/homebrew/core/<image>/tags/list`, as the OCI distribution spec answers it. */
  tagsList(x: Exchange, image: string): void {
    const tags = refsOf(requireSnapshot(x), image);
    this.metrics.lookup(tags.length > 0);
    if (tags.length === 0) throw httpErrors.notFound('no such image in the published generation');
    this.reply.send(x, 200, REGISTRY_BASE, JSON.stringify({ name: `homebrew/core/${image}`, tags }));
  }

  private sendManifest(x: Exchange, manifest: CachedManifest | undefined): void {
    this.metrics.lookup(manifest !== undefined);
    if (!manifest) throw httpErrors.notFound('no such manifest in the published generation');
    if (notModified(x.req, manifest.etag)) return this.reply.send(x, 304, manifest.headers);
    this.reply.respond(x, 200, manifest.ok, manifest.body);
  }

  /** An image index from the cache or the store (immutable, so cached once read). */
  private loadManifest(image: string, ref: string): CachedManifest | undefined | Promise<CachedManifest | undefined> {
    const id = `${image}:${ref}`;
    const cached = this.manifests.get(id);
    if (cached) return cached;
    return this.objects.getObject(manifestKey(image, ref)).then((stored) => {
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
}

/** Tags (manifest refs) of `image` in a generation. */
function refsOf(snapshot: GenerationSnapshot, image: string): string[] {
  const prefix = `${image}:`;
  const refs: string[] = [];
  for (const id of snapshot.manifests) if (id.startsWith(prefix) && !id.includes('/', prefix.length)) refs.push(id.slice(prefix.length));
  return refs.sort();
}
