import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { AwsDispatcher } from '../../engine/adapters/aws/dispatcher';
import { loadBrewRecord } from '../../engine/brew/brew-record';
import { BrewMirrorOptions } from '../../engine/brew/mirror-brew';
import { GitRunner, gitCli } from '../../engine/brew/git';
import { jsonLogger } from '../../engine/logger';
import { DistributedDeps, orchestrate, runLargeSync, runWorkerBatch } from '../../engine/sync/distributed';
import { DEFAULT_ROUTING } from '../../engine/sync/route';
import { Upstream } from '../../engine/upstream/client';
import { runKeys } from '../../engine/store-layout';
import { awsStores } from '../../engine/wiring/aws';
import { PROD_DISPATCH } from '../fixtures/dispatch';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { gitClient, serveMirror } from '../fixtures/brew-client';
import { GitUpstream, PortableRubyPin, startGitUpstream } from '../fixtures/git-upstream';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

// The AWS shape of the brew phase (issue #22) on the local peers: s3rver and dynalite hold the
// store and the state; Lambda Invoke and ECS RunTask have no peer, so their requests are recorded.
// Lambda has no git: the orchestrator hands the brew phase to the Fargate sync task.
const key = testSigningKey();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const INSTALL_SH = Buffer.from('#!/bin/bash\necho "install from ${HOMEBREW_BREW_GIT_REMOTE}"\n');

let s3: LocalS3;
let dynamo: LocalDynamoDb;
let upstream: FixtureUpstream;
let brew: GitUpstream;
let work: string;
let tables = 0;
const rubies = new Map<string, Buffer>();
let pins6018: PortableRubyPin[];

function ruby(platform: string, rubyTag: string): PortableRubyPin {
  const bytes = randomBytes(5000 + rubies.size);
  rubies.set(sha(bytes), bytes);
  upstream.addBlob('portable-ruby', bytes);
  return { platform, rubyTag, sha256: sha(bytes) };
}

let week = 0;
function newApiWeek(bottleBytes = 3000) {
  week++;
  publishApi(upstream, [{ name: 'wget', version: `1.25.${week}`, bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(bottleBytes) }] }], key.privateKey, {
    generatedAt: 1795000000 + week * 604800,
  });
}

const brewOptions = (): BrewMirrorOptions => ({ gitUrl: brew.url, registryUrl: new URL(upstream.registryRoot).origin, installScriptUrl: `${upstream.apiRoot}/install.sh` });

beforeAll(async () => {
  s3 = await startLocalS3('brew-aws');
  dynamo = await startLocalDynamoDb();
  upstream = await startFixtureUpstream();
  brew = await startGitUpstream();
  upstream.setApiFile('install.sh', INSTALL_SH);
  brew.release('6.0.17', '4.0.5', [ruby('arm64-darwin', 'arm64_big_sur'), ruby('x86_64-linux', 'x86_64_linux')]);
  pins6018 = [ruby('arm64-darwin', 'arm64_big_sur'), ruby('x86_64-linux', 'x86_64_linux')];
  brew.release('6.0.18', '4.0.6', pins6018);
});
afterAll(async () => {
  await upstream.close();
  await brew.close();
  await s3.close();
  await dynamo.close();
});
beforeEach(() => {
  newApiWeek();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'brew-aws-clone-'));
});

/** A fresh environment: its own table and bucket prefix-free store, recorded control-plane clients, and a git that counts its calls. */
async function environment() {
  const table = `prod-brew-state-brew-${++tables}`;
  await dynamo.createStateTable(table);
  const bucket = `${s3.bucket}`;
  const invokes: InvokeCommand[] = [];
  const runTasks: RunTaskCommand[] = [];
  const lambda = { send: async (c: InvokeCommand) => (invokes.push(c), { StatusCode: 202 }) };
  const ecs = { send: async (c: RunTaskCommand) => (runTasks.push(c), { tasks: [{ taskArn: `arn:aws:ecs:us-east-1:123456789012:task/prod-brew-cluster/t${runTasks.length}` }] }) };
  const gitCalls: string[][] = [];
  const realGit = gitCli(brew.url);
  const git: GitRunner = (args, options) => (gitCalls.push([...args]), realGit(args, options));
  const stores = awsStores(s3.client, bucket, dynamo.client, table);
  await emptyBucket();
  const deps: DistributedDeps = {
    upstream: new Upstream(),
    ...stores,
    log: jsonLogger({}, () => undefined),
    dispatcher: new AwsDispatcher(PROD_DISPATCH, lambda, ecs),
    transfer: { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined },
    brewPhase: { git },
  };
  const payloads = () => invokes.map((c) => JSON.parse(Buffer.from(c.input.Payload as Uint8Array).toString('utf8')) as { runId: string; batchId: string });
  const taskEnvironment = (i: number) => runTasks[i].input.overrides!.containerOverrides![0].environment;
  return { deps, invokes, runTasks, payloads, taskEnvironment, gitCalls };
}

