import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { FileStateStore } from '../../engine/adapters/local/file-state-store';
import { S3BlobStore, S3ObjectStore } from '../../engine/adapters/aws/s3-store';
import { jsonLogger } from '../../engine/logger';
import { BlobIntegrityError } from '../../engine/ports';
import { runSync } from '../../engine/sync/run-sync';
import { Upstream } from '../../engine/upstream/client';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { startFixtureUpstream } from '../fixtures/upstream-server';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(() => s3.close());

const MIB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
async function* chunks(buffer: Buffer, size = 64 * 1024) {
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, i + size);
}

describe('S3 blob store (against s3rver)', () => {
  test('a multi-part upload completes only after the digest matches', async () => {
    const store = new S3BlobStore(s3.client, s3.bucket, 5 * MIB);
    const body = randomBytes(12 * MIB + 123); // three parts
    await expect(store.put(chunks(body), { sha256: sha(body), length: body.length })).resolves.toEqual({ bytes: body.length });
    expect(await store.has(sha(body))).toBe(true);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `blobs/sha256/${sha(body)}` }));
    expect(head.ContentLength).toBe(body.length);
    const listed: string[] = [];
    for await (const s of store.list()) listed.push(s);
    expect(listed).toContain(sha(body));
  });

  test('a wrong digest or short body never becomes visible', async () => {
    const store = new S3BlobStore(s3.client, s3.bucket, 5 * MIB);
    const body = randomBytes(6 * MIB);
    const claimed = 'e'.repeat(64);
    await expect(store.put(chunks(body), { sha256: claimed })).rejects.toThrow(BlobIntegrityError);
    expect(await store.has(claimed)).toBe(false);
    await expect(store.put(chunks(body), { sha256: sha(body), length: body.length + 1 })).rejects.toThrow(/expected/);
    expect(await store.has(sha(body))).toBe(false);
  });

  test('orphan marks are the lifecycle tag, keep their first date, and clear', async () => {
    const store = new S3BlobStore(s3.client, s3.bucket);
    const body = randomBytes(1000);
    await store.put(chunks(body), { sha256: sha(body) });
    await store.markOrphaned(sha(body), new Date('2026-11-22T03:30:00Z'));
    await store.markOrphaned(sha(body), new Date('2026-11-29T03:30:00Z'));
    const { TagSet } = await s3.client.send(new GetObjectTaggingCommand({ Bucket: s3.bucket, Key: `blobs/sha256/${sha(body)}` }));
    expect(TagSet).toEqual([
      { Key: 'homebrew-mirror:orphaned', Value: 'true' },
      { Key: 'homebrew-mirror:orphaned-at', Value: '2026-11-22T03:30:00.000Z' },
    ]);
    expect(await store.isOrphaned(sha(body))).toBe(true);
    await store.clearOrphaned(sha(body));
    expect(await store.isOrphaned(sha(body))).toBe(false);
  });

  test('objects round-trip byte for byte; keys are validated', async () => {
    const objects = new S3ObjectStore(s3.client, s3.bucket);
    const body = Buffer.from('{"schemaVersion":2,"manifests":[]}');
    await objects.putObject('manifests/openssl/3/3.2.0_1', body);
    expect((await objects.getObject('manifests/openssl/3/3.2.0_1'))!.equals(body)).toBe(true);
    expect(await objects.hasObject('manifests/openssl/3/3.2.0_1')).toBe(true);
    expect(await objects.getObject('manifests/none')).toBeUndefined();
    await expect(objects.putObject('a/../b', body)).rejects.toThrow(/unsafe object key/);
  });
});

describe('a whole sync into S3', () => {
  test('publishes into the bucket, then a rerun transfers nothing', async () => {
    const upstream = await startFixtureUpstream();
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-s3-state-'));
    const key = testSigningKey();
    try {
      publishApi(upstream, [
        { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(3000) }] },
        { name: 'gtk+3', version: '3.24.43', rebuild: 2, bottles: [{ tag: 'x86_64_linux', bytes: randomBytes(2000) }, { tag: 'all', bytes: randomBytes(10) }] },
      ], key.privateKey);
      const deps = {
        upstream: new Upstream(),
        blobs: new S3BlobStore(s3.client, 'bottles'),
        objects: new S3ObjectStore(s3.client, 'bottles'),
        state: new FileStateStore(stateDir),
        log: jsonLogger({}, () => undefined),
      };
      const options = { apiUrl: upstream.apiRoot, publicKey: key.publicKey };
      const first = await runSync(deps, options);
      expect(first).toMatchObject({ published: true, bottles: { transferred: 3 } });
      expect(await deps.objects.hasObject(`api/generations/${first.generation}/formula.jws.json`)).toBe(true);
      expect(await deps.objects.hasObject('manifests/gtkx3/3.24.43-2')).toBe(true);
      const second = await runSync(deps, options);
      expect(second).toMatchObject({ published: false, unchanged: true, generation: first.generation, bottles: { planned: 0, transferred: 0, skipped: 3 } });
    } finally {
      await upstream.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
