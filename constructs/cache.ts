import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { ElasticacheReplicationGroup } from '@cdktf/provider-aws/lib/elasticache-replication-group';
import { ElasticacheSubnetGroup } from '@cdktf/provider-aws/lib/elasticache-subnet-group';
import { ElasticacheUser } from '@cdktf/provider-aws/lib/elasticache-user';
import { ElasticacheUserGroup } from '@cdktf/provider-aws/lib/elasticache-user-group';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { securityGroup } from './firewall';

export interface CacheProps {
  readonly namePrefix: string;
  readonly vpcId: string;
  /** Private subnets, one per AZ. The cache never gets a public subnet. */
  readonly subnetIds: string[];
  readonly nodeType: string;
  /** Primary plus replicas; at least 2 for Multi-AZ failover. */
  readonly nodeCount: number;
  /** Default: 7 days. */
  readonly snapshotRetentionDays?: number;
  readonly kmsKeyArn: string;
  readonly logsKeyArn: string;
  readonly logRetentionDays: number;
  /** IAM-authenticated cache users to create, e.g. `{ sync: 'sync-engine' }`. */
  readonly iamUsers: Record<string, string>;
}

export const CACHE_PORT = 6379;
export const CACHE_ENGINE = 'valkey';
export const CACHE_ENGINE_VERSION = '8.0';

/**
 * A Multi-AZ Valkey (Redis-compatible) replication group for the run lock,
 * the shared circuit breaker and the mirror's lookup cache.
 *
 * Clients authenticate with IAM (short-lived SigV4 tokens, no password
 * exists anywhere) over TLS. The mandatory `default` user is switched off.
 */
export class Cache extends Construct {
  public readonly replicationGroup: ElasticacheReplicationGroup;
  public readonly securityGroup: SecurityGroup;
  /** Cache user ids by logical name, for `elasticache:Connect` grants. */
  public readonly users: Record<string, ElasticacheUser> = {};

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    if (props.nodeCount < 2) {
      throw new Error(`Cache needs at least 2 nodes for Multi-AZ failover, got ${props.nodeCount}`);
    }
    const groupId = `${props.namePrefix}-cache`;

    this.securityGroup = securityGroup(
      this,
      'sg',
      `${groupId}-sg`,
      'Valkey cache: reachable on 6379 from sync and mirror workloads only',
      props.vpcId,
    );

    const subnets = new ElasticacheSubnetGroup(this, 'subnets', {
      name: `${groupId}-subnets`,
      description: 'Private subnets for the cache',
      subnetIds: props.subnetIds,
    });

    const defaultUser = new ElasticacheUser(this, 'default-user', {
      userId: `${groupId}-default`,
      userName: 'default', // every user group must contain a user named "default"
      engine: CACHE_ENGINE,
      accessString: 'off -@all', // disabled: nothing can authenticate as it
      authenticationMode: { type: 'no-password-required' },
    });
    const iamUsers = Object.entries(props.iamUsers).map(([key, suffix]) => {
      const userId = `${groupId}-${suffix}`;
      const user = new ElasticacheUser(this, `user-${key}`, {
        userId,
        userName: userId, // IAM authentication requires user name == user id
        engine: CACHE_ENGINE,
        accessString: 'on ~* +@all -@dangerous',
        authenticationMode: { type: 'iam' },
      });
      this.users[key] = user;
      return user;
    });
    const userGroup = new ElasticacheUserGroup(this, 'user-group', {
      userGroupId: `${groupId}-users`,
      engine: CACHE_ENGINE,
      userIds: [defaultUser.userId, ...iamUsers.map((u) => u.userId)],
    });

    const slowLog = new CloudwatchLogGroup(this, 'slow-log', {
      name: `/${props.namePrefix}/elasticache/slow-log`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: props.logsKeyArn,
    });
    const engineLog = new CloudwatchLogGroup(this, 'engine-log', {
      name: `/${props.namePrefix}/elasticache/engine-log`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: props.logsKeyArn,
    });

    this.replicationGroup = new ElasticacheReplicationGroup(this, 'group', {
      replicationGroupId: groupId,
      description: 'Homebrew mirror lock, circuit breaker and lookup cache',
      engine: CACHE_ENGINE,
      engineVersion: CACHE_ENGINE_VERSION,
      nodeType: props.nodeType,
      numCacheClusters: props.nodeCount,
      port: CACHE_PORT,
      multiAzEnabled: true,
      automaticFailoverEnabled: true,
      subnetGroupName: subnets.name,
      securityGroupIds: [this.securityGroup.id],
      atRestEncryptionEnabled: 'true',
      kmsKeyId: props.kmsKeyArn,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      userGroupIds: [userGroup.userGroupId],
      snapshotRetentionLimit: props.snapshotRetentionDays ?? 7,
      snapshotWindow: '03:30-04:30', // after the weekly sync's start, before the 05:00 backup plan
      maintenanceWindow: 'sun:06:00-sun:07:00',
      autoMinorVersionUpgrade: 'true',
      applyImmediately: false,
      logDeliveryConfiguration: [
        { destination: slowLog.name, destinationType: 'cloudwatch-logs', logFormat: 'json', logType: 'slow-log' },
        { destination: engineLog.name, destinationType: 'cloudwatch-logs', logFormat: 'json', logType: 'engine-log' },
      ],
    });
  }

  /** Node ids ElastiCache assigns (`<group>-001`, …), which carry the per-node metrics. */
  get memberClusterIds(): string[] {
    const count = this.replicationGroup.numCacheClustersInput ?? 0;
    return Array.from({ length: count }, (_, i) => `${this.replicationGroup.replicationGroupIdInput}-${String(i + 1).padStart(3, '0')}`);
  }
}
