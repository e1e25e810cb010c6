import { randomBytes } from 'crypto';
import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { AwsDispatcher } from '../../engine/adapters/aws/dispatcher';
import { S3Housekeeping } from '../../engine/adapters/aws/s3-housekeeping';
import { awsStores } from '../../engine/wiring/aws';
import { jsonLogger } from '../../engine/logger';
import { DistributedDeps, orchestrate, runLargeSync, runWorkerBatch } from '../../engine/sync/distributed';
import { DEFAULT_ROUTING } from '../../engine/sync/route';
import { Upstream } from '../../engine/upstream/client';
import { PROD_DISPATCH } from '../fixtures/dispatch';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { publishApi, signApiFile, testSigningKey } from '../fixtures/homebrew-api';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

// S3 and DynamoDB are real local peers; Lambda Invoke and ECS RunTask have none, so their clients are recorded.
let s3: LocalS3;
let dynamo: LocalDynamoDb;
let upstream: FixtureUpstream;
let n = 0;
const key = testSigningKey();
const config = PROD_DISPATCH;

beforeAll(async () => {
  // Housekeeping looks at every generation in its bucket: it gets one of its own.
  s3 = await startLocalS3('distributed', ['distributed-housekeeping']);
  dynamo = await startLocalDynamoDb();
});
afterAll(async () => {
  await s3.close();
  await dynamo.close();
});
beforeEach(async () => {
  upstream = await startFixtureUpstream();
});
afterEach(() => upstream.close());

async function environment() {
  const table = `prod-brew-state-${++n}`;
  await dynamo.createStateTable(table);
  const invokes: InvokeCommand[] = [];
  const runTasks: RunTaskCommand[] = [];
  const lambda = { send: async (c: InvokeCommand) => (invokes.push(c), { StatusCode: 202 }) };
  const ecs = { send: async (c: RunTaskCommand) => (runTasks.push(c), { tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/prod-brew-cluster/t1' }] }) };
  const deps: DistributedDeps = {
    upstream: new Upstream(),
    ...awsStores(s3.client, s3.bucket, dynamo.client, table),
    log: jsonLogger({}, () => undefined),
    dispatcher: new AwsDispatcher(config, lambda, ecs),
    transfer: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined },
  };
  const payloads = () => invokes.map((c) => JSON.parse(Buffer.from(c.input.Payload as Uint8Array).toString('utf8')));
  return { deps, invokes, runTasks, payloads };
}

const formulae = () => [
  { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(40_000) }, { tag: 'x86_64_linux', bytes: randomBytes(30_000) }] },
  { name: 'gtk+3', version: '3.24.43', rebuild: 1, bottles: [{ tag: 'x86_64_linux', bytes: randomBytes(20_000) }] },
  { name: 'ca-certificates', version: '2023-12-12', bottles: [{ tag: 'all', bytes: randomBytes(10_000) }] },
];
const options = (limits = DEFAULT_ROUTING) => ({ apiUrl: upstream.apiRoot, publicKey: key.publicKey, limits });

