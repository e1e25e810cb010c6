import { Construct } from 'constructs';
import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';

export interface StateTableProps {
  readonly namePrefix: string;
  /** CMK in the stack's region. */
  readonly kmsKeyArn: string;
  /** Region of the global-table replica. */
  readonly replicaRegion: string;
  /** CMK in the replica region (a KMS key never leaves its region). */
  readonly replicaKmsKeyArn: string;
}

/** Attribute the sync engine sets (epoch seconds) on leases and other expiring items. */
export const STATE_TTL_ATTRIBUTE = 'expiresAt';

/**
 * The DynamoDB table for sync state: run records, the run lock, the
 * published-generation pointer and the per-blob inventory. On-demand
 * billing, PITR and deletion protection everywhere, plus a global-table
 * replica with its own key and PITR in the DR region.
 */
export class StateTable extends Construct {
  public readonly table: DynamodbTable;

  constructor(scope: Construct, id: string, props: StateTableProps) {
    super(scope, id);
    this.table = new DynamodbTable(this, 'table', {
      name: `${props.namePrefix}-state`,
      billingMode: 'PAY_PER_REQUEST',
      hashKey: 'pk',
      rangeKey: 'sk',
      attribute: [
        { name: 'pk', type: 'S' },
        { name: 'sk', type: 'S' },
      ],
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: true,
      serverSideEncryption: { enabled: true, kmsKeyArn: props.kmsKeyArn },
      // Global tables replicate through the stream.
      streamEnabled: true,
      streamViewType: 'NEW_AND_OLD_IMAGES',
      ttl: { attributeName: STATE_TTL_ATTRIBUTE, enabled: true },
      replica: [
        {
          regionName: props.replicaRegion,
          kmsKeyArn: props.replicaKmsKeyArn,
          pointInTimeRecovery: true,
          propagateTags: true,
        },
      ],
    });
  }
}
