import { pipeline } from 'stream/promises';
import { promisify } from 'util';
import { createGzip, gzip } from 'zlib';
import { ObjectStore } from '../../ports';
import { apiKey } from '../../store-layout';
import { httpErrors } from '../http-errors';
import { ServerMetrics } from '../metrics';
import { BoundedMap } from '../bounded-map';
import { Exchange, ReplyWriter, notModified, requireSnapshot } from '../reply';
import { ApiFile } from '../snapshot';

const gzipAsync = promisify(gzip);

/** gzip encodings kept in memory (content-addressed by ETag, so valid across generations). */
const GZIP_CACHE_ENTRIES = 64;

/**
 * `/api/<file>`: Homebrew's signed API files of the request's generation,
 * byte for byte, with validators and gzip (made once per content).
 */
export class ApiFileRoutes {
  private readonly gzipped = new BoundedMap<string, Buffer>(GZIP_CACHE_ENTRIES);
  private readonly gzipping = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly objects: ObjectStore,
    private readonly reply: ReplyWriter,
    private readonly metrics: ServerMetrics,
  ) {}

  apiFile(x: Exchange, file: string): void | Promise<void> {
    const snapshot = requireSnapshot(x);
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
    if (notModified(x.req, entry.etag, snapshot.lastModified)) return this.reply.send(x, 304, headers);
    const acceptEncoding = x.req.headers['accept-encoding'];
    if (!acceptEncoding || !/\bgzip\b/.test(acceptEncoding)) {
      if (entry.body) return this.reply.send(x, 200, headers, entry.body);
      return this.streamApiFile(x, apiKey(snapshot.generation.generation, file), entry.size, headers);
    }
    headers.push('content-encoding', 'gzip');
    const compressed = this.gzipped.get(entry.etag);
    if (compressed) return this.reply.send(x, 200, headers, compressed);
    return this.gzip(apiKey(snapshot.generation.generation, file), entry).then((body) => this.reply.send(x, 200, headers, body));
  }

  /** A large API file, streamed from the store (HEAD: its length only). */
  private async streamApiFile(x: Exchange, key: string, size: number, headers: string[]): Promise<void> {
    if (x.req.method === 'HEAD') return this.reply.send(x, 200, headers.concat('content-length', String(size)));
    const source = await this.objects.readObject(key);
    if (!source) throw httpErrors.internal();
    await this.reply.stream(x, 200, headers, source, size);
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
    const source = await this.objects.readObject(key);
    if (!source) throw httpErrors.internal();
    const chunks: Buffer[] = [];
    await pipeline(source, createGzip(), async (zipped: AsyncIterable<Buffer>) => {
      for await (const chunk of zipped) chunks.push(chunk);
    });
    return Buffer.concat(chunks);
  }
}
