import { randomBytes } from 'crypto';
import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { AwsDispatcher } from '../../engine/adapters/aws/dispatcher';
import { jsonLogger } from '../../engine/logger';
import { DistributedDeps, orchestrate, runLargeSync, runWorkerBatch } from '../../engine/sync/distributed';
import { DEFAULT_ROUTING } from '../../engine/sync/route';
import { Upstream } from '../../engine/upstream/client';
import { awsStores, tapsFromEnv } from '../../engine/wiring/aws';
import { runKeys } from '../../engine/store-layout';
import { TAP_UNIT } from '../../engine/sync/contracts';
import { loadTapRecord } from '../../engine/taps/tap-record';
import { serveMirror } from '../fixtures/brew-client';
import { PROD_DISPATCH } from '../fixtures/dispatch';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { startPeers } from '../fixtures/peers';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { TapUpstream, payload, startTapUpstream } from '../fixtures/tap-upstream';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { synthAll } from '../synth';

// Taps in AWS (issue #34) on the local peers: s3rver and dynalite hold the store and the state;
// Lambda Invoke and ECS RunTask have no peer, so their requests are recorded. A tap needs git and
// Ruby on WASI, and its downloads may be large: the orchestrator hands the tap phase to the sync task.
const key = testSigningKey();

let s3: LocalS3;
let dynamo: LocalDynamoDb;
let upstream: FixtureUpstream;
let tap: TapUpstream;

beforeAll(async () => {
  [s3, dynamo, upstream] = await startPeers([startLocalS3('taps-aws'), startLocalDynamoDb(), startFixtureUpstream()]);
  publishApi(upstream, [{ name: 'hello', version: '2.12', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(400) }] }], key.privateKey);
  tap = await startTapUpstream(upstream);
});

afterAll(async () => {
  await Promise.all([tap?.close(), upstream?.close(), s3?.close(), dynamo?.close()]);
});

describe('taps in AWS', () => {
  test('the orchestrator hands the tap phase to one RunTask; the run publishes once it and the workers are done; the mirror serves the tap and its files', async () => {
    await dynamo.createStateTable('prod-brew-state-taps');
    const invokes: InvokeCommand[] = [];
    const runTasks: RunTaskCommand[] = [];
    const deps: DistributedDeps = {
      upstream: new Upstream(),
      ...awsStores(s3.client, s3.bucket, dynamo.client, 'prod-brew-state-taps'),
      log: jsonLogger({}, () => undefined),
      dispatcher: new AwsDispatcher(PROD_DISPATCH, { send: async (c: InvokeCommand) => (invokes.push(c), { StatusCode: 202 }) }, {
        send: async (c: RunTaskCommand) => (runTasks.push(c), { tasks: [{ taskArn: `arn:aws:ecs:us-east-1:123456789012:task/prod-brew-cluster/t${runTasks.length}` }] }),
      }),
      transfer: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined },
    };
    // What the orchestrator Lambda reads from the stack's variables.
    const options = tapsFromEnv({ HBS_TAPS: `acme/tools=${tap.url}`, HBS_TAPS_PUBLIC_URL: 'https://brew.example.org' });
    expect(options).toEqual({ taps: [{ name: 'acme/tools', remote: tap.url }], publicUrl: 'https://brew.example.org' });
    const result = await orchestrate(deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: ['arm64_sonoma'], formulae: ['hello'], ...options, limits: DEFAULT_ROUTING });
    expect(result).toMatchObject({ outcome: 'dispatched', route: 'lambda', batches: 1 });
    expect(runTasks.map((t) => t.input.overrides!.containerOverrides![0].environment)).toEqual([
      [
        { name: 'HBS_RUN_ID', value: result.runId },
        { name: 'HBS_SYNC_JOB', value: 'taps' },
      ],
    ]);
    // The orchestrator neither fetched the tap nor downloaded anything (nothing was published before, so it read no refs either).
    expect(upstream.requests.filter((r) => r.origin === 'vendor')).toEqual([]);
    expect(tap.requests).toEqual([]);

    const batch = JSON.parse(Buffer.from(invokes[0].input.Payload as Uint8Array).toString('utf8')) as { runId: string; batchId: string };
    expect(await runWorkerBatch(deps, batch.runId, batch.batchId, { remainingMs: () => 900_000 })).toBeUndefined();
    // SIGTERM before the tap phase: nothing recorded, a successor task is started for it.
    const stopped = new AbortController();
    stopped.abort();
    expect(await runLargeSync(deps, result.runId, { job: 'taps', stopping: () => true, signal: stopped.signal })).toBeUndefined();
    expect(await deps.objects.getObject(runKeys.result(result.runId, TAP_UNIT))).toBeUndefined();
    expect(runTasks.map((t) => t.input.startedBy)).toEqual([`sync-taps-${result.runId}`, `sync-taps-${result.runId}`]);
    const summary = await runLargeSync(deps, result.runId, { job: 'taps', stopping: () => false });
    expect(summary).toMatchObject({ published: true, generation: result.runId, taps: { taps: 1, mirrored: 4 } });

    const record = (await loadTapRecord(deps.objects, result.runId))!;
    const cli = record.taps[0].downloads.find((d) => d.key.endsWith('acme-cli_1.4.2_darwin_arm64.zip'))!;
    const { server, base } = await serveMirror(deps, 'redirect');
    try {
      // The download is redirected to the store, as bottles are; the tap's git files are streamed.
      const response = await fetch(`${base}/dl/${cli.key}`, { redirect: 'manual' });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toContain(cli.sha256);
      expect((await fetch(`${base}/taps/acme/tools.git/info/refs`)).status).toBe(200);
      expect(payload('acme-cli/1.4.2/acme-cli_1.4.2_darwin_arm64.zip').length).toBe(cli.size);
    } finally {
      await server.stop(0);
    }
  }, 120_000);

  test('the stack hands HBS_<ENV>_TAPS and its public URL to the orchestrator, refuses a malformed one, and sets nothing when there are none', () => {
    const stacks = synthAll({ HBS_PROD_TAPS: 'hashicorp/tap,acme/tools=https://git.example.org/acme/homebrew-tools.git' });
    const orchestrator = (stack: string) =>
      Object.values((stacks[stack] as any).resource.aws_lambda_function as Record<string, any>).find((f) => String(f.function_name).endsWith('-orchestrator'))!.environment.variables;
    expect(orchestrator('prod')).toMatchObject({
      HBS_TAPS: 'acme/tools=https://git.example.org/acme/homebrew-tools.git,hashicorp/tap=https://github.com/hashicorp/homebrew-tap',
      HBS_TAPS_PUBLIC_URL: expect.stringMatching(/^https:\/\/[a-z0-9.-]+$/),
    });
    expect(orchestrator('dev').HBS_TAPS).toBeUndefined();
    expect(() => synthAll({ HBS_DEV_TAPS: 'not a tap' })).toThrow(/HBS_DEV_TAPS: not a tap name/);
  });
});
