import { Construct } from 'constructs';
import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { STATE_TTL_ATTRIBUTE } from '../engine/runtime-config';
import { CustomerManagedKey } from './customer-managed-key';
import { ctx } from './environment-context';
import { Statement } from './policy-document';
import { Grantable } from './service-role';

export interface StateTableProps {
  /** CMK in the stack's region. */
  readonly key: CustomerManagedKey;
  /** Region of the global-table replica. */
  readonly replicaRegion: string;
  /** CMK in the replica region (a KMS key never leaves its region). */
  readonly replicaKey: CustomerManagedKey;
}

/**
 * The DynamoDB table for sync state: the run lease, the published-generation
 * pointer, run records and the finalize countdowns. On-demand billing, PITR
 * and deletion protection everywhere, plus a global-table replica with its own
 * key and PITR in the DR region.
 */
export class StateTable extends Construct {
  public readonly table: DynamodbTable;
  private readonly key: CustomerManagedKey;

  get tableName(): string {
    return this.table.name;
  }

  get tableArn(): string {
    return this.table.arn;
  }

  constructor(scope: Construct, id: string, props: StateTableProps) {
    super(scope, id);
    this.key = props.key;
    this.table = new DynamodbTable(this, 'table', {
      name: ctx(this).name('state'),
      billingMode: 'PAY_PER_REQUEST',
      hashKey: 'pk',
      rangeKey: 'sk',
      attribute: [
        { name: 'pk', type: 'S' },
        { name: 'sk', type: 'S' },
      ],
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: !ctx(this).teardown,
      serverSideEncryption: { enabled: true, kmsKeyArn: props.key.arn },
      // Global tables replicate through the stream.
      streamEnabled: true,
      streamViewType: 'NEW_AND_OLD_IMAGES',
      ttl: { attributeName: STATE_TTL_ATTRIBUTE, enabled: true },
      replica: [
        {
          regionName: props.replicaRegion,
          kmsKeyArn: props.replicaKey.arn,
          pointInTimeRecovery: true,
          propagateTags: true,
        },
      ],
    });
  }

  /** Exactly what `DynamoDbStateStore` sends for leases, the pointer flip, run records and countdowns. */
  grantStateStore(grantee: Grantable): void {
    grantee.addToPolicy(StateTable.stateStoreStatement(this.table.arn));
    // DynamoDB encrypts and decrypts with the table key on the caller's behalf.
    this.key.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
  }

  /** Exactly the item calls the state store sends, on this table or (after a promotion) its DR replica. */
  static stateStoreStatement(tableArn: string): Statement {
    return { sid: 'StateStore', actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], resources: [tableArn] };
  }

  /**
   * Token mode: the mirror lists the team tokens (one Query) and records their last use
   * (UpdateItem), on the `tokens` partition only (`dynamodb:LeadingKeys`).
   */
  static tokenStatement(tableArn: string): Statement {
    return {
      sid: 'TeamTokens',
      actions: ['dynamodb:Query', 'dynamodb:UpdateItem'],
      resources: [tableArn],
      condition: [{ test: 'ForAllValues:StringEquals', variable: 'dynamodb:LeadingKeys', values: ['tokens'] }],
    };
  }

  /** The mirror reads the published pointer and run records (`GetItem` only). */
  grantReadState(grantee: Grantable): void {
    grantee.addToPolicy({ sid: 'ReadState', actions: ['dynamodb:GetItem'], resources: [this.table.arn] });
    this.key.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey');
  }
}
