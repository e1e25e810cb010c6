import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { EnvironmentConfig } from '../../config/environment-config';
import { AddressGroup } from '../../constructs/address-group';
import { EcrReplicationConfiguration } from '@cdktf/provider-aws/lib/ecr-replication-configuration';
import { ReplicaRepositoryTemplate } from '../../constructs/replica-repository-template';
import { AuditTrail } from '../../constructs/audit-trail';
import { BucketReplica } from '../../constructs/bucket-replica';
import { ContainerCluster } from '../../constructs/container-cluster';
import { ContainerRepository } from '../../constructs/container-repository';
import { CustomerManagedKey } from '../../constructs/customer-managed-key';
import { ctx } from '../../constructs/environment-context';
import { LOG_PREFIXES, LogArchive } from '../../constructs/log-archive';
import { BILLING_REGION } from '../../constructs/monitoring/cost-alarm';
import { Network } from '../../constructs/network';

export interface FoundationProps {
  readonly config: EnvironmentConfig;
  /** Provider for the DR region (replica and backup-copy keys). */
  readonly dr: TerraformProvider;
  /** Provider for us-east-1, where billing alarms live. */
  readonly billing: TerraformProvider;
}

/**
 * What every other tier stands on: the keys (one per concern, so a key
 * policy names only the services that need it), the network, the log
 * archive and the audit trail, the container cluster and image repositories.
 */
export class Foundation extends AddressGroup {
  public readonly dataKey: CustomerManagedKey;
  public readonly logsKey: CustomerManagedKey;
  public readonly alertsKey: CustomerManagedKey;
  public readonly backupKey: CustomerManagedKey;
  public readonly drDataKey: CustomerManagedKey;
  public readonly drBackupKey?: CustomerManagedKey;
  public readonly drLogsKey: CustomerManagedKey;
  public readonly billingKey: CustomerManagedKey;
  public readonly network: Network;
  public readonly logArchive: LogArchive;
  public readonly trail: AuditTrail;
  public readonly cluster: ContainerCluster;
  public readonly syncRepository: ContainerRepository;
  public readonly mirrorRepository: ContainerRepository;

  // long: a tier's composition root, one construct per step in dependency order; splitting it would only scatter the order
  constructor(scope: Construct, id: string, props: FoundationProps) {
    super(scope, id);
    const { config } = props;
    const env = config.name;
    this.dataKey = new CustomerManagedKey(this, 'data-key', {
      alias: 'data',
      keyName: 'Data',
      description: `${env}: bottles, state table, cache, Lambda environment, container images`,
      services: ['ecr'],
    });
    this.logsKey = new CustomerManagedKey(this, 'logs-key', {
      alias: 'logs',
      keyName: 'Logs',
      description: `${env}: CloudWatch log groups and the CloudTrail trail`,
      services: ['logs', 'cloudtrail'],
    });
    ctx(this).useLogsKey(this.logsKey.arn);
    this.alertsKey = new CustomerManagedKey(this, 'alerts-key', {
      alias: 'alerts',
      keyName: 'Alerts',
      description: `${env}: alarm topic and dead-letter queues`,
      services: ['cloudwatch', 'events'],
    });
    this.backupKey = new CustomerManagedKey(this, 'backup-key', {
      alias: 'backup',
      keyName: 'Backup',
      description: `${env}: AWS Backup vault`,
      services: ['backup'],
    });
    this.drDataKey = new CustomerManagedKey(this, 'dr-data-key', {
      region: config.drRegion,
      provider: props.dr,
      alias: 'dr-data',
      keyName: 'DrData',
      description: `${env}: state-table replica and bottle-store replica in ${config.drRegion}`,
    });
    this.drLogsKey = new CustomerManagedKey(this, 'dr-logs-key', {
      region: config.drRegion,
      provider: props.dr,
      alias: 'dr-logs',
      keyName: 'DrLogs',
      description: `${env}: replicas of the audit trail and the log archive in ${config.drRegion}`,
    });
    this.billingKey = new CustomerManagedKey(this, 'billing-key', {
      region: BILLING_REGION,
      provider: props.billing,
      alias: 'billing-alerts',
      keyName: 'BillingAlerts',
      description: `${env}: billing alarm topic in ${BILLING_REGION}`,
      services: ['cloudwatch'],
    });
    if (config.backupCrossRegionCopy) {
      this.drBackupKey = new CustomerManagedKey(this, 'dr-backup-key', {
        region: config.drRegion,
        provider: props.dr,
        alias: 'dr-backup',
        keyName: 'DrBackup',
        description: `${env}: AWS Backup copy vault in ${config.drRegion}`,
        services: ['backup'],
      });
    }

    this.network = new Network(this, 'network', {
      cidrBlock: config.vpcCidr,
      availabilityZones: config.availabilityZones,
      natGateways: config.natGateways,
    });
    this.logArchive = new LogArchive(this, 'log-archive', {});
    this.trail = new AuditTrail(this, 'audit-trail', {
      kmsKeyArn: this.logsKey.arn,
      accessLogs: this.logArchive.target(LOG_PREFIXES.trailBucketAccess),
    });
    // Audit evidence outlives a region: the trail's files and the access logs are copied to the DR region.
    new BucketReplica(this, 'trail-replica', { source: this.trail.bucket, sourceKey: this.logsKey, provider: props.dr, replicaKey: this.drLogsKey });
    new BucketReplica(this, 'log-archive-replica', { source: this.logArchive.bucket, provider: props.dr, replicaKey: this.drLogsKey });

    this.cluster = new ContainerCluster(this, 'cluster', { fargateSpot: config.fargateSpot });
    this.syncRepository = new ContainerRepository(this, 'sync-repo', { name: `${ctx(this).namePrefix}/sync-task`, kmsKeyArn: this.dataKey.arn });
    this.mirrorRepository = new ContainerRepository(this, 'mirror-repo', { name: `${ctx(this).namePrefix}/mirror-service`, kmsKeyArn: this.dataKey.arn });
    // An environment with a standby copies both images to the DR region on push, so the standby can
    // start without this region; one without a standby has nothing there to run them (issue #25).
    // The registry has one replication configuration per account and region, which an apply replaces
    // whole: it names only this environment's repositories, and preflight refuses an account whose
    // registry already replicates another's (one environment with a standby per account and region).
    if (config.standby) {
      new EcrReplicationConfiguration(this, 'image-replication', {
        replicationConfiguration: {
          rule: [
            {
              destination: [{ region: config.drRegion, registryId: ctx(this).accountId }],
              repositoryFilter: [{ filter: `${ctx(this).namePrefix}/`, filterType: 'PREFIX_MATCH' }],
            },
          ],
        },
      });
      // …and the repositories replication creates there get the sources' settings, not AWS's defaults.
      new ReplicaRepositoryTemplate(this, 'replica-repository-template', {
        provider: props.dr,
        region: config.drRegion,
        prefix: ctx(this).namePrefix,
        key: this.drDataKey,
      });
    }
  }
}
