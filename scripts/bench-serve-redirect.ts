/**
 * The mirror server in redirect mode, for `npm run bench:serve` only.
 *
 *   node bench-serve-redirect.js STORE_DIR PORT
 *
 * Production redirect mode needs S3 to presign URLs; here the generation and
 * its lookups come from a directory store, and bottle URLs are presigned by
 * the real S3 adapter (SigV4 is computed locally, so no bucket is contacted;
 * the credentials are dummies). Everything else is configured as
 * `bottles serve` configures it: in-memory rate limit, batched JSON access
 * log to stderr. bench-serve.ts bundles this file with esbuild and runs it in its own
 * process, as the container runs its bundle, with the container's Node.js
 * flags (MIRROR_SERVICE_NODE_FLAGS).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../engine/adapters/aws/s3-store';
import { jsonLogger } from '../engine/logger';
import { BatchedAccessLog } from '../engine/serve/access-log';
import { MemoryRateLimiter, memoryByteBudget } from '../engine/adapters/local/memory-rate-limiter';
import { MirrorServer } from '../engine/serve/server';
import { localStores } from '../engine/wiring/local';

async function main(): Promise<void> {
  const [store, port] = process.argv.slice(2);
  const s3 = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDBENCHMARK', secretAccessKey: 'not-a-secret' } });
  const bucket = new S3BlobStore(s3, 'homebrew-mirror-bench');
  const server = new MirrorServer({
    ...localStores(store),
    log: jsonLogger({ service: 'bench-redirect' }, (line) => process.stderr.write(`${line}\n`)),
    accessLog: new BatchedAccessLog({ service: 'bench-redirect' }, (chunk) => process.stderr.write(chunk)).log,
    limiter: new MemoryRateLimiter({ ratePerSecond: 1e9, burst: 1e9 }),
    // Charged on every redirect, as in production, but never spent: the benchmark measures its cost, not its refusals.
    byteBudget: memoryByteBudget(2 ** 50),
    mode: 'redirect',
    presign: (sha256, expiresIn) => bucket.presign(sha256, expiresIn),
  });
  const bound = await server.listen(Number(port), '127.0.0.1');
  process.stdout.write(`listening ${bound}\n`);
  process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
