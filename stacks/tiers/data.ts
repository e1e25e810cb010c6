import { Construct } from 'constructs';
import { BucketReplica } from '../../constructs/bucket-replica';
import { TerraformProvider } from 'cdktf';
import { EnvironmentConfig } from '../../config/environment-config';
import { AddressGroup } from '../../constructs/address-group';
import { Backup } from '../../constructs/backup';
import { BottleStore } from '../../constructs/bottle-store';
import { CACHE_PORT, Cache } from '../../constructs/cache';
import { ctx } from '../../constructs/environment-context';
import { LOG_PREFIXES } from '../../constructs/log-archive';
import { StateTable } from '../../constructs/state-table';
import { CACHE_KEY_PREFIXES, SYNC_ENV } from '../../engine/runtime-config';
import { Foundation } from './foundation';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { allow } from '../../constructs/firewall';
import { Grantable } from '../../constructs/service-role';

/** Cache users, one per workload, each confined to its key prefix. */
export const CACHE_USERS = {
  sync: { keyPrefix: CACHE_KEY_PREFIXES.breaker },
  mirror: { keyPrefix: CACHE_KEY_PREFIXES.rateLimit },
} as const;
export type CacheWorkload = keyof typeof CACHE_USERS;

/** The data the mirror keeps: the bottle store, the state table, the cache, and their backups. */
export class DataTier extends AddressGroup {
  public readonly store: BottleStore;
  public readonly state: StateTable;
  public readonly cache: Cache;
  public readonly backup: Backup;
  /** The bottle store's copy in the DR region, which the standby serves from; absent without a standby. */
  public readonly storeReplica?: BucketReplica;

  constructor(scope: Construct, id: string, props: { readonly config: EnvironmentConfig; readonly foundation: Foundation; readonly dr: TerraformProvider }) {
    super(scope, id);
    const { config, foundation } = props;
    this.store = new BottleStore(this, 'bottle-store', {
      key: foundation.dataKey,
      accessLogs: foundation.logArchive.target(LOG_PREFIXES.bottleStoreAccess),
    });
    // The DR standby serves from this copy (issue #15): Replication Time Control bounds how far it lags.
    // Without a standby nothing reads it: the store is re-fetchable from upstream, so no copy is kept.
    if (config.standby) this.storeReplica = new BucketReplica(this, 'bottle-store-replica', {
      source: this.store.bucket,
      sourceKey: foundation.dataKey,
      provider: props.dr,
      replicaKey: foundation.drDataKey,
      replicationTimeControl: true,
    });
    this.state = new StateTable(this, 'state-table', { key: foundation.dataKey, replicaRegion: config.drRegion, replicaKey: foundation.drDataKey });
    this.cache = new Cache(this, 'cache', {
      vpcId: foundation.network.vpc.id,
      subnetIds: foundation.network.privateSubnetIds,
      nodeType: config.cache.nodeType,
      nodeCount: config.cache.nodeCount,
      snapshotRetentionDays: config.cache.snapshotRetentionDays,
      kmsKeyArn: foundation.dataKey.arn,
      users: CACHE_USERS,
    });
    this.backup = new Backup(this, 'backup', {
      kmsKeyArn: foundation.backupKey.arn,
      // The bottle store is not backed up: it is content-addressed, re-fetchable from upstream, versioned
      // (90 days of noncurrent versions) and replicated to the DR region, which restores in minutes where a
      // backup restore of terabytes takes hours. The state table is small and worth every recovery point.
      resourceArns: [this.state.tableArn],
      crossRegionCopy: foundation.drBackupKey ? { provider: props.dr, kmsKeyArn: foundation.drBackupKey.arn } : undefined,
      regionSettings: config.manageBackupRegionSettings ? { otherRegions: [props.dr] } : undefined,
    });
  }

  /** What the mirror service reads (`MirrorData`): the store, the table and the mirror's cache user. */
  get mirrorEnvironment(): Record<string, string> {
    return this.runtimeEnvironment('mirror');
  }

  /** Serve from the store, read the pointer, and reach the cache as the mirror's user. */
  grantMirror(scope: Construct, grantee: Grantable, securityGroup: SecurityGroup, options: { readonly pullThrough?: boolean; readonly tokens?: boolean } = {}): void {
    allow(scope, 'mirror-to-cache', { from: securityGroup, to: this.cache.securityGroup, port: CACHE_PORT, description: 'Mirror to Valkey (TLS)' });
    this.store.grantServe(grantee);
    if (options.pullThrough) this.store.grantPullThrough(grantee);
    this.state.grantReadState(grantee);
    if (options.tokens) grantee.addToPolicy(StateTable.tokenStatement(this.state.tableArn));
    this.cache.grantConnect(grantee, 'mirror');
  }

  /** The variables every workload reads to reach the store, the table and its cache user (`runtime-config.ts`). */
  runtimeEnvironment(workload: CacheWorkload): Record<string, string> {
    const group = this.cache.replicationGroup;
    return {
      [SYNC_ENV.environment]: ctx(this).environment,
      [SYNC_ENV.bottleBucket]: this.store.bucketName,
      [SYNC_ENV.stateTable]: this.state.tableName,
      [SYNC_ENV.cacheEndpoint]: group.primaryEndpointAddress,
      [SYNC_ENV.cachePort]: String(CACHE_PORT),
      [SYNC_ENV.cacheReplicationGroup]: group.replicationGroupId,
      [SYNC_ENV.cacheUser]: this.cache.users[workload].userId,
    };
  }
}
