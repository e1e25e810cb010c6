import { CopyObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { S3BlobStore, S3ObjectStore } from '../../engine/adapters/aws/s3-store';
import { FileStateStore } from '../../engine/adapters/local/file-state-store';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { jsonLogger } from '../../engine/logger';
import { BlobStore, ObjectStore, OrphanMarker } from '../../engine/ports';
import { MirrorServer } from '../../engine/serve/server';
import { runSync } from '../../engine/sync/run-sync';
import { Upstream } from '../../engine/upstream/client';
import { localStores } from '../../engine/wiring/local';
import { FixtureFormula, publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { startFixtureUpstream } from '../fixtures/upstream-server';

/**
 * Issue #15 item 4: the DR mirror reads a replica whose published pointer
 * (a global-table item) arrives before the objects it names (S3
 * replication). A replicator here copies the pointer first and the objects
 * after, one by one with a delay, in a shuffled order. Under continuous
 * requests across the switch, the mirror never serves the new generation
 * while one of its files is missing, and serves it once they have arrived.
 */

const key = testSigningKey();
const log = jsonLogger({}, () => undefined);
const b = (tag: string) => ({ tag, bytes: randomBytes(300) });
const generation1: FixtureFormula[] = [
  { name: 'wget', version: '1.0', bottles: [b('arm64_sequoia'), b('x86_64_linux')] },
  { name: 'curl', version: '8.0', bottles: [b('arm64_sequoia')] },
];
const generation2: FixtureFormula[] = [
  { name: 'wget', version: '1.1', bottles: [b('arm64_sequoia'), b('x86_64_linux')] },
  { name: 'curl', version: '8.1', bottles: [b('arm64_sequoia')] },
  ...Array.from({ length: 12 }, (_, i) => ({ name: `new-${i}`, version: '1.0', bottles: [b('arm64_sequoia')] })),
];
const flatNames = (formulae: FixtureFormula[]) => formulae.flatMap((f) => f.bottles.map((x) => `${f.name}-${f.version}.${x.tag}.bottle.tar.gz`));

interface Stores {
  readonly objects: ObjectStore;
  readonly blobs: BlobStore & OrphanMarker;
}

interface Replica {
  /** Copies the pointer, then every object not yet copied, one at a time with `delayMs` between them. */
  replicate(delayMs: number): Promise<void>;
}

async function get(port: number, p: string): Promise<{ status: number; etag?: string }> {
  return new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, etag: res.headers.etag }));
      })
      .on('error', reject),
  );
}

const shuffle = <T>(items: T[]): T[] => items.map((v) => [Math.random(), v] as const).sort((a, b) => a[0] - b[0]).map(([, v]) => v);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes generation 1 on the primary and replicates it whole, starts the
 * replica's mirror, then publishes generation 2 and replicates it slowly
 * while clients hammer the mirror. Returns what the clients saw.
 */
async function acrossTheSwitch(primary: Stores & { state: FileStateStore }, replica: Stores & { state: FileStateStore }, replicator: Replica, verifyCompleteness: boolean) {
  const upstream = await startFixtureUpstream();
  try {
    const sync = () => runSync({ ...primary, upstream: new Upstream(), log }, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, maxDropPercent: 100 });
    publishApi(upstream, generation1, key.privateKey);
    expect((await sync()).published).toBe(true);
    await replicator.replicate(0);
    const server = new MirrorServer({ ...replica, log, limiter: new MemoryRateLimiter({ ratePerSecond: 1e6, burst: 1e6 }), byteBudget: memoryByteBudget(), mode: 'proxy', pollMs: 10, verifyCompleteness });
    const port = await server.listen(0, '127.0.0.1');
    try {
      const firstEtag = (await get(port, '/api/formula.jws.json')).etag;
      publishApi(upstream, generation2, key.privateKey);
      expect((await sync()).published).toBe(true);
      const replicating = replicator.replicate(4);
      let replicated = false;
      void replicating.then(() => (replicated = true));
      const broken: string[] = [];
      let sawNew = false;
      // Clients: read the API, then fetch every bottle of the generation it came from.
      for (let round = 0; round < 2000 && !(replicated && sawNew); round++) {
        const api = await get(port, '/api/formula.jws.json');
        const names = api.etag === firstEtag ? flatNames(generation1) : flatNames(generation2);
        if (api.etag !== firstEtag) sawNew = true;
        const results = await Promise.all(names.map((n) => get(port, `/bottles/${encodeURIComponent(n)}`)));
        results.forEach((r, i) => r.status !== 200 && broken.push(`${names[i]}: ${r.status}`));
        if (replicated) await sleep(15);
      }
      await replicating;
      return { broken, sawNew };
    } finally {
      await server.stop(100);
    }
  } finally {
    await upstream.close();
  }
}

