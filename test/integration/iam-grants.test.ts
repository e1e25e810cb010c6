import { createHash, randomBytes } from 'crypto';
import * as http from 'http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AwsDispatcher } from '../../engine/adapters/aws/dispatcher';
import { S3Housekeeping } from '../../engine/adapters/aws/s3-housekeeping';
import { DEFAULT_HOUSEKEEPING } from '../../engine/sync/housekeeping';
import { awsStores } from '../../engine/wiring/aws';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { MemoryCircuitBreaker } from '../../engine/adapters/local/memory-circuit-breaker';
import { jsonLogger } from '../../engine/logger';
import { MirrorServer } from '../../engine/serve/server';
import { DistributedDeps, orchestrate, runLargeSync, runWorkerBatch } from '../../engine/sync/distributed';
import { reportFreshness } from '../../engine/sync/freshness';
import { DEFAULT_ROUTING } from '../../engine/sync/route';
import { Upstream } from '../../engine/upstream/client';
import { noMetrics } from '../../engine/metrics';
import { blobKey } from '../../engine/store-layout';
import { PROD_DISPATCH } from '../fixtures/dispatch';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { synthAll } from '../synth';

/*
 * IAM grants are derived from what the adapters really send. The sync and the
 * mirror run their flows against real local peers (s3rver, dynalite) with a
 * recorder on the SDK clients; each request becomes the IAM action and
 * resource it needs (AWS's Service Authorization Reference), and the
 * synthesized prod policies must grant exactly that set: every request
 * covered, and no data-plane grant that no request used.
 */

// SDK command → IAM action. A command missing here fails the test: map it before an adapter may send it.
const ACTION_OF: Record<string, string> = {
  HeadObjectCommand: 's3:GetObject',
  GetObjectCommand: 's3:GetObject',
  PutObjectCommand: 's3:PutObject',
  CreateMultipartUploadCommand: 's3:PutObject',
  UploadPartCommand: 's3:PutObject',
  CompleteMultipartUploadCommand: 's3:PutObject',
  AbortMultipartUploadCommand: 's3:AbortMultipartUpload',
  ListObjectsV2Command: 's3:ListBucket',
  DeleteObjectsCommand: 's3:DeleteObject',
  GetObjectTaggingCommand: 's3:GetObjectTagging',
  PutObjectTaggingCommand: 's3:PutObjectTagging',
  GetItemCommand: 'dynamodb:GetItem',
  PutItemCommand: 'dynamodb:PutItem',
  UpdateItemCommand: 'dynamodb:UpdateItem',
  DeleteItemCommand: 'dynamodb:DeleteItem',
  InvokeCommand: 'lambda:InvokeFunction',
  RunTaskCommand: 'ecs:RunTask',
};

/** A needed permission: action plus resource, with the stack's tokens replaced by BUCKET, TABLE, FUNCTION:…, TASKDEF:…. */
type Need = string;

class Recorder {
  readonly needs = new Set<Need>();
  readonly unmapped = new Set<string>();

  need(command: string, input: Record<string, unknown>, missing: boolean): void {
    const action = ACTION_OF[command];
    if (!action) {
      this.unmapped.add(command);
      return;
    }
    if (command === 'DeleteObjectsCommand') {
      // One request, one s3:DeleteObject per key it names (AWS checks each).
      for (const o of (input.Delete as { Objects: { Key: string }[] }).Objects) this.needs.add(`${action} BUCKET/${o.Key}`);
    } else if (action.startsWith('s3:')) {
      this.needs.add(action === 's3:ListBucket' ? `${action} BUCKET` : `${action} BUCKET/${input.Key}`);
      // Reading a missing key answers 404 only to a caller that may list the bucket (403 otherwise), and has() relies on 404.
      if (missing) this.needs.add('s3:ListBucket BUCKET');
    } else if (action.startsWith('dynamodb:')) {
      this.needs.add(`${action} TABLE`);
    }
  }