describe('distributed sync: orchestrator → workers → finalize', () => {
  test('under the threshold: bounded worker batches invoked asynchronously; the last worker publishes', async () => {
    publishApi(upstream, formulae(), key.privateKey);
    const { deps, invokes, runTasks, payloads } = await environment();
    const result = await orchestrate(deps, options({ ...DEFAULT_ROUTING, maxBatchBytes: 50_000 }));
    // First-fit decreasing into 50 kB batches: 40k+10k and 30k+20k.
    expect(result).toMatchObject({ outcome: 'dispatched', route: 'lambda', batches: 2, bytes: 100_000 });
    expect(runTasks).toEqual([]);
    expect(invokes.map((c) => [c.input.FunctionName, c.input.InvocationType])).toEqual(Array(2).fill(['prod-brew-sync-worker', 'Event']));
    expect(payloads()).toEqual(['b0000', 'b0001'].map((batchId) => ({ runId: result.runId, batchId })));

    const finals = [];
    for (const p of payloads()) finals.push(await runWorkerBatch(deps, p.runId, p.batchId, { remainingMs: () => 900_000 }));
    expect(finals[0]).toBeUndefined();
    expect(finals[1]).toMatchObject({ published: true, generation: result.runId, bottles: { planned: 4, transferred: 4, failed: 0 } });
    expect((await deps.state.getPublished())!.generation).toBe(result.runId);
    expect(await deps.state.acquireLease('sync', 'next-run', 1000)).toBe(true); // finalize released the run lease
  });

  test('over the threshold: one ECS RunTask with only the run id; the task publishes', async () => {
    publishApi(upstream, formulae(), key.privateKey);
    const { deps, invokes, runTasks } = await environment();
    const result = await orchestrate(deps, options({ ...DEFAULT_ROUTING, lambdaThresholdBytes: 99_999 }));
    expect(result).toMatchObject({ outcome: 'dispatched', route: 'fargate', batches: 1 });
    expect(invokes).toEqual([]);
    expect(runTasks).toHaveLength(1);
    expect(runTasks[0].input.overrides).toEqual({
      containerOverrides: [{ name: 'prod-brew-sync-task', environment: [{ name: 'HBS_RUN_ID', value: result.runId }] }],
    });
    const summary = await runLargeSync(deps, result.runId, { stopping: () => false });
    expect(summary).toMatchObject({ published: true, bottles: { transferred: 4 } });
  });

  test('a worker running out of time hands unstarted bottles to a continuation batch instead of dying mid-upload', async () => {
    publishApi(upstream, formulae(), key.privateKey);
    const { deps, payloads } = await environment();
    const result = await orchestrate(deps, options());
    expect(result).toMatchObject({ route: 'lambda', batches: 1 });
    let calls = 0;
    const first = payloads()[0];
    // Plenty of time for the first bottle, then below the reserve.
    const summary = await runWorkerBatch(deps, first.runId, first.batchId, { remainingMs: () => (calls++ === 0 ? 900_000 : 60_000), concurrency: 1 });
    expect(summary).toBeUndefined(); // the continuation is still outstanding
    const continuation = payloads()[1];
    expect(continuation).toEqual({ runId: result.runId, batchId: 'b0000-c0' });
    const final = await runWorkerBatch(deps, continuation.runId, continuation.batchId, { remainingMs: () => 900_000 });
    expect(final).toMatchObject({ published: true, bottles: { planned: 4, transferred: 4, failed: 0 } });
  });

  test('SIGTERM in the Fargate task: in-flight finishes, the rest goes to a successor task, which publishes', async () => {
    publishApi(upstream, formulae(), key.privateKey);
    const { deps, runTasks } = await environment();
    const run = await orchestrate(deps, options({ ...DEFAULT_ROUTING, lambdaThresholdBytes: 1 }));
    expect(runTasks).toHaveLength(1);
    let started = 0;
    const interrupted = await runLargeSync(deps, run.runId, { stopping: () => started++ >= 1, concurrency: 1 });
    expect(interrupted).toBeUndefined(); // not finalized: the successor holds the rest
    expect(runTasks).toHaveLength(2);
    expect(runTasks[1].input.overrides).toEqual(runTasks[0].input.overrides); // same run id, nothing else
    expect(await deps.state.getPublished()).toBeUndefined();

    upstream.requests.length = 0;
    const successor = await runLargeSync(deps, run.runId, { stopping: () => false });
    expect(successor).toMatchObject({ published: true, generation: run.runId, bottles: { planned: 4, transferred: 4, failed: 0 } });
    expect(upstream.requests.filter((r) => r.origin === 'cdn')).toHaveLength(3); // only what the first task never started
  });

  test('nothing changed: nothing published; a changed API with nothing new to copy is published right away', async () => {
    publishApi(upstream, formulae(), key.privateKey);
    const { deps, payloads, invokes } = await environment();
    const first = await orchestrate(deps, options());
    for (const p of payloads()) await runWorkerBatch(deps, p.runId, p.batchId, { remainingMs: () => 900_000 });
    const invoked = invokes.length;
    const same = await orchestrate(deps, options());
    expect(same).toMatchObject({ outcome: 'finalized', summary: { published: false, unchanged: true, generation: first.runId } });
    expect(invokes).toHaveLength(invoked);
    expect((await deps.state.getPublished())!).toMatchObject({ generation: first.runId, verifiedAt: expect.any(String) });
    expect(await deps.state.getRun(same.runId)).toMatchObject({ status: 'unchanged' });

    upstream.setApiFile('cask.jws.json', signApiFile('[{"token":"firefox"}]', key.privateKey));
    const second = await orchestrate(deps, options());
    expect(second).toMatchObject({ outcome: 'finalized', summary: { published: true, bottles: { planned: 0, skipped: 4 } } });
    expect((await deps.state.getPublished())!.generation).toBe(second.runId);
    expect(second.runId).not.toBe(first.runId);
  });

  test('a second orchestrator while a run is in flight is refused', async () => {
    publishApi(upstream, formulae(), key.privateKey);
    const { deps } = await environment();
    const first = await orchestrate(deps, options());
    await expect(orchestrate(deps, options())).resolves.toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/^another sync is running \(pid \d+ on .+, started /) });
    expect((await deps.state.readLease('sync'))!.owner).toBe(first.runId);
  });

  test('a run whose workers all died lets its lease lapse; the next orchestrator takes over and records it abandoned', async () => {
    publishApi(upstream, formulae(), key.privateKey);
    const { deps } = await environment();
    const dead = await orchestrate(deps, options());
    expect(dead.outcome).toBe('dispatched');
    // No worker ever runs, so nobody renews: stand in for 30 silent minutes by shortening the lease.
    expect(await deps.state.renewLease('sync', dead.runId, 1)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = await orchestrate(deps, options());
    expect(next.outcome).toBe('dispatched');
    expect(await deps.state.getRun(dead.runId)).toMatchObject({ status: 'abandoned', error: expect.stringContaining(next.runId) });
    // A late worker of the dead run can no longer renew the lease it lost.
    expect(await deps.state.renewLease('sync', dead.runId, 60_000)).toBe(false);
  });
});