describe('directory stores', () => {
  let roots: string[] = [];
  afterEach(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

  /** Copies files from one store directory to another: the pointer first, then objects in random order. */
  function directoryReplicator(from: string, to: string): Replica {
    const files = (dir: string): string[] =>
      fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)])) : [];
    return {
      async replicate(delayMs) {
        const published = await new FileStateStore(from).getPublished();
        const target = new FileStateStore(to);
        await target.setPublished(published!, (await target.getPublished())?.generation);
        // The API files first, then the rest in any order: the worst case, a new API whose bottles have not arrived.
        const all = shuffle(files(from).filter((f) => !path.relative(from, f).startsWith('state') && !path.basename(f).startsWith('.')));
        const isApi = (f: string) => path.relative(from, f).startsWith(path.join('api', 'generations')) && !f.includes('_mirror');
        const pending = [...all.filter(isApi), ...all.filter((f) => !isApi(f))];
        for (const file of pending) {
          const dest = path.join(to, path.relative(from, file));
          if (fs.existsSync(dest)) continue;
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          fs.copyFileSync(file, `${dest}.tmp`);
          fs.renameSync(`${dest}.tmp`, dest);
          if (delayMs) await sleep(delayMs);
        }
      },
    };
  }

  function stores() {
    const a = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-primary-'));
    const b = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-replica-'));
    roots = [a, b];
    return { a, b, primary: localStores(a), replica: localStores(b) };
  }

  test('with the completeness check, the mirror never serves a generation with a missing file, and switches once all arrived', async () => {
    const { a, b, primary, replica } = stores();
    const seen = await acrossTheSwitch(primary, replica, directoryReplicator(a, b), true);
    expect(seen.broken).toEqual([]);
    expect(seen.sawNew).toBe(true);
  }, 60_000);

  test('without it, clients see the new API before its bottles (the failure the check prevents)', async () => {
    const { a, b, primary, replica } = stores();
    const seen = await acrossTheSwitch(primary, replica, directoryReplicator(a, b), false);
    expect(seen.broken.length).toBeGreaterThan(0);
  }, 60_000);
});

describe('S3 adapter on two s3rver buckets', () => {
  let s3: LocalS3;
  let stateDirs: string[] = [];
  beforeAll(async () => {
    s3 = await startLocalS3('dr-primary', ['dr-replica']);
  });
  afterAll(() => s3.close());
  afterEach(() => stateDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** Copies objects between buckets (CopyObject), the pointer first. */
  function bucketReplicator(primaryState: FileStateStore, replicaState: FileStateStore): Replica {
    return {
      async replicate(delayMs) {
        await replicaState.setPublished((await primaryState.getPublished())!, (await replicaState.getPublished())?.generation);
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await s3.client.send(new ListObjectsV2Command({ Bucket: 'dr-primary', ContinuationToken: token }));
          keys.push(...(page.Contents ?? []).map((o) => o.Key!));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        const copied = new Set<string>();
        let existing: string | undefined;
        do {
          const page = await s3.client.send(new ListObjectsV2Command({ Bucket: 'dr-replica', ContinuationToken: existing }));
          for (const o of page.Contents ?? []) copied.add(o.Key!);
          existing = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (existing);
        const todo = shuffle(keys.filter((k) => !copied.has(k) && !k.startsWith('runs/')));
        const isApi = (k: string) => k.startsWith('api/generations/') && !k.includes('/_mirror/');
        for (const k of [...todo.filter(isApi), ...todo.filter((k) => !isApi(k))]) {
          await s3.client.send(new CopyObjectCommand({ Bucket: 'dr-replica', Key: k, CopySource: `dr-primary/${k}` }));
          if (delayMs) await sleep(delayMs);
        }
      },
    };
  }

  test('the same on S3: never a generation with a missing object, and the switch once complete', async () => {
    const primaryState = new FileStateStore(fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-dr-state-a-')));
    const replicaState = new FileStateStore(fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-dr-state-b-')));
    const primary = { blobs: new S3BlobStore(s3.client, 'dr-primary'), objects: new S3ObjectStore(s3.client, 'dr-primary'), state: primaryState };
    const replica = { blobs: new S3BlobStore(s3.client, 'dr-replica'), objects: new S3ObjectStore(s3.client, 'dr-replica'), state: replicaState };
    const seen = await acrossTheSwitch(primary, replica, bucketReplicator(primaryState, replicaState), true);
    expect(seen.broken).toEqual([]);
    expect(seen.sawNew).toBe(true);
  }, 120_000);
});