  /** Adds a middleware that records every command the client sends, and whether it hit a missing key. */
  attach<C extends S3Client | DynamoDBClient>(client: C): C {
    const stack = client.middlewareStack as unknown as {
      add(m: (next: (a: unknown) => Promise<unknown>, context: { commandName: string }) => (a: { input: Record<string, unknown> }) => Promise<unknown>, o: object): void;
    };
    stack.add(
      (next, context) => async (args) => {
        try {
          const result = await next(args);
          this.need(context.commandName, args.input, false);
          return result;
        } catch (error) {
          const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          this.need(context.commandName, args.input, status === 404);
          throw error;
        }
      },
      { step: 'initialize', name: 'recordIamNeeds' },
    );
    return client;
  }

  /** Lambda and ECS have no local peer: a recorded client that answers like them. */
  controlPlane() {
    const lambda = {
      send: async (command: InvokeCommand) => {
        this.needs.add(`lambda:InvokeFunction FUNCTION:${command.input.FunctionName}`);
        return { StatusCode: 202 };
      },
    };
    const ecs = {
      send: async (command: RunTaskCommand) => {
        // RunTask with a family runs its latest revision; passing the task's roles is part of starting it.
        // IAM authorizes a family against the revision it resolves to (`family:N`).
        const taskDefinition = command.input.taskDefinition!;
        this.needs.add(`ecs:RunTask TASKDEF:${taskDefinition.includes(':') ? taskDefinition : `${taskDefinition}:<latest-revision>`}`);
        this.needs.add(`iam:PassRole ROLE:${command.input.taskDefinition}-task`);
        this.needs.add(`iam:PassRole ROLE:${command.input.taskDefinition}-execution`);
        return { tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/prod-brew-cluster/t' }] };
      },
    };
    return { lambda, ecs };
  }
}

// The prod stack's tokens, normalized the same way as the needs.
const PARTITION = '${data.aws_partition.partition.partition}';
const ACCOUNT = '${data.aws_caller_identity.account.account_id}';
function normalize(resource: string): string {
  return resource
    .replace('${aws_s3_bucket.bottle_store_store_bucket.arn}', 'BUCKET')
    .replace('${aws_dynamodb_table.state_table_table.arn}', 'TABLE')
    .replace('${aws_lambda_function.sync_worker_function.arn}', 'FUNCTION:prod-brew-sync-worker')
    .replace(`arn:${PARTITION}:lambda:us-east-1:${ACCOUNT}:function:`, 'FUNCTION:')
    .replace(`arn:${PARTITION}:ecs:us-east-1:${ACCOUNT}:task-definition/`, 'TASKDEF:')
    .replace(`arn:${PARTITION}:iam::${ACCOUNT}:role/`, 'ROLE:');
}

/** The (action, resource pattern) pairs a role's policy grants for the services the adapters call. */
function grants(role: string, env: NodeJS.ProcessEnv = {}): { action: string; pattern: string }[] {
  const statements = synthAll(env).prod.data!.aws_iam_policy_document[`${role}_permissions`].statement as { actions: string[]; resources: string[] }[];
  return statements
    .flatMap((s) => s.actions.flatMap((action) => s.resources.map((resource) => ({ action, pattern: normalize(resource) }))))
    .filter(({ action }) => /^(s3|dynamodb|lambda|ecs|iam):/.test(action));
}

const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
const covers = (g: { action: string; pattern: string }, need: Need) => {
  const [action, resource] = need.split(' ');
  return g.action === action && glob(g.pattern).test(resource);
};

function compare(role: string, needs: Set<Need>, env: NodeJS.ProcessEnv = {}) {
  const granted = grants(role, env);
  return {
    uncovered: [...needs].filter((need) => !granted.some((g) => covers(g, need))).sort(),
    unused: granted.filter((g) => ![...needs].some((need) => covers(g, need))).map((g) => `${g.action} ${g.pattern}`),
  };
}

let s3: LocalS3;
let dynamo: LocalDynamoDb;
let upstream: FixtureUpstream;
const key = testSigningKey();
const sync = new Recorder();
const mirror = new Recorder();
/** A mirror with pull-through on (issue #24), recorded apart: its role is the pull-through stack's. */
const pulling = new Recorder();
const quiet = jsonLogger({}, () => undefined);

function syncDeps(table: string, dispatch = sync.controlPlane()): DistributedDeps {
  const s3Client = sync.attach(s3.newClient());
  const dynamoClient = sync.attach(dynamo.newClient());
  const stores = awsStores(s3Client, s3.bucket, dynamoClient, table);
  return {
    upstream: new Upstream(),
    ...stores,
    // Keeping one generation makes every publish after the first delete one (issue #25, fault 9).
    housekeeping: new S3Housekeeping(s3Client, s3.bucket, stores.state),
    housekeepingPolicy: { ...DEFAULT_HOUSEKEEPING, keepGenerations: 1 },
    log: quiet,
    dispatcher: new AwsDispatcher(PROD_DISPATCH, dispatch.lambda, dispatch.ecs),
    transfer: { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined },
  };
}

const openssl = { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(40_000) }] };
const caCertificates = { name: 'ca-certificates', version: '2023-12-12', bottles: [{ tag: 'all', bytes: randomBytes(10_000) }] };
const wget = { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(20_000) }] };
const curl = { name: 'curl', version: '8.9.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(30_000) }] };
const jq = { name: 'jq', version: '1.7.1', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(25_000) }] };