/** One bucket serves every test: each starts from an empty one (the state table is new per test). */
async function emptyBucket() {
  const { ListObjectsV2Command, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  for (;;) {
    const listing = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    if (!listing.Contents?.length) return;
    for (const o of listing.Contents) await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: o.Key! }));
  }
}

const serve = (deps: DistributedDeps, mode: 'proxy' | 'redirect') => serveMirror(deps, mode);
const git = gitClient;

/** Orchestrator, then every worker batch, then the brew task: one weekly run as AWS runs it. */
async function weeklyRun(env: Awaited<ReturnType<typeof environment>>) {
  const tasksBefore = env.runTasks.length;
  const invokesBefore = env.invokes.length;
  const result = await orchestrate(env.deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, brew: brewOptions(), limits: DEFAULT_ROUTING });
  expect(result).toMatchObject({ outcome: 'dispatched', route: 'lambda', batches: 1 });
  for (const p of env.payloads().slice(invokesBefore)) expect(await runWorkerBatch(env.deps, p.runId, p.batchId, { remainingMs: () => 900_000 })).toBeUndefined();
  expect(env.runTasks).toHaveLength(tasksBefore + 1);
  const summary = await runLargeSync(env.deps, result.runId, { job: 'brew', stopping: () => false });
  return { runId: result.runId, summary };
}

