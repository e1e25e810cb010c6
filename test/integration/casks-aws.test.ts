import { createHash, randomBytes } from 'crypto';
import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { AwsDispatcher } from '../../engine/adapters/aws/dispatcher';
import { jsonLogger } from '../../engine/logger';
import { DistributedDeps, orchestrate, runLargeSync, runWorkerBatch } from '../../engine/sync/distributed';
import { DEFAULT_ROUTING } from '../../engine/sync/route';
import { Upstream } from '../../engine/upstream/client';
import { awsStores, casksFromEnv } from '../../engine/wiring/aws';
import { runKeys } from '../../engine/store-layout';
import { CASK_UNIT } from '../../engine/sync/contracts';
import { serveMirror } from '../fixtures/brew-client';
import { PROD_DISPATCH } from '../fixtures/dispatch';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { startPeers } from '../fixtures/peers';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { synthAll } from '../synth';

// Casks in AWS (issue #33) on the local peers: s3rver and dynalite hold the store and the state;
// Lambda Invoke and ECS RunTask have no peer, so their requests are recorded. A cask file may be
// several GB: the orchestrator hands the cask phase to the Fargate sync task, never to a Lambda.
const key = testSigningKey();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const APP = randomBytes(7000);

let s3: LocalS3;
let dynamo: LocalDynamoDb;
let upstream: FixtureUpstream;

beforeAll(async () => {
  [s3, dynamo, upstream] = await startPeers([startLocalS3('casks-aws'), startLocalDynamoDb(), startFixtureUpstream()]);
  const url = upstream.addVendorFile('app/App-3.1.dmg', APP);
  publishApi(upstream, [{ name: 'hello', version: '2.12', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(400) }] }], key.privateKey, {
    casks: [{ token: 'app', version: '3.1', files: { arm64_sonoma: { url, sha256: sha(APP) } } }],
  });
});

afterAll(async () => {
  await Promise.all([upstream?.close(), s3?.close(), dynamo?.close()]);
});

describe('casks in AWS', () => {
  test('the orchestrator hands the cask phase to one RunTask; the run publishes once it and the workers are done; the mirror serves the file', async () => {
    await dynamo.createStateTable('prod-brew-state-casks');
    const invokes: InvokeCommand[] = [];
    const runTasks: RunTaskCommand[] = [];
    const deps: DistributedDeps = {
      upstream: new Upstream(),
      ...awsStores(s3.client, s3.bucket, dynamo.client, 'prod-brew-state-casks'),
      log: jsonLogger({}, () => undefined),
      dispatcher: new AwsDispatcher(PROD_DISPATCH, { send: async (c: InvokeCommand) => (invokes.push(c), { StatusCode: 202 }) }, {
        send: async (c: RunTaskCommand) => (runTasks.push(c), { tasks: [{ taskArn: `arn:aws:ecs:us-east-1:123456789012:task/prod-brew-cluster/t${runTasks.length}` }] }),
      }),
      transfer: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined },
    };
    // What the orchestrator Lambda reads from the stack's variables.
    const options = casksFromEnv({ HBS_CASKS: 'app' });
    expect(options).toEqual({ casks: ['app'], allowUnpinnedCasks: [] });
    const result = await orchestrate(deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: ['arm64_sonoma'], ...options, limits: DEFAULT_ROUTING });
    expect(result).toMatchObject({ outcome: 'dispatched', route: 'lambda', batches: 1 });
    expect(runTasks).toHaveLength(1);
    expect(runTasks[0].input.overrides!.containerOverrides![0].environment).toEqual([
      { name: 'HBS_RUN_ID', value: result.runId },
      { name: 'HBS_SYNC_JOB', value: 'casks' },
    ]);
    expect(runTasks[0].input.startedBy).toBe(`sync-casks-${result.runId}`);
    // The orchestrator itself downloaded no cask file.
    expect(upstream.requests.filter((r) => r.origin === 'vendor')).toEqual([]);

    const batch = JSON.parse(Buffer.from(invokes[0].input.Payload as Uint8Array).toString('utf8')) as { runId: string; batchId: string };
    expect(await runWorkerBatch(deps, batch.runId, batch.batchId, { remainingMs: () => 900_000 })).toBeUndefined();
    expect(await deps.state.getPublished()).toBeUndefined();
    // SIGTERM (a Spot reclaim) during the cask phase: nothing is recorded, and a successor task is started for it.
    const stopped = new AbortController();
    stopped.abort();
    let asked = 0;
    expect(await runLargeSync(deps, result.runId, { job: 'casks', stopping: () => asked++ > 0, signal: stopped.signal })).toBeUndefined();
    expect(await deps.objects.getObject(runKeys.result(result.runId, CASK_UNIT))).toBeUndefined();
    expect(runTasks.map((t) => t.input.startedBy)).toEqual([`sync-casks-${result.runId}`, `sync-casks-${result.runId}`]);
    expect(await deps.state.getPublished()).toBeUndefined();
    const summary = await runLargeSync(deps, result.runId, { job: 'casks', stopping: () => false });
    expect(summary).toMatchObject({ published: true, generation: result.runId, casks: { files: 1, downloaded: { files: 1, bytes: APP.length }, failures: [] } });

    const { server, base } = await serveMirror(deps, 'redirect');
    try {
      const response = await fetch(`${base}/casks/${sha(APP)}`, { redirect: 'manual' });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toContain(sha(APP));
    } finally {
      await server.stop(0);
    }
  });

  test('the stack hands HBS_<ENV>_CASKS to the orchestrator, and sets nothing when there are none', () => {
    const stacks = synthAll({ HBS_DEV_CASKS: 'firefox,visual-studio-code', HBS_DEV_ALLOW_UNPINNED_CASKS: 'firefox' });
    const orchestrator = (stack: string) =>
      Object.values((stacks[stack] as any).resource.aws_lambda_function as Record<string, any>).find((f) => String(f.function_name).endsWith('-orchestrator'))!.environment.variables;
    expect(orchestrator('dev')).toMatchObject({ HBS_CASKS: 'firefox,visual-studio-code', HBS_ALLOW_UNPINNED_CASKS: 'firefox' });
    expect(orchestrator('prod').HBS_CASKS).toBeUndefined();
  });
});