/** The status of a complete response, or `cut` for one that ended early (a pull whose body failed its check). */
function getToClose(url: string): Promise<number | 'cut'> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('error', () => undefined);
        res.on('close', () => resolve(res.complete ? res.statusCode! : 'cut'));
      })
      .on('error', () => resolve('cut'));
  });
}
const options = (limits = DEFAULT_ROUTING) => ({ apiUrl: upstream.apiRoot, publicKey: key.publicKey, limits });

function get(url: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .request(url, { method, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject)
      .end();
  });
}

beforeAll(async () => {
  s3 = await startLocalS3('grants');
  dynamo = await startLocalDynamoDb();
  upstream = await startFixtureUpstream();
  await dynamo.createStateTable('prod-brew-state');

  // Sync: every flow the three sync workloads run.
  // 1. Workers: a batch with a corrupted download (the multipart upload is aborted and retried) and a hand-back.
  publishApi(upstream, [openssl, caCertificates, wget], key.privateKey);
  upstream.injectFaults(createHash('sha256').update(wget.bottles[0].bytes).digest('hex'), ['corrupt']);
  const deps = syncDeps('prod-brew-state');
  const invokes: { runId: string; batchId: string }[] = [];
  const dispatch = sync.controlPlane();
  const recordingLambda = {
    send: async (c: InvokeCommand) => {
      invokes.push(JSON.parse(Buffer.from(c.input.Payload as Uint8Array).toString('utf8')));
      return dispatch.lambda.send(c);
    },
  };
  const workerDeps = { ...deps, dispatcher: new AwsDispatcher(PROD_DISPATCH, recordingLambda, dispatch.ecs) };
  const run = await orchestrate(workerDeps, options());
  expect(run).toMatchObject({ outcome: 'dispatched', route: 'lambda' });
  let calls = 0;
  const batch = invokes.shift()!;
  await runWorkerBatch(workerDeps, batch.runId, batch.batchId, { remainingMs: () => (calls++ === 0 ? 900_000 : 60_000), concurrency: 1 });
  while (invokes.length > 0) {
    const next = invokes.shift()!;
    await runWorkerBatch(workerDeps, next.runId, next.batchId, { remainingMs: () => 900_000 });
  }
  expect((await deps.state.getPublished())?.generation).toBe(run.runId);

  // 2. The Fargate task: a bigger run interrupted by SIGTERM hands its rest to a successor task.
  publishApi(upstream, [openssl, caCertificates, curl], key.privateKey);
  const big = await orchestrate(deps, options({ ...DEFAULT_ROUTING, lambdaThresholdBytes: 1 }));
  expect(big).toMatchObject({ outcome: 'dispatched', route: 'fargate' });
  let started = 0;
  await runLargeSync(deps, big.runId, { stopping: () => started++ >= 1, concurrency: 1 });
  await runLargeSync(deps, big.runId, { stopping: () => false });

  // 3. The orchestrator alone: nothing to copy, so it publishes, marks curl orphaned and clears wget's mark; then the hourly report.
  publishApi(upstream, [openssl, caCertificates, wget], key.privateKey);
  expect(await orchestrate(deps, options())).toMatchObject({ outcome: 'finalized' });
  await reportFreshness(deps.state, noMetrics);

  // Mirror: every route, in both modes, including misses. A generation may name a blob the store lacks
  // (published within --max-missing, or not yet replicated to the DR region): that bottle must be a 404, not a 403.
  await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: blobKey(createHash('sha256').update(wget.bottles[0].bytes).digest('hex')) }));
  const s3Client = mirror.attach(s3.newClient());
  const dynamoClient = mirror.attach(dynamo.newClient());
  for (const mode of ['redirect', 'proxy'] as const) {
    const stores = awsStores(s3Client, s3.bucket, dynamoClient, 'prod-brew-state');
    const server = new MirrorServer({
      ...stores,
      log: quiet,
      limiter: new MemoryRateLimiter(), byteBudget: memoryByteBudget(),
      mode,
      presign: (sha256, expiresIn) => {
        // A presigned GET carries the mirror's identity: S3 checks s3:GetObject when the client follows it.
        mirror.needs.add(`s3:GetObject BUCKET/blobs/sha256/${sha256}`);
        return stores.blobs.presign(sha256, expiresIn);
      },
      pollMs: 60_000,
    });
    const port = await server.listen(0, '127.0.0.1');
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    try {
      for (const path of [
        '/api/formula.jws.json',
        '/api/internal/packages.arm64_sonoma.jws.json',
        '/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz',
        '/bottles/openssl/3/manifests/3.2.0_1',
        '/v2/homebrew/core/openssl/3/manifests/3.2.0_1',
        '/status',
        '/health/detailed',
      ]) {
        expect([200, 302]).toContain(await get(url(path)));
      }
      expect(await get(url('/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz'), 'HEAD')).toBeLessThan(400);
      // Both modes look the blob's size up (the byte budget charges it), so a missing blob is the mirror's 404, never a redirect to nothing.
      expect(await get(url('/bottles/wget-1.25.0.arm64_sonoma.bottle.tar.gz'))).toBe(404);
    } finally {
      await server.stop();
    }
  }

  // Pull-through (issue #24): a partial generation, then a mirror that pulls a bottle and its index from outside it:
  // once corrupt (the multipart upload is aborted), then whole (streamed through), then redirected like any other.
  publishApi(upstream, [openssl, caCertificates, wget, jq], key.privateKey);
  // The subset drops most of the published bottles: that is the point here, so the drop gate is lifted.
  expect(await orchestrate(deps, { ...options(), formulae: ['openssl@3'], maxDropPercent: 100 })).toMatchObject({ outcome: 'finalized' });
  const jqSha = createHash('sha256').update(jq.bottles[0].bytes).digest('hex');
  upstream.injectFaults(jqSha, ['corrupt']);
  const pullStores = awsStores(pulling.attach(s3.newClient()), s3.bucket, pulling.attach(dynamo.newClient()), 'prod-brew-state');
  const puller = new MirrorServer({
    ...pullStores,
    log: quiet,
    limiter: new MemoryRateLimiter(), byteBudget: memoryByteBudget(),
    mode: 'redirect',
    presign: (sha256, expiresIn) => {
      pulling.needs.add(`s3:GetObject BUCKET/blobs/sha256/${sha256}`);
      return pullStores.blobs.presign(sha256, expiresIn);
    },
    pollMs: 60_000,
    pullThrough: { upstream: new Upstream(), registryUrl: new URL(upstream.registryRoot).origin, breaker: new MemoryCircuitBreaker() },
  });
  const pullPort = await puller.listen(0, '127.0.0.1');
  try {
    const bottle = `http://127.0.0.1:${pullPort}/bottles/jq-1.7.1.arm64_sonoma.bottle.tar.gz`;
    expect(await getToClose(bottle)).toBe('cut'); // the body failed its digest
    expect(await getToClose(bottle)).toBe(200); // streamed through and kept
    expect(await getToClose(bottle)).toBe(302); // from the store
    expect(await getToClose(`http://127.0.0.1:${pullPort}/v2/homebrew/core/jq/manifests/1.7.1`)).toBe(200);
  } finally {
    await puller.stop();
  }
}, 120_000);

