import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { WRITER_PIN_KEY } from '../../engine/adapters/aws/dynamodb-state-store';
import { errorKind } from '../../engine/errors';
import { jsonLogger } from '../../engine/logger';
import { AWS_RUN_LEASE } from '../../engine/sync/distributed';
import { runSync } from '../../engine/sync/run-sync';
import { NotTheWriterError, assertWriter } from '../../engine/sync/writer';
import { Upstream } from '../../engine/upstream/client';
import { assertAwsWriter, awsStores } from '../../engine/wiring/aws';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { LocalS3, startLocalS3 } from '../fixtures/s3';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';

/*
 * One writer across regions (issue #15). The global table is one table here
 * (dynalite): what matters is that both regions read the same pin. The
 * promoted region's sync runs against its own bucket (the replica), as the
 * promoted sync task does.
 */
let dynamo: LocalDynamoDb;
let replica: LocalS3;
let upstream: FixtureUpstream;
const key = testSigningKey();
const TABLE = 'prod-brew-state';
const quiet = jsonLogger({}, () => undefined);

beforeAll(async () => {
  dynamo = await startLocalDynamoDb();
  await dynamo.createStateTable(TABLE);
  replica = await startLocalS3('prod-brew-bottles-replica');
  upstream = await startFixtureUpstream();
  publishApi(upstream, [{ name: 'jq', version: '1.7.1', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(20_000) }] }], key.privateKey);
});
afterAll(async () => {
  await upstream.close();
  await replica.close();
  await dynamo.close();
});

const stores = () => awsStores(replica.client, replica.bucket, dynamo.client, TABLE);
const env = (role: string, region: string) => ({ HBS_WRITER_ROLE: role, AWS_REGION: region });

/** The promotion runbook's command (docs/operations.md) writes exactly this item (`aws dynamodb put-item`). */
const RUNBOOK_PIN_ITEM = '{"pk":{"S":"writer"},"sk":{"S":"pin"},"region":{"S":"us-west-2"},"since":{"S":"2026-11-27T12:00:00Z"},"reason":{"S":"us-east-1 outage"}}';

describe('the writer pin decides which region syncs', () => {
  test('no pin: the primary writes, the DR region’s promoted sync refuses', async () => {
    const { state } = stores();
    await state.pinWriter(undefined);
    await expect(assertAwsWriter(state, env('primary', 'us-east-1'))).resolves.toBeUndefined();
    const refused = assertAwsWriter(state, env('promoted', 'us-west-2'));
    await expect(refused).rejects.toThrow(/us-west-2 is not the writer: this is the DR region's promoted sync and no writer pin names us-west-2/);
  });

  test('the runbook’s put-item promotes the DR region: the primary now refuses, naming who writes, and the promoted sync publishes to the replica', async () => {
    const runbook = fs.readFileSync(path.resolve(__dirname, '../../docs/operations.md'), 'utf8');
    expect(runbook).toContain(`--item '${RUNBOOK_PIN_ITEM}'`);
    expect(JSON.parse(RUNBOOK_PIN_ITEM)).toMatchObject(WRITER_PIN_KEY);
    await dynamo.client.send(new PutItemCommand({ TableName: TABLE, Item: JSON.parse(RUNBOOK_PIN_ITEM) }));

    const { state, blobs, objects } = stores();
    const primary = assertAwsWriter(state, env('primary', 'us-east-1'));
    await expect(primary).rejects.toBeInstanceOf(NotTheWriterError);
    await expect(primary).rejects.toThrow(/us-east-1 is not the writer: the writer pin names us-west-2 \(since 2026-11-27T12:00:00Z, us-east-1 outage\)/);
    expect(errorKind(await primary.catch((e) => e))).toBe('local-environment');

    await assertAwsWriter(state, env('promoted', 'us-west-2'));
    const summary = await runSync({ upstream: new Upstream(), blobs, objects, state, log: quiet }, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, lease: AWS_RUN_LEASE });
    expect(summary).toMatchObject({ published: true, bottles: { transferred: 1 } });
    expect((await state.getPublished())?.generation).toBe(summary.generation);
  });

  test('fail back: the pin handed back to the primary region stops the promoted sync and lets the primary write again', async () => {
    const { state } = stores();
    await state.pinWriter({ region: 'us-east-1', since: '2026-11-29T08:00:00Z', reason: 'failed back' });
    await expect(assertWriter(state, 'primary', 'us-east-1')).resolves.toBeUndefined();
    await expect(assertWriter(state, 'promoted', 'us-west-2')).rejects.toThrow(/us-west-2 is not the writer: the writer pin names us-east-1/);
  });

  test('a role the stack never sets, or no region, is refused before anything is read', async () => {
    const { state } = stores();
    await expect(assertAwsWriter(state, env('secondary', 'us-east-1'))).rejects.toThrow('HBS_WRITER_ROLE must be one of primary, promoted, not "secondary"');
    await expect(assertAwsWriter(state, { HBS_WRITER_ROLE: 'primary' })).rejects.toThrow('missing required environment variable(s): AWS_REGION');
  });
});
