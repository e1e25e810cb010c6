import { Construct } from 'constructs';
import { TerraformOutput } from 'cdktf';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { EnvironmentConfig } from '../config/environment-config';
import { EnvironmentContext } from '../constructs/environment-context';
import { TLS_POLICY } from '../constructs/load-balancer';
import { BILLING_REGION } from '../constructs/monitoring/cost-alarm';
import { Monitoring } from '../constructs/monitoring/monitoring';
import { StandbyHandoff } from '../constructs/standby-handoff';
import { ReadableAddressStack } from './readable-addresses';
import { STANDBY_ALARM_SUFFIXES, standbyNamePrefix } from './standby-names';
import { useBackend } from './backend';
import { DataTier } from './tiers/data';
import { Foundation } from './tiers/foundation';
import { MirrorTier } from './tiers/mirror';
import { SyncTier } from './tiers/sync';

export const PROJECT_TAG = 'homebrew-bottles-sync';
export { MIRROR_PORT } from './tiers/mirror';

/**
 * One environment of the Homebrew bottle mirror, composed from its tiers:
 * foundation (keys, network, logs, audit, container platform), data (store,
 * table, cache, backup), sync (orchestrator, workers, Fargate task,
 * schedule), mirror (WAF, ALB, service) and monitoring.
 */