afterAll(async () => {
  await upstream.close();
  await s3.close();
  await dynamo.close();
});

describe('IAM grants match what the adapters send (prod stack)', () => {
  test('every command the adapters sent is mapped to its IAM action', () => {
    expect([...sync.unmapped, ...mirror.unmapped, ...pulling.unmapped]).toEqual([]);
    // The flows above exercised every adapter path that needs a distinct permission.
    expect([...sync.needs].map((n) => n.split(' ')[0])).toEqual(
      expect.arrayContaining(['s3:AbortMultipartUpload', 's3:PutObjectTagging', 's3:GetObjectTagging', 's3:ListBucket', 'dynamodb:DeleteItem', 'ecs:RunTask', 'lambda:InvokeFunction']),
    );
  });

  test.each([
    // Each sync role runs the engine's phases (prepare, transfer, finalize) and may start what its dispatcher starts.
    ['orchestrator_role', ['FUNCTION:prod-brew-sync-worker', 'TASKDEF:prod-brew-sync-task']],
    ['sync_worker_role', ['FUNCTION:prod-brew-sync-worker']],
    ['sync_task_task_role', ['TASKDEF:prod-brew-sync-task']],
  ])('%s: grants cover the sync’s requests and nothing more', (role, dispatchTargets) => {
    const dataPlane = [...sync.needs].filter((n) => n.startsWith('s3:') || n.startsWith('dynamodb:'));
    // Starting a task also passes its two roles.
    const targets = dispatchTargets.flatMap((t) => (t.startsWith('TASKDEF:') ? [t, `ROLE:${t.slice('TASKDEF:'.length)}-`] : [t]));
    const dispatch = [...sync.needs].filter((n) => targets.some((t) => n.includes(t)));
    const { uncovered, unused } = compare(role, new Set([...dataPlane, ...dispatch]));
    expect(uncovered).toEqual([]);
    expect(unused).toEqual([]);
  });

  test('mirror task role: grants cover the mirror’s reads and nothing more (no writes, nothing under runs/)', () => {
    const { uncovered, unused } = compare('mirror_task_task_role', mirror.needs);
    expect(uncovered).toEqual([]);
    expect(unused).toEqual([]);
    expect([...mirror.needs].filter((n) => !n.startsWith('s3:GetObject ') && !n.startsWith('s3:ListBucket ') && n !== 'dynamodb:GetItem TABLE')).toEqual([]);
  });

  test('mirror task role with pull-through on: grants cover its reads and the writes of what it pulled, nothing more (issue #24)', () => {
    const { uncovered, unused } = compare('mirror_task_task_role', pulling.needs, { HBS_PROD_PULL_THROUGH: 'true' });
    expect(uncovered).toEqual([]);
    expect(unused).toEqual([]);
    const writes = [...pulling.needs].filter((n) => !n.startsWith('s3:GetObject ') && !n.startsWith('s3:ListBucket ') && n !== 'dynamodb:GetItem TABLE');
    expect(writes.map((n) => n.replace(/[0-9a-f]{64}/, '<sha>')).sort()).toEqual([
      's3:AbortMultipartUpload BUCKET/blobs/sha256/<sha>',
      's3:PutObject BUCKET/blobs/sha256/<sha>',
      's3:PutObject BUCKET/manifests/jq/1.7.1',
    ]);
  });

  test('each role names the data key once, with the union of what its grants need', () => {
    for (const role of ['orchestrator_role', 'sync_worker_role', 'sync_task_task_role', 'mirror_task_task_role']) {
      const statements = synthAll().prod.data!.aws_iam_policy_document[`${role}_permissions`].statement as { sid: string; resources: string[] }[];
      expect(statements.filter((s) => s.resources.includes('${aws_kms_key.data_key_key.arn}')).map((s) => s.sid)).toEqual(['UseDataKey']);
    }
  });
});
