import { AttributeValue, ConditionalCheckFailedException, DynamoDBClient, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { TeamToken } from '../../keys/team-token';
import { TokenStore } from '../../ports';

const s = (value: string): AttributeValue => ({ S: value });
const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException';

/**
 * Team tokens in the state table, beside the sync state: pk `tokens`, sk the
 * token's id; `record` holds the record (the secret's sha256, never the
 * token), and `revokedAt` and `lastUsedAt` are attributes of their own, so a
 * use recorded while a revoke is written cannot undo it. One Query lists them
 * all (a fleet has tens of teams, not thousands). The items have no TTL: an
 * expired token stays listed until revoked.
 */
export class DynamoDbTokenStore implements TokenStore {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly table: string,
  ) {}

  async putToken(token: TeamToken): Promise<void> {
    await this.db.send(
      new PutItemCommand({ TableName: this.table, Item: { pk: s('tokens'), sk: s(token.id), record: s(JSON.stringify(token)) }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
  }

  async listTokens(): Promise<TeamToken[]> {
    const tokens: TeamToken[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': s('tokens') }, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) {
        const record = JSON.parse(item.record?.S ?? '{}') as TeamToken;
        tokens.push({ ...record, ...(item.revokedAt?.S ? { revokedAt: item.revokedAt.S } : {}), ...(item.lastUsedAt?.S ? { lastUsedAt: item.lastUsedAt.S } : {}) });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return tokens.sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: s('tokens'), sk: s(id) },
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :at)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': s(at) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordTokenUse(id: string, at: string): Promise<void> {
    await this.db
      .send(new UpdateItemCommand({ TableName: this.table, Key: { pk: s('tokens'), sk: s(id) }, UpdateExpression: 'SET lastUsedAt = :at', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':at': s(at) } }))
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }
}
