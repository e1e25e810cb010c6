import {
  AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { AcquireOptions, LeaseState, PublishedGeneration, RunRecord, StateStore, WriterPin } from '../../ports';
import { STATE_TTL_ATTRIBUTE } from '../../runtime-config';

/** TTL attribute of the state table (epoch seconds); see constructs/state-table.ts. */
/** Run records are kept for a year, then DynamoDB's TTL removes them. */
const RUN_RETENTION_SECONDS = 365 * 24 * 60 * 60;

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException';

const s = (value: string): AttributeValue => ({ S: value });
/** The writer pin's item; the promotion runbook (docs/operations.md) writes it with `aws dynamodb put-item`. */
export const WRITER_PIN_KEY = { pk: { S: 'writer' }, sk: { S: 'pin' } } as const;
const n = (value: number): AttributeValue => ({ N: String(value) });

/**
 * Sync state in the DynamoDB table (`pk`/`sk` keys):
 *
 * | pk              | sk        | holds                                   |
 * | --------------- | --------- | --------------------------------------- |
 * | `lease#<name>`  | `lease`   | owner, leaseUntilMs, holder, expiresAt (TTL) |
 * | `published`     | `pointer` | the served generation (JSON)            |
 * | `run#<runId>`   | `run`     | the run record (JSON), expiresAt (TTL)  |
 * | `run#latest`    | `run`     | a copy of the most recent run record    |
 * | `run#<runId>`   | `countdown` | outstanding batches (atomic ADD)      |
 * | `writer`        | `pin`     | region, since, reason: the writer pin   |
 *
 * Every write that decides something (taking a lease, flipping the pointer)
 * is a single conditional write, so concurrent workers and regions agree.
 */
export class DynamoDbStateStore implements StateStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  private leaseKey(name: string) {
    return { pk: s(`lease#${name}`), sk: s('lease') };
  }

  async acquireLease(name: string, owner: string, ttlMs: number, options: AcquireOptions = {}): Promise<boolean> {
    const now = this.now();
    const takeOver = options.takeOverFrom !== undefined;
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            ...this.leaseKey(name),
            owner: s(owner),
            leaseUntilMs: n(now + ttlMs),
            ...(options.holder ? { holder: s(JSON.stringify(options.holder)) } : {}),
            [STATE_TTL_ATTRIBUTE]: n(Math.ceil((now + ttlMs) / 1000) + 3600),
          },
          ConditionExpression: `attribute_not_exists(pk) OR leaseUntilMs < :now OR #owner = :owner${takeOver ? ' OR #owner = :previous' : ''}`,
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': n(now), ':owner': s(owner), ...(takeOver ? { ':previous': s(options.takeOverFrom!) } : {}) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async readLease(name: string): Promise<LeaseState | undefined> {
    const { Item } = await this.db.send(new GetItemCommand({ TableName: this.table, Key: this.leaseKey(name), ConsistentRead: true }));
    if (!Item) return undefined;
    return { owner: Item.owner?.S ?? null, expiresAtMs: Number(Item.leaseUntilMs?.N ?? 0), holder: Item.holder?.S ? JSON.parse(Item.holder.S) : undefined };
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const until = this.now() + ttlMs;
    try {
      await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.leaseKey(name),
          UpdateExpression: 'SET leaseUntilMs = :until, #ttl = :ttl',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner', '#ttl': STATE_TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':until': n(until), ':ttl': n(Math.ceil(until / 1000) + 3600), ':owner': s(owner) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: this.leaseKey(name),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': s(owner) },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async readWriterPin(): Promise<WriterPin | undefined> {
    const { Item } = await this.db.send(new GetItemCommand({ TableName: this.table, Key: WRITER_PIN_KEY, ConsistentRead: true }));
    if (!Item?.region?.S) return undefined;
    return { region: Item.region.S, since: Item.since?.S ?? '', ...(Item.reason?.S ? { reason: Item.reason.S } : {}) };
  }

  async pinWriter(pin: WriterPin | undefined): Promise<void> {
    if (!pin) {
      await this.db.send(new DeleteItemCommand({ TableName: this.table, Key: WRITER_PIN_KEY }));
      return;
    }
    const item = { ...WRITER_PIN_KEY, region: s(pin.region), since: s(pin.since), ...(pin.reason ? { reason: s(pin.reason) } : {}) };
    await this.db.send(new PutItemCommand({ TableName: this.table, Item: item }));
  }

  async getPublished(): Promise<PublishedGeneration | undefined> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: s('published'), sk: s('pointer') }, ConsistentRead: true }),
    );
    return Item?.body?.S ? (JSON.parse(Item.body.S) as PublishedGeneration) : undefined;
  }

  async setPublished(next: PublishedGeneration, expected: string | undefined): Promise<boolean> {
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: s('published'), sk: s('pointer'), generation: s(next.generation), body: s(JSON.stringify(next)) },
          ...(expected === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'generation = :expected', ExpressionAttributeValues: { ':expected': s(expected) } }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async putRun(run: RunRecord): Promise<void> {
    await Promise.all([run.runId, 'latest'].map((id) => this.writeRun(id, run)));
  }

  async latestRun(): Promise<RunRecord | undefined> {
    return this.getRun('latest');
  }

  private async writeRun(id: string, run: RunRecord): Promise<void> {
    await this.db.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: s(`run#${id}`),
          sk: s('run'),
          status: s(run.status),
          body: s(JSON.stringify(run)),
          [STATE_TTL_ATTRIBUTE]: n(Math.ceil(this.now() / 1000) + RUN_RETENTION_SECONDS),
        },
      }),
    );
  }

  async startCountdown(runId: string, outstanding: number): Promise<void> {
    await this.db.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: s(`run#${runId}`),
          sk: s('countdown'),
          outstanding: n(outstanding),
          [STATE_TTL_ATTRIBUTE]: n(Math.ceil(this.now() / 1000) + RUN_RETENTION_SECONDS),
        },
      }),
    );
  }

  async addToCountdown(runId: string, delta: number): Promise<number> {
    const { Attributes } = await this.db.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: s(`run#${runId}`), sk: s('countdown') },
        UpdateExpression: 'ADD outstanding :delta',
        ExpressionAttributeValues: { ':delta': n(delta) },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(Attributes?.outstanding?.N ?? 0);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const { Item } = await this.db.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: s(`run#${runId}`), sk: s('run') }, ConsistentRead: true }),
    );
    return Item?.body?.S ? (JSON.parse(Item.body.S) as RunRecord) : undefined;
  }
}