describe('issue #25 fault 9: the bucket keeps N API generations, as the local store does', () => {
  const bucket = 'distributed-housekeeping';
  const generationsInBucket = async () =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'api/generations/', Delimiter: '/' }))).CommonPrefixes ?? []).map((p) => p.Prefix!.split('/')[2]).sort();
  const keysUnder = async (prefix: string) => (await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).KeyCount ?? 0;

  test('each publish prunes api/generations/ to the published one and the newest before it, _mirror records included', async () => {
    const table = `prod-brew-state-hk-${++n}`;
    await dynamo.createStateTable(table);
    const stores = awsStores(s3.client, bucket, dynamo.client, table);
    const lambda = { send: async () => ({ StatusCode: 202 }) };
    const ecs = { send: async () => ({ tasks: [{ taskArn: 't' }] }) };
    const invoked: { runId: string; batchId: string }[] = [];
    const dispatcher = new AwsDispatcher(config, { send: async (c: InvokeCommand) => (invoked.push(JSON.parse(Buffer.from(c.input.Payload as Uint8Array).toString('utf8'))), lambda.send()) }, ecs);
    const deps: DistributedDeps = {
      upstream: new Upstream(),
      ...stores,
      log: jsonLogger({}, () => undefined),
      dispatcher,
      transfer: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined },
      housekeeping: new S3Housekeeping(s3.client, bucket, stores.state),
    };
    const published: string[] = [];
    for (let week = 0; week < 5; week++) {
      // Run ids sort by their start second: one second apart, as weekly runs are a week apart.
      if (week > 0) await new Promise((resolve) => setTimeout(resolve, 1100));
      publishApi(upstream, [{ name: 'wget', version: `1.25.${week}`, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(5000) }] }], key.privateKey, { generatedAt: 1795000000 + week * 604800 });
      const run = await orchestrate(deps, options());
      expect(run.outcome).toBe('dispatched');
      const batch = invoked[invoked.length - 1];
      expect(await runWorkerBatch(deps, batch.runId, batch.batchId, { remainingMs: () => 900_000 })).toMatchObject({ published: true });
      published.push(run.runId);
      expect((await generationsInBucket()).length).toBe(Math.min(week + 1, 3));
    }
    expect(await generationsInBucket()).toEqual(published.slice(-3).sort());
    expect((await stores.state.getPublished())!.generation).toBe(published[4]);
    // Every object of a dropped generation is gone, its bottle index too; a kept one is whole.
    expect(await keysUnder(`api/generations/${published[0]}/`)).toBe(0);
    expect(await stores.objects.hasObject(`api/generations/${published[4]}/_mirror/bottles.tsv`)).toBe(true);
    expect(await stores.objects.hasObject(`api/generations/${published[2]}/formula.jws.json`)).toBe(true);
  }, 60_000);

  test('HBS_KEEP_GENERATIONS changes the count; a value that is not a positive integer stops the workload', () => {
    const { housekeepingFromEnv } = jest.requireActual('../../engine/wiring/aws') as typeof import('../../engine/wiring/aws');
    expect(housekeepingFromEnv({}).keepGenerations).toBe(3);
    expect(housekeepingFromEnv({ HBS_KEEP_GENERATIONS: '5' }).keepGenerations).toBe(5);
    expect(() => housekeepingFromEnv({ HBS_KEEP_GENERATIONS: '0' })).toThrow(/HBS_KEEP_GENERATIONS must be a positive integer/);
  });
});
