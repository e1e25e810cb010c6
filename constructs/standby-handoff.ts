import { Construct } from 'constructs';
import { Fn, TerraformProvider } from 'cdktf';
import { DataAwsEcrRepository } from '@cdktf/provider-aws/lib/data-aws-ecr-repository';
import { DataAwsSsmParameter } from '@cdktf/provider-aws/lib/data-aws-ssm-parameter';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { STANDBY_MIRROR_SERVICE_ENV } from '../engine/runtime-config';
import { BottleStore } from './bottle-store';
import { StateTable } from './state-table';
import { ctx } from './environment-context';
import { ImageRepository } from './fargate-task-definition';
import { Grantable } from './service-role';

/**
 * The primary stack and the standby stack (issue #15) have separate states,
 * so the standby can be changed while the primary region is down. What the
 * standby needs from the primary's DR-region resources (the bottle-store
 * replica's name, the table's name, the replicas' key) is handed over in one
 * SSM parameter in the DR region: the standby reads nothing from the primary
 * region, at plan time or at run time.
 */
const parameterName = (environment: string): string => `/${environment}-brew/standby/replicas`;

interface Handoff {
  readonly bucket: string;
  readonly bucket_arn: string;
  readonly table: string;
  readonly key_arn: string;
  readonly mirror_repository: string;
  readonly sync_repository: string;
}

export interface StandbyHandoffProps extends Readonly<Record<'bucketName' | 'bucketArn' | 'tableName' | 'replicaKeyArn' | 'mirrorRepositoryName' | 'syncRepositoryName', string>> {
  /** Provider of the DR region. */
  readonly provider: TerraformProvider;
}

/** Primary side: writes the handoff parameter in the DR region. */
export class StandbyHandoff extends Construct {
  public readonly parameter: SsmParameter;

  constructor(scope: Construct, id: string, props: StandbyHandoffProps) {
    super(scope, id);
    const value: Handoff = {
      bucket: props.bucketName,
      bucket_arn: props.bucketArn,
      table: props.tableName,
      key_arn: props.replicaKeyArn,
      mirror_repository: props.mirrorRepositoryName,
      sync_repository: props.syncRepositoryName,
    };
    this.parameter = new SsmParameter(this, 'parameter', {
      name: parameterName(ctx(this).environment),
      description: 'What the DR standby reads: the bottle-store replica, the state table and their key (not secret)',
      type: 'String',
      insecureValue: Fn.jsonencode(value),
      provider: props.provider,
    });
  }
}

/**
 * Standby side: the replicas the standby mirror serves from, read from the
 * handoff parameter, and the replicated mirror image repository.
 */
export class ReplicaData extends Construct {
  public readonly bucketName: string;
  public readonly bucketArn: string;
  public readonly tableName: string;
  public readonly keyArn: string;
  public readonly mirrorImages: ImageRepository;
  private syncRepository?: ImageRepository;

  private readonly handoff: DataAwsSsmParameter;

  private field(name: keyof Handoff): string {
    return Fn.lookup(Fn.jsondecode(this.handoff.insecureValue), name);
  }

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const handoff = new DataAwsSsmParameter(this, 'handoff', { name: parameterName(ctx(this).environment) });
    this.handoff = handoff;
    this.bucketName = this.field('bucket');
    this.bucketArn = this.field('bucket_arn');
    this.tableName = this.field('table');
    this.keyArn = this.field('key_arn');
    // ECR creates the replicated repository on the first replicated push, with the source's name.
    this.mirrorImages = new DataAwsEcrRepository(this, 'mirror-images', { name: this.field('mirror_repository') });
  }

  /** The table replica in this region (a global table's replicas share its name). */
  get tableArn(): string {
    return ctx(this).arn('dynamodb', `table/${this.tableName}`);
  }

  /** The replicated sync image, for a promoted sync (looked up only then: nothing else runs it here). */
  get syncImages(): ImageRepository {
    this.syncRepository ??= new DataAwsEcrRepository(this, 'sync-images', { name: this.field('sync_repository') });
    return this.syncRepository;
  }

  /** The variables the standby mirror reads (`STANDBY_MIRROR_SERVICE_ENV`) to find the replicas. */
  get mirrorEnvironment(): Record<string, string> {
    return {
      [STANDBY_MIRROR_SERVICE_ENV.environment]: ctx(this).environment,
      [STANDBY_MIRROR_SERVICE_ENV.bottleBucket]: this.bucketName,
      [STANDBY_MIRROR_SERVICE_ENV.stateTable]: this.tableName,
      [STANDBY_MIRROR_SERVICE_ENV.standby]: 'true',
    };
  }

  /** Read what the mirror serves from the bucket replica, the pointer from the table replica, decrypt both. */
  grantMirror(_scope: Construct, grantee: Grantable, _securityGroup: SecurityGroup, options: { readonly pullThrough?: boolean; readonly tokens?: boolean } = {}): void {
    if (options.pullThrough) throw new Error('the standby serves the DR replica, which only replication writes: it never pulls through');
    grantee.addToPolicy(...BottleStore.serveStatements(this.bucketArn), {
      sid: 'ReadState',
      actions: ['dynamodb:GetItem'],
      resources: [this.tableArn],
    });
    if (options.tokens) grantee.addToPolicy(StateTable.tokenStatement(this.tableArn));
    grantee.addKeyActions(this.keyArn, 'DrData', ['kms:Decrypt', 'kms:DescribeKey']);
  }
}
