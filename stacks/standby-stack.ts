import { Construct } from 'constructs';
import { TerraformOutput } from 'cdktf';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { EnvironmentConfig, StandbyConfig } from '../config/environment-config';
import { ContainerCluster } from '../constructs/container-cluster';
import { CustomerManagedKey } from '../constructs/customer-managed-key';
import { EnvironmentContext } from '../constructs/environment-context';
import { LogArchive } from '../constructs/log-archive';
import { AlertTopic } from '../constructs/monitoring/alert-topic';
import { ServingAlarms } from '../constructs/monitoring/serving-alarms';
import { StandbyAlarms } from '../constructs/monitoring/standby-alarms';
import { StandbyDashboard } from '../constructs/monitoring/standby-dashboard';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { TaskFailureAlarm } from '../constructs/monitoring/task-failure-alarm';
import { Network } from '../constructs/network';
import { PromotedSync } from '../constructs/promoted-sync';
import { ReplicaData } from '../constructs/standby-handoff';
import { useBackend } from './backend';
import { PROJECT_TAG } from './mirror-stack';
import { ReadableAddressStack } from './readable-addresses';
import { standbyNamePrefix, standbyStackName } from './standby-names';
import { MirrorTier } from './tiers/mirror';

/**
 * The warm standby of one environment in its DR region (issue #15): a
 * mirror service reading the bottle-store replica and the state table's
 * replica, behind its own ALB, TLS and WAF, with its own alarms, and the
 * secondary failover record when the domain has a Route 53 zone.
 *
 * Its own stack and state (in a DR-region bucket), so it can be planned,
 * scaled and promoted while the primary region is down; it reads nothing
 * from the primary region. It writes nothing either: the sync runs in the
 * primary region (one writer), until an operator promotes this region
 * (`standby.writer`, and the writer pin). Deploy it after the primary stack,
 * whose handoff parameter and replicated images it reads.
 */
export class StandbyStack extends ReadableAddressStack {
  public readonly mirror: MirrorTier;

