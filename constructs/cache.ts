import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { ElasticacheReplicationGroup } from '@cdktf/provider-aws/lib/elasticache-replication-group';
import { ElasticacheSubnetGroup } from '@cdktf/provider-aws/lib/elasticache-subnet-group';
import { ElasticacheUser } from '@cdktf/provider-aws/lib/elasticache-user';
import { ElasticacheUserGroup } from '@cdktf/provider-aws/lib/elasticache-user-group';
import { DataAwsSecretsmanagerRandomPassword } from '@cdktf/provider-aws/lib/data-aws-secretsmanager-random-password';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { ctx } from './environment-context';
import { securityGroup } from './firewall';
import { Grantable } from './service-role';

/** One IAM-authenticated cache user per workload, confined to its own keys. */
export interface CacheUserProps {
  /** Keys this user may touch (`~<prefix>*`); see `CACHE_KEY_PREFIXES`. */
  readonly keyPrefix: string;
}

export interface CacheProps {
  readonly vpcId: string;
  /** Private subnets, one per AZ. The cache never gets a public subnet. */
  readonly subnetIds: string[];
  readonly nodeType: string;
  /** Primary plus replicas; at least 2 for Multi-AZ failover. */
  readonly nodeCount: number;
  /** Default: 7 days. */
  readonly snapshotRetentionDays?: number;
  readonly kmsKeyArn: string;
  /** Cache users by workload name, e.g. `{ sync: { keyPrefix: 'breaker:' } }`; the name becomes the user id suffix. */
  readonly users: Record<string, CacheUserProps>;
}

export const CACHE_PORT = 6379;
export const CACHE_ENGINE = 'valkey';
export const CACHE_ENGINE_VERSION = '8.0';

/**
 * A Multi-AZ Valkey (Redis-compatible) replication group for state shared
 * between processes that may be lost without harm: the sync's per-host
 * circuit breaker and the mirror's per-client rate limits. (The run lease and
 * the published pointer live in DynamoDB.)
 *
 * Clients authenticate with IAM (short-lived SigV4 tokens, no password
 * exists anywhere) over TLS, each workload as its own user confined to its
 * own key prefix. The mandatory `default` user is switched off.
 */
export class Cache extends Construct {
  public readonly replicationGroup: ElasticacheReplicationGroup;
  public readonly securityGroup: SecurityGroup;
  /** Cache users by workload name, for `grantConnect`. */
  public readonly users: Record<string, ElasticacheUser> = {};

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    const context = ctx(this);
    if (props.nodeCount < 2) {
      throw new Error(`Cache needs at least 2 nodes for Multi-AZ failover, got ${props.nodeCount}`);
    }
    const groupId = context.name('cache');

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

    const userGroup = this.userGroup(groupId, props.users);
    const logs = (['slow-log', 'engine-log'] as const).map((logType) => {
      const group = new CloudwatchLogGroup(this, logType, {
        name: `/${context.namePrefix}/elasticache/${logType}`,
        retentionInDays: context.logRetentionDays,
        kmsKeyId: context.logsKeyArn,
      });
      return { destination: group.name, destinationType: 'cloudwatch-logs', logFormat: 'json', logType };
    });

    this.replicationGroup = new ElasticacheReplicationGroup(this, 'group', {
      replicationGroupId: groupId,
      description: 'Homebrew mirror: sync circuit breaker and mirror rate limits',
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
      logDeliveryConfiguration: logs,
    });
  }

  /** The disabled `default` user every group must contain, and one IAM user per workload confined to its key prefix. */
  private userGroup(groupId: string, users: Record<string, CacheUserProps>): ElasticacheUserGroup {
    // A Valkey user group accepts only users with password or IAM authentication, and must contain a
    // user named "default". It stays switched off; its password is random, generated by the AWS
    // provider's own data source (no other provider is needed), never known to anyone, and set once:
    // the data source draws a new value on every read, so later changes are ignored.
    const defaultPassword = new DataAwsSecretsmanagerRandomPassword(this, 'default-user-password', {
      passwordLength: 64,
      excludePunctuation: true,
    });
    const defaultUser = new ElasticacheUser(this, 'default-user', {
      userId: `${groupId}-default`,
      userName: 'default',
      engine: CACHE_ENGINE,
      accessString: 'off -@all', // disabled: nothing can authenticate as it
      authenticationMode: { type: 'password', passwords: [defaultPassword.randomPassword] },
      lifecycle: { ignoreChanges: ['authentication_mode'] },
    });
    const iamUsers = Object.entries(users).map(([workload, user]) => {
      if (!/^[a-z0-9:_-]+$/.test(user.keyPrefix)) throw new Error(`cache user ${workload}: unsafe key prefix ${JSON.stringify(user.keyPrefix)}`);
      const userId = `${groupId}-${workload}`;
      const created = new ElasticacheUser(this, `user-${workload}`, {
        userId,
        userName: userId, // IAM authentication requires user name == user id
        engine: CACHE_ENGINE,
        accessString: cacheAccessString(user.keyPrefix),
        authenticationMode: { type: 'iam' },
      });
      this.users[workload] = created;
      return created;
    });
    return new ElasticacheUserGroup(this, 'user-group', {
      userGroupId: `${groupId}-users`,
      engine: CACHE_ENGINE,
      userIds: [defaultUser.userId, ...iamUsers.map((u) => u.userId)],
    });
  }

  /** Lets `grantee` authenticate as the workload's cache user (IAM auth needs both the group and the user). */
  grantConnect(grantee: Grantable, workload: string): void {
    const user = this.users[workload];
    if (!user) throw new Error(`no cache user for ${workload}; users: ${Object.keys(this.users).join(', ')}`);
    grantee.addToPolicy({ sid: 'ConnectToCache', actions: ['elasticache:Connect'], resources: [this.replicationGroup.arn, user.arn] });
  }

  /** Node ids ElastiCache assigns (`<group>-001`, …), which carry the per-node metrics. */
  get memberClusterIds(): string[] {
    const count = this.replicationGroup.numCacheClustersInput ?? 0;
    return Array.from({ length: count }, (_, i) => `${this.replicationGroup.replicationGroupIdInput}-${String(i + 1).padStart(3, '0')}`);
  }
}

/**
 * A user's access string: on, only keys under its prefix, every command
 * except the dangerous ones (FLUSHALL, CONFIG, KEYS, …).
 */
export function cacheAccessString(keyPrefix: string): string {
  return `on ~${keyPrefix}* +@all -@dangerous`;
}