describe('brew in AWS: the orchestrator hands the brew phase to the sync task; a real git client reads brew.git from the AWS mirror', () => {
  test('bottles go to worker Lambdas, brew to one RunTask; the run publishes once both are done, and git clone and fetch --tags work through the mirror', async () => {
    const env = await environment();
    const result = await orchestrate(env.deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, brew: brewOptions(), limits: DEFAULT_ROUTING });
    expect(result).toMatchObject({ outcome: 'dispatched', route: 'lambda', batches: 1 });
    // Lambda has no git: the orchestrator never ran it, and the task is told to run only the brew phase.
    expect(env.gitCalls).toEqual([]);
    expect(env.runTasks).toHaveLength(1);
    expect(env.taskEnvironment(0)).toEqual([
      { name: 'HBS_RUN_ID', value: result.runId },
      { name: 'HBS_SYNC_JOB', value: 'brew' },
    ]);
    expect(env.runTasks[0].input.startedBy).toBe(`sync-brew-${result.runId}`);

    // The worker finishes first: the brew phase still counts, so nothing is published yet.
    const [batch] = env.payloads();
    expect(await runWorkerBatch(env.deps, batch.runId, batch.batchId, { remainingMs: () => 900_000 })).toBeUndefined();
    expect(await env.deps.state.getPublished()).toBeUndefined();

    const summary = await runLargeSync(env.deps, result.runId, { job: 'brew', stopping: () => false });
    expect(summary).toMatchObject({ published: true, generation: result.runId, bottles: { transferred: 1 } });
    expect(summary!.brew).toMatchObject({ head: brew.git('rev-parse', 'master'), releases: ['6.0.18', '6.0.17', 'master'], failures: [] });
    expect((await env.deps.state.getPublished())!.brewReleases).toEqual(['6.0.18', '6.0.17', 'master']);
    expect(env.gitCalls.map((args) => args[0])).toContain('fetch');

    const { server, base } = await serve(env.deps, 'redirect');
    try {
      await git(work, 'clone', '--quiet', `${base}/brew.git`, 'brew');
      const clone = path.join(work, 'brew');
      expect(await git(clone, 'tag', '--list')).toBe('6.0.17\n6.0.18');
      await git(clone, 'checkout', '--quiet', '6.0.18');
      expect(fs.readFileSync(path.join(clone, 'Library/Homebrew/vendor/portable-ruby-version'), 'utf8')).toBe('4.0.6\n');

      // A new upstream release and the next weekly run: the task fetches it, the clone finds it.
      brew.release('6.0.19', '4.0.6', pins6018);
      newApiWeek();
      const second = await weeklyRun(env);
      expect(second.summary).toMatchObject({ published: true });
      expect(second.summary!.brew!.releases[0]).toBe('6.0.19');
      await server.refresh();
      await git(clone, 'fetch', '--quiet', '--force', '--tags', 'origin');
      expect(await git(clone, 'tag', '--list')).toContain('6.0.19');
      expect(await git(clone, 'rev-parse', '6.0.19^{commit}')).toBe(brew.git('rev-parse', '6.0.19^{commit}'));
    } finally {
      await server.stop(0);
    }
  });

  test('portable Ruby from the S3 store: both URL forms, the pinned bytes; install.sh byte for byte', async () => {
    const env = await environment();
    const { summary } = await weeklyRun(env);
    const record = (await loadBrewRecord(env.deps.objects, summary!.generation!))!;
    const { server, base } = await serve(env.deps, 'proxy');
    try {
      for (const pin of record.releases.flatMap((r) => r.rubies)) {
        const byDigest = Buffer.from(await (await fetch(`${base}/v2/homebrew/core/portable-ruby/blobs/sha256:${pin.sha256}`)).arrayBuffer());
        expect(sha(byDigest)).toBe(pin.sha256);
        const flat = await fetch(`${base}/bottles/${pin.file}`);
        expect(flat.status).toBe(200);
        expect(Buffer.from(await flat.arrayBuffer()).equals(rubies.get(pin.sha256)!)).toBe(true);
      }
      expect(Buffer.from(await (await fetch(`${base}/install.sh`)).arrayBuffer()).equals(INSTALL_SH)).toBe(true);
    } finally {
      await server.stop(0);
    }
  });

  test('nothing new to copy still mirrors brew: the whole run goes to the task, which publishes', async () => {
    const env = await environment();
    await weeklyRun(env);
    // A new signed API whose bottles are all stored: no batches, only the brew phase.
    const published = (await env.deps.state.getPublished())!;
    publishApi(upstream, [], key.privateKey, { generatedAt: 1795000000 + ++week * 604800 });
    const result = await orchestrate(env.deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, brew: brewOptions(), limits: DEFAULT_ROUTING, maxDropPercent: 100 });
    expect(result).toMatchObject({ outcome: 'dispatched', route: 'fargate', batches: 0 });
    expect(env.taskEnvironment(env.runTasks.length - 1)).toEqual([
      { name: 'HBS_RUN_ID', value: result.runId },
      { name: 'HBS_SYNC_JOB', value: 'brew' },
    ]);
    const summary = await runLargeSync(env.deps, result.runId, { job: 'brew', stopping: () => false });
    expect(summary).toMatchObject({ published: true });
    expect((await env.deps.state.getPublished())!.generation).not.toBe(published.generation);
  });

  test('over the threshold: one task copies the bottles and then mirrors brew, with only the run id', async () => {
    const env = await environment();
    const result = await orchestrate(env.deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, brew: brewOptions(), limits: { ...DEFAULT_ROUTING, lambdaThresholdBytes: 1 } });
    expect(result).toMatchObject({ outcome: 'dispatched', route: 'fargate', batches: 1 });
    expect(env.invokes).toEqual([]);
    expect(env.taskEnvironment(0)).toEqual([{ name: 'HBS_RUN_ID', value: result.runId }]);
    const summary = await runLargeSync(env.deps, result.runId, { stopping: () => false });
    expect(summary).toMatchObject({ published: true, bottles: { transferred: 1 }, brew: { releases: expect.arrayContaining(['6.0.18']) } });
  });

  test('a brew phase that fails in the task ends the run at once: nothing published, the reason recorded, the last mirror served', async () => {
    const env = await environment();
    await weeklyRun(env);
    const published = (await env.deps.state.getPublished())!;
    upstream.setApiFile('install.sh', undefined);
    newApiWeek();
    try {
      const { runId, summary } = await weeklyRun(env);
      expect(summary).toMatchObject({ published: false, error: expect.stringMatching(/^brew: .*install\.sh: HTTP 404/) });
      expect((await env.deps.state.getPublished())!.generation).toBe(published.generation);
      expect(await env.deps.state.getRun(runId)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^brew: /) });
      expect(await env.deps.state.acquireLease('sync', 'next-run', 1000)).toBe(true); // released, not left to lapse
    } finally {
      upstream.setApiFile('install.sh', INSTALL_SH);
    }
  });

  test('SIGTERM during the brew phase stops git, records nothing, and starts a successor task for the brew phase, which publishes', async () => {
    const env = await environment();
    const result = await orchestrate(env.deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, brew: brewOptions(), limits: DEFAULT_ROUTING });
    const [batch] = env.payloads();
    await runWorkerBatch(env.deps, batch.runId, batch.batchId, { remainingMs: () => 900_000 });
    const interrupted = new AbortController();
    // SIGTERM arrives while git fetches.
    const slowGit: GitRunner = (args, options) => {
      if (args.includes('fetch')) setImmediate(() => interrupted.abort());
      return gitCli(brew.url)(args, options);
    };
    const stopped = await runLargeSync({ ...env.deps, brewPhase: { git: slowGit } }, result.runId, {
      job: 'brew',
      stopping: () => interrupted.signal.aborted,
      signal: interrupted.signal,
    });
    expect(stopped).toBeUndefined();
    expect(await env.deps.objects.getObject(runKeys.result(result.runId, 'brew'))).toBeUndefined();
    expect(await env.deps.state.getPublished()).toBeUndefined();
    expect(env.runTasks).toHaveLength(2);
    expect(env.taskEnvironment(1)).toEqual(env.taskEnvironment(0)); // same run, brew job
    const successor = await runLargeSync(env.deps, result.runId, { job: 'brew', stopping: () => false });
    expect(successor).toMatchObject({ published: true });
  });
});