export class MirrorStack extends ReadableAddressStack {
  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, config.name);
    useBackend(this, config.remoteState, `terraform.${config.name}.tfstate`);
    const defaultTags = [{ tags: { Project: PROJECT_TAG, Environment: config.name, ManagedBy: 'cdktf' } }];
    new AwsProvider(this, 'aws', { region: config.region, defaultTags });
    const dr = new AwsProvider(this, 'aws-dr', { alias: 'dr', region: config.drRegion, defaultTags });
    const billing = new AwsProvider(this, 'aws-billing', { alias: 'billing', region: BILLING_REGION, defaultTags });
    EnvironmentContext.provide(this, {
      environment: config.name,
      namePrefix: `${config.name}-brew`,
      accountId: new DataAwsCallerIdentity(this, 'account', {}).accountId,
      partition: new DataAwsPartition(this, 'partition', {}).partition,
      region: config.region,
      logRetentionDays: config.logRetentionDays,
      securityLogRetentionDays: config.securityLogRetentionDays,
      teardown: config.teardown,
    });

    const foundation = new Foundation(this, 'foundation', { config, dr, billing });
    const data = new DataTier(this, 'data', { config, foundation, dr });
    const sync = new SyncTier(this, 'sync', { config, foundation, data });
    const mirror = new MirrorTier(this, 'mirror', {
      config,
      platform: { ...foundation, mirrorImages: foundation.mirrorRepository.repository },
      data,
    });
    if (config.standby && data.storeReplica) {
      new StandbyHandoff(this, 'standby-handoff', {
        provider: dr,
        bucketName: data.storeReplica.bucketName,
        bucketArn: data.storeReplica.bucketArn,
        tableName: data.state.tableName,
        replicaKeyArn: foundation.drDataKey.arn,
        mirrorRepositoryName: foundation.mirrorRepository.repository.name,
        syncRepositoryName: foundation.syncRepository.repository.name,
      });
    }
    const monitoring = new Monitoring(this, 'monitoring', {
      alarmEmail: config.alarmEmail,
      thresholds: config.alarms,
      kmsKeyArn: foundation.alertsKey.arn,
      billing: { provider: billing, kmsKeyArn: foundation.billingKey.arn },
      resources: {
        orchestratorFunctionName: sync.orchestrator.functionName,
        workerFunctionName: sync.worker.functionName,
        deadLetterQueueNames: sync.deadLetterQueueNames,
        syncTaskFamily: sync.task.family,
        clusterName: foundation.cluster.clusterName,
        clusterArn: foundation.cluster.clusterArn,
        mirrorServiceName: mirror.service.serviceName,
        albArnSuffix: mirror.loadBalancer.alb.arnSuffix,
        targetGroupArnSuffix: mirror.loadBalancer.targetGroup.arnSuffix,
        webAclName: mirror.loadBalancer.webAcl.name,
        bucketName: data.store.bucketName,
        replicaBucketName: data.storeReplica?.bucketName,
        tableName: data.state.tableName,
        replicaRegion: config.drRegion,
        cacheNodeIds: data.cache.memberClusterIds,
        endpointHealthCheckId: mirror.healthCheck?.id,
      },
      standby: config.standby
        ? { region: config.drRegion, alarmNames: STANDBY_ALARM_SUFFIXES.map((suffix) => `${standbyNamePrefix(config.name)}-${suffix}`) }
        : undefined,
      dashboard: {
        runbookUrl: config.runbookUrl,
        settings: environmentSettings(config),
      },
    });
    this.outputs(config, { foundation, data, mirror, monitoring });
  }

  private outputs(
    config: EnvironmentConfig,
    tiers: { foundation: Foundation; data: DataTier; mirror: MirrorTier; monitoring: Monitoring },
  ): void {
    const { foundation, data, mirror, monitoring } = tiers;
    const output = (id: string, value: unknown, description: string) => new TerraformOutput(this, id, { value, description });
    output(
      'dashboard_url',
      `https://${config.region}.console.aws.amazon.com/cloudwatch/home?region=${config.region}#dashboards:name=${monitoring.dashboard.dashboardName}`,
      'CloudWatch dashboard with every alarm',
    );
    output('error_alarm_name', monitoring.errorAlarm.alarmName, 'Orchestrator error alarm');
    output('duration_alarm_name', monitoring.durationAlarm.alarmName, 'Orchestrator duration alarm');
    output('availability_alarm_name', monitoring.availabilityAlarm.alarmName, 'Mirror availability (ALB 5xx rate) alarm');
    output('backup_vault_name', data.backup.vault.name, 'AWS Backup vault');
    output('backup_plan_name', data.backup.plan.name, 'AWS Backup plan');
    output('mirror_url', `https://${config.domainName}`, 'Base URL for HOMEBREW_API_DOMAIN (/api), HOMEBREW_BOTTLE_DOMAIN (/bottles) and HOMEBREW_ARTIFACT_DOMAIN');
    output(
      'alb_dns_name',
      mirror.loadBalancer.alb.dnsName,
      config.hostedZoneId
        ? `The ALB; ${config.domainName} is an alias record to it in zone ${config.hostedZoneId}`
        : `The ALB: point ${config.domainName} at it (CNAME, or an alias record in Route 53)`,
    );
    output(
      'environment_config',
      {
        environment: config.name,
        region: config.region,
        dr_region: config.drRegion,
        availability_zones: config.availabilityZones,
        nat_gateways: foundation.network.natGatewayCount,
        fargate_spot: config.fargateSpot,
        alb_scheme: config.mirrorService.albScheme,
        mirror_tasks: { min: config.mirrorService.minTasks, max: config.mirrorService.maxTasks },
        cache_nodes: config.cache.nodeCount,
        lambda_threshold_bytes: config.sync.lambdaThresholdBytes,
        bottle_bucket: data.store.bucketName,
        state_table: data.state.tableName,
        ecs_cluster: foundation.cluster.clusterName,
        mirror_service: mirror.service.serviceName,
        sync_repository_url: foundation.syncRepository.repository.repositoryUrl,
        mirror_repository_url: foundation.mirrorRepository.repository.repositoryUrl,
      },
      'Non-secret summary of this environment',
    );
    output(
      'security_config',
      {
        kms_keys: {
          data: foundation.dataKey.arn,
          logs: foundation.logsKey.arn,
          alerts: foundation.alertsKey.arn,
          backup: foundation.backupKey.arn,
          dr_data: foundation.drDataKey.arn,
        },
        tls_policy: TLS_POLICY,
        waf_web_acl: mirror.loadBalancer.webAcl.arn,
        cloudtrail: foundation.trail.trail.arn,
        cache_auth: 'iam',
        cache_transit_encryption: true,
      },
      'Security posture: keys, TLS policy, WAF and audit trail',
    );
  }
}

/** The settings on-call needs next to the graphs (the dashboard's text widget). */
function environmentSettings(config: EnvironmentConfig): string[] {
  const m = config.mirrorService;
  return [
    `environment ${config.name}: ${config.region}, DR ${config.drRegion}; mirror https://${config.domainName}`,
    `mirror tasks ${m.minTasks}-${m.maxTasks} (${m.cpu / 1024} vCPU / ${m.memoryMiB} MiB${config.fargateSpot ? ', Fargate Spot' : ''}); cache ${config.cache.nodeCount} × ${config.cache.nodeType}`,
    `weekly sync Sundays 03:00 UTC; Lambda workers up to ${Math.round(config.sync.lambdaThresholdBytes / 1024 ** 3)} GiB per run, Fargate above; freshness alarm after ${config.alarms.freshnessMaxAgeSeconds / 86400} days`,
  ];
}