  // long: the standby's composition root, one construct per step in dependency order
  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, standbyStackName(config.name));
    const standby: StandbyConfig | undefined = config.standby;
    if (!standby) throw new Error(`${config.name} has no standby configured`);
    useBackend(this, standby.remoteState, `terraform.${standbyStackName(config.name)}.tfstate`);
    new AwsProvider(this, 'aws', {
      region: config.drRegion,
      defaultTags: [{ tags: { Project: PROJECT_TAG, Environment: config.name, Role: 'standby', ManagedBy: 'cdktf' } }],
    });
    const context = EnvironmentContext.provide(this, {
      environment: config.name,
      // Distinct from the primary's `<env>-brew`: IAM names are global, and the primary owns `<env>-brew-dr-*` aliases here.
      namePrefix: standbyNamePrefix(config.name),
      accountId: new DataAwsCallerIdentity(this, 'account', {}).accountId,
      partition: new DataAwsPartition(this, 'partition', {}).partition,
      region: config.drRegion,
      logRetentionDays: config.logRetentionDays,
      securityLogRetentionDays: config.securityLogRetentionDays,
      teardown: config.teardown,
    });
    const logsKey = new CustomerManagedKey(this, 'logs-key', {
      alias: 'logs',
      keyName: 'Logs',
      description: `${config.name} standby: CloudWatch log groups in ${config.drRegion}`,
      services: ['logs'],
    });
    context.useLogsKey(logsKey.arn);
    const alertsKey = new CustomerManagedKey(this, 'alerts-key', {
      alias: 'alerts',
      keyName: 'Alerts',
      description: `${config.name} standby: alarm topic in ${config.drRegion}`,
      services: ['cloudwatch', 'events'],
    });

    // One NAT gateway: the standby needs egress only for ECR and CloudWatch (S3 and DynamoDB use gateway endpoints).
    const network = new Network(this, 'network', { cidrBlock: standby.vpcCidr, availabilityZones: standby.availabilityZones, natGateways: 'single' });
    const cluster = new ContainerCluster(this, 'cluster', { fargateSpot: false });
    const logArchive = new LogArchive(this, 'alb-log-archive', {});
    const replicas = new ReplicaData(this, 'replicas');
    this.mirror = new MirrorTier(this, 'mirror', {
      config,
      platform: { network, cluster, logArchive, mirrorImages: replicas.mirrorImages },
      data: replicas,
      role: 'standby',
    });

    const promoted = standby.writer
      ? new PromotedSync(this, 'promoted-sync', {
        vpcId: network.vpc.id,
        subnetIds: network.privateSubnetIds,
        clusterArn: cluster.clusterArn,
        images: replicas.syncImages,
        imageTag: config.imageTag,
        cpu: config.sync.taskCpu,
          memoryMiB: config.sync.taskMemoryMiB,
          replicas,
          mirrorBrew: config.sync.mirrorBrew,
          brewReleases: config.sync.brewReleases,
          casks: config.sync.casks,
          allowUnpinnedCasks: config.sync.allowUnpinnedCasks,
          taps: config.sync.taps,
          publicUrl: `https://${config.domainName}`,
          policy: config.policy,
        })
      : undefined;

    const topic = new AlertTopic(this, 'topic', { name: `${context.namePrefix}-alarms`, email: config.alarmEmail, kmsKeyArn: alertsKey.arn }).topic;
    const alb = { albArnSuffix: this.mirror.loadBalancer.alb.arnSuffix, targetGroupArnSuffix: this.mirror.loadBalancer.targetGroup.arnSuffix };
    const alarms = [
      ...new ServingAlarms(this, 'serving-alarms', topic, { ...alb, thresholds: config.alarms }).alarms,
      ...new StandbyAlarms(this, 'standby-alarms', topic, { ...alb, failoverRequestsPer5Min: standby.failoverRequestsPer5Min, primaryRegion: config.region }).alarms,
      ...new TaskFailureAlarm(this, 'task-failures', topic, { clusterArn: cluster.clusterArn }).alarms,
    ];
    const dashboard = new StandbyDashboard(this, 'dashboard', {
      ...alb,
      alarms,
      clusterName: cluster.clusterName,
      mirrorServiceName: this.mirror.service.serviceName,
      webAclName: this.mirror.loadBalancer.webAcl.name,
      replicaBucketName: replicas.bucketName,
      primaryRegion: config.region,
      runbookUrl: config.runbookUrl,
      promotedSyncFamily: promoted?.task.family,
    }).dashboard;
    this.outputs(config, { network, cluster, dashboard });
  }

  private outputs(config: EnvironmentConfig, parts: { network: Network; cluster: ContainerCluster; dashboard: CloudwatchDashboard }): void {
    const output = (id: string, value: unknown, description: string) => new TerraformOutput(this, id, { value, description });
    const region = config.drRegion;
    output(
      'dashboard_url',
      `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${parts.dashboard.dashboardName}`,
      'The standby dashboard: where on-call works during a failover (the primary dashboard is in the failed region)',
    );
    output('alb_dns_name', this.mirror.loadBalancer.alb.dnsName, `The standby's ALB in ${config.drRegion}; without a hosted zone, fail over by pointing ${config.domainName} at it`);
    output('mirror_url', `https://${config.domainName}`, 'The same URL as the primary: clients never change their settings');
    output(
      'environment_config',
      {
        environment: config.name,
        role: 'standby',
        region: config.drRegion,
        primary_region: config.region,
        availability_zones: config.standby!.availabilityZones,
        nat_gateways: parts.network.natGatewayCount,
        ecs_cluster: parts.cluster.clusterName,
        mirror_service: this.mirror.service.serviceName,
        mirror_tasks: { min: config.standby!.minTasks, max: config.mirrorService.maxTasks },
        failover_records: config.hostedZoneId !== undefined,
        promoted_sync: config.standby!.writer,
      },
      'Non-secret summary of the standby',
    );
  }
}
