import { Construct } from 'constructs';
import { LocalBackend, S3Backend, TerraformOutput } from 'cdktf';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { EnvironmentConfig } from '../config/environments';
import { AuditTrail } from '../constructs/audit-trail';
import { Backup } from '../constructs/backup';
import { BottleStore } from '../constructs/bottle-store';
import { Cache, CACHE_PORT } from '../constructs/cache';
import { ContainerCluster } from '../constructs/container-cluster';
import { ContainerRepository } from '../constructs/container-repository';
import { FargateTaskDefinition } from '../constructs/fargate-task-definition';
import { allow, securityGroup } from '../constructs/firewall';
import { CustomerManagedKey } from '../constructs/kms-key';
import { LoadBalancer, TLS_POLICY } from '../constructs/load-balancer';
import { LOG_PREFIXES, LogArchive } from '../constructs/log-archive';
import { MirrorService } from '../constructs/mirror-service';
import { Monitoring } from '../constructs/monitoring';
import { Network } from '../constructs/network';
import { StateTable } from '../constructs/state-table';
import { SyncFunction } from '../constructs/sync-function';
import { WeeklySchedule } from '../constructs/weekly-schedule';
import { ReadableAddressStack } from './readable-addresses';
import { METRICS_NAMESPACE, MIRROR_SERVICE_ENV, MIRROR_SERVICE_NODE_FLAGS, ORCHESTRATOR_ENV, SYNC_ENV, TASK_DISPATCH_ENV } from '../engine/runtime-config';

export const PROJECT_TAG = 'homebrew-bottles-sync';
/** Port the mirror container listens on behind the ALB. */
export const MIRROR_PORT = 8080;
const BILLING_REGION = 'us-east-1';

/**
 * One environment of the Homebrew bottle mirror. This class only composes:
 * every piece of infrastructure is built by its own construct.
 */
export class MirrorStack extends ReadableAddressStack {
  constructor(scope: Construct, config: EnvironmentConfig) {
    super(scope, config.name);
    const env = config.name;
    const p = `${env}-brew`;

    if (config.remoteState) {
      new S3Backend(this, {
        bucket: config.remoteState.bucket,
        key: config.remoteState.key,
        region: config.remoteState.region,
        dynamodbTable: config.remoteState.lockTable,
        encrypt: true,
      });
    } else {
      new LocalBackend(this, { path: `terraform.${env}.tfstate` });
    }

    const defaultTags = [{ tags: { Project: PROJECT_TAG, Environment: env, ManagedBy: 'cdktf' } }];
    new AwsProvider(this, 'aws', { region: config.region, defaultTags });
    const dr = new AwsProvider(this, 'aws-dr', { alias: 'dr', region: config.drRegion, defaultTags });
    const billing = new AwsProvider(this, 'aws-billing', { alias: 'billing', region: BILLING_REGION, defaultTags });
    const accountId = new DataAwsCallerIdentity(this, 'account', {}).accountId;

    // Keys: one per concern, so a key policy names only the services that need it.
    const keyBase = { accountId, region: config.region };
    const dataKey = new CustomerManagedKey(this, 'data-key', {
      ...keyBase,
      alias: `${p}-data`,
      description: `${env}: bottles, state table, cache, Lambda environment, container images`,
      services: ['ecr'],
    });
    const logsKey = new CustomerManagedKey(this, 'logs-key', {
      ...keyBase,
      alias: `${p}-logs`,
      description: `${env}: CloudWatch log groups and the CloudTrail trail`,
      services: ['logs', 'cloudtrail'],
    });
    const alertsKey = new CustomerManagedKey(this, 'alerts-key', {
      ...keyBase,
      alias: `${p}-alerts`,
      description: `${env}: alarm topic and dead-letter queues`,
      services: ['cloudwatch', 'events'],
    });
    const backupKey = new CustomerManagedKey(this, 'backup-key', {
      ...keyBase,
      alias: `${p}-backup`,
      description: `${env}: AWS Backup vault`,
      services: ['backup'],
    });
    const drDataKey = new CustomerManagedKey(this, 'dr-data-key', {
      accountId,
      region: config.drRegion,
      provider: dr,
      alias: `${p}-dr-data`,
      description: `${env}: state-table replica in ${config.drRegion}`,
    });
    const billingKey = new CustomerManagedKey(this, 'billing-key', {
      accountId,
      region: BILLING_REGION,
      provider: billing,
      alias: `${p}-billing-alerts`,
      description: `${env}: billing alarm topic in ${BILLING_REGION}`,
      services: ['cloudwatch'],
    });

    const network = new Network(this, 'network', {
      namePrefix: p,
      region: config.region,
      accountId,
      cidrBlock: config.vpcCidr,
      availabilityZones: config.availabilityZones,
      natGateways: config.natGateways,
      logsKeyArn: logsKey.arn,
      logRetentionDays: config.logRetentionDays,
    });
    const vpcId = network.vpc.id;

    const logArchive = new LogArchive(this, 'log-archive', { namePrefix: p, accountId });
    const logBucket = logArchive.bucket.bucket.id;
    const store = new BottleStore(this, 'bottle-store', {
      namePrefix: p,
      kmsKeyArn: dataKey.arn,
      accessLogBucket: logBucket,
      accessLogPrefix: LOG_PREFIXES.bottleStoreAccess,
    });
    const bucket = store.bucket.bucket;
    const state = new StateTable(this, 'state-table', {
      namePrefix: p,
      kmsKeyArn: dataKey.arn,
      replicaRegion: config.drRegion,
      replicaKmsKeyArn: drDataKey.arn,
    });
    const table = state.table;

    const cache = new Cache(this, 'cache', {
      namePrefix: p,
      vpcId,
      subnetIds: network.privateSubnetIds,
      nodeType: config.cache.nodeType,
      nodeCount: config.cache.nodeCount,
      snapshotRetentionDays: config.cache.snapshotRetentionDays,
      kmsKeyArn: dataKey.arn,
      logsKeyArn: logsKey.arn,
      logRetentionDays: config.logRetentionDays,
      iamUsers: { sync: 'sync', mirror: 'mirror' },
    });
    const rg = cache.replicationGroup;

    // Flows: sync workloads and mirror tasks reach the cache and HTTPS (upstream, AWS APIs); the ALB reaches the mirror.
    const syncSg = securityGroup(this, 'sync-sg', `${p}-sync-sg`, 'Sync Lambdas and Fargate task: egress only', vpcId);
    const mirrorSg = securityGroup(this, 'mirror-sg', `${p}-mirror-sg`, 'Mirror tasks: traffic from the ALB only', vpcId);
    allow(this, 'sync-to-cache', { from: syncSg, to: cache.securityGroup, port: CACHE_PORT, description: 'Sync to Valkey (TLS)' });
    allow(this, 'mirror-to-cache', { from: mirrorSg, to: cache.securityGroup, port: CACHE_PORT, description: 'Mirror to Valkey (TLS)' });
    allow(this, 'sync-to-https', {
      from: syncSg,
      to: { cidr: '0.0.0.0/0' },
      port: 443,
      description: 'Upstream registry and AWS APIs over HTTPS',
    });
    allow(this, 'mirror-to-https', { from: mirrorSg, to: { cidr: '0.0.0.0/0' }, port: 443, description: 'AWS APIs over HTTPS' });

    // Permissions shared by every sync workload, each scoped to this environment's resources.
    const cacheConnect = (user: keyof Cache['users']): DataAwsIamPolicyDocumentStatement => ({
      sid: 'CacheIamAuth',
      actions: ['elasticache:Connect'],
      resources: [rg.arn, cache.users[user].arn],
    });
    const syncStatements: DataAwsIamPolicyDocumentStatement[] = [
      { sid: 'ListBottles', actions: ['s3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [bucket.arn] },
      {
        sid: 'ReadWriteBottles',
        actions: [
          's3:GetObject',
          's3:PutObject',
          's3:GetObjectTagging',
          's3:PutObjectTagging',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
        ],
        resources: [`${bucket.arn}/*`],
      },
      {
        sid: 'SyncState',
        actions: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
          'dynamodb:BatchGetItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:ConditionCheckItem',
        ],
        resources: [table.arn],
      },
      { sid: 'DataKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt'], resources: [dataKey.arn] },
      cacheConnect('sync'),
    ];
    const runtimeEnv = {
      [SYNC_ENV.environment]: env,
      [SYNC_ENV.bottleBucket]: bucket.id,
      [SYNC_ENV.stateTable]: table.name,
      [SYNC_ENV.cacheEndpoint]: rg.primaryEndpointAddress,
      [SYNC_ENV.cachePort]: String(CACHE_PORT),
      [SYNC_ENV.cacheReplicationGroup]: rg.replicationGroupId,
    };
    const syncEnv = { ...runtimeEnv, [SYNC_ENV.metricsNamespace]: METRICS_NAMESPACE, [SYNC_ENV.cacheUser]: cache.users.sync.userId };

    const syncRepo = new ContainerRepository(this, 'sync-repo', { name: `${p}/sync-task`, kmsKeyArn: dataKey.arn });
    const mirrorRepo = new ContainerRepository(this, 'mirror-repo', { name: `${p}/mirror-service`, kmsKeyArn: dataKey.arn });
    const cluster = new ContainerCluster(this, 'cluster', { namePrefix: p, fargateSpot: config.fargateSpot });

    // The orchestrator starts the sync task, and a task interrupted by SIGTERM starts its successor.
    // ARNs are spelled out from known names: the task definition cannot reference its own ARN.
    const syncTaskFamily = `${p}-sync-task`;
    const syncTaskDefinitionArn = `arn:aws:ecs:${config.region}:${accountId}:task-definition/${syncTaskFamily}`;
    const taskDispatchEnv = {
      [TASK_DISPATCH_ENV.syncCluster]: cluster.cluster.arn,
      [TASK_DISPATCH_ENV.syncTaskFamily]: syncTaskFamily,
      [TASK_DISPATCH_ENV.syncContainerName]: syncTaskFamily,
      [TASK_DISPATCH_ENV.syncSubnets]: network.privateSubnetIds.join(','),
      [TASK_DISPATCH_ENV.syncSecurityGroup]: syncSg.id,
      [TASK_DISPATCH_ENV.syncCapacityProvider]: cluster.capacityProvider,
    };
    const startSyncTask: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: 'DispatchToFargate',
        actions: ['ecs:RunTask'],
        resources: [`${syncTaskDefinitionArn}:*`],
        condition: [{ test: 'ArnEquals', variable: 'ecs:cluster', values: [cluster.cluster.arn] }],
      },
      { sid: 'WatchFargate', actions: ['ecs:DescribeTasks'], resources: [`arn:aws:ecs:${config.region}:${accountId}:task/${cluster.cluster.name}/*`] },
      {
        sid: 'PassSyncTaskRoles',
        actions: ['iam:PassRole'],
        resources: [`arn:aws:iam::${accountId}:role/${syncTaskFamily}-task`, `arn:aws:iam::${accountId}:role/${syncTaskFamily}-execution`],
        condition: [{ test: 'StringEquals', variable: 'iam:PassedToService', values: ['ecs-tasks.amazonaws.com'] }],
      },
    ];

    new FargateTaskDefinition(this, 'sync-task', {
      family: syncTaskFamily,
      region: config.region,
      accountId,
      cpu: config.sync.taskCpu,
      memoryMiB: config.sync.taskMemoryMiB,
      repository: syncRepo.repository,
      imageTag: config.imageTag,
      environment: { ...syncEnv, ...taskDispatchEnv },
      logsKeyArn: logsKey.arn,
      logRetentionDays: config.logRetentionDays,
      statements: [...syncStatements, ...startSyncTask],
    });

    const functionBase = {
      subnetIds: network.privateSubnetIds,
      securityGroupIds: [syncSg.id],
      kmsKeyArn: dataKey.arn,
      logsKeyArn: logsKey.arn,
      logRetentionDays: config.logRetentionDays,
    };
    const worker = new SyncFunction(this, 'sync-worker', {
      ...functionBase,
      functionName: `${p}-sync-worker`,
      handlerDir: 'sync-worker',
      description: 'Streams one batch of bottles from upstream into the bottle store',
      memoryMiB: 3008,
      timeoutSeconds: 900,
      reservedConcurrency: config.sync.workerReservedConcurrency,
      environment: syncEnv,
      statements: [
        ...syncStatements,
        {
          // Workers short on time hand unstarted bottles to a new invocation of themselves.
          // The ARN is spelled out: referencing the function would make its role policy a dependency cycle.
          sid: 'HandBackToSelf',
          actions: ['lambda:InvokeFunction'],
          resources: [`arn:aws:lambda:${config.region}:${accountId}:function:${p}-sync-worker`],
        },
      ],
    });

    const orchestrator = new SyncFunction(this, 'orchestrator', {
      ...functionBase,
      functionName: `${p}-orchestrator`,
      handlerDir: 'orchestrator',
      description: 'Verifies the Homebrew API, plans the sync and dispatches it to workers or the Fargate task',
      memoryMiB: 512,
      timeoutSeconds: 900,
      reservedConcurrency: config.sync.orchestratorReservedConcurrency,
      environment: {
        ...syncEnv,
        ...taskDispatchEnv,
        [ORCHESTRATOR_ENV.workerFunctionName]: worker.function.functionName,
        [ORCHESTRATOR_ENV.lambdaThresholdBytes]: String(config.sync.lambdaThresholdBytes),
      },
      statements: [
        ...syncStatements,
        { sid: 'DispatchToWorkers', actions: ['lambda:InvokeFunction'], resources: [worker.function.arn] },
        ...startSyncTask,
      ],
    });
    const schedule = new WeeklySchedule(this, 'schedule', {
      namePrefix: p,
      target: orchestrator.function,
      kmsKeyArn: alertsKey.arn,
    });

    const loadBalancer = new LoadBalancer(this, 'load-balancer', {
      namePrefix: p,
      vpcId,
      subnetIds: config.mirrorService.albScheme === 'internet-facing' ? network.publicSubnetIds : network.privateSubnetIds,
      scheme: config.mirrorService.albScheme,
      allowedCidrs: config.mirrorService.allowedCidrs,
      certificateArn: config.certificateArn,
      targetPort: MIRROR_PORT,
      accessLogBucket: logBucket,
      accessLogPrefix: LOG_PREFIXES.alb,
      rateLimitPer5Min: config.mirrorService.wafRateLimitPer5Min,
      logsKeyArn: logsKey.arn,
      logRetentionDays: config.logRetentionDays,
    });
    loadBalancer.alb.node.addDependency(logArchive.bucket.policy);
    allow(this, 'alb-to-mirror', { from: loadBalancer.securityGroup, to: mirrorSg, port: MIRROR_PORT, description: 'ALB to mirror tasks' });

    const mirrorTask = new FargateTaskDefinition(this, 'mirror-task', {
      family: `${p}-mirror`,
      region: config.region,
      accountId,
      cpu: config.mirrorService.cpu,
      memoryMiB: config.mirrorService.memoryMiB,
      repository: mirrorRepo.repository,
      imageTag: config.imageTag,
      containerPort: MIRROR_PORT,
      command: ['node', ...MIRROR_SERVICE_NODE_FLAGS, 'main.js'],
      environment: {
        ...runtimeEnv,
        [MIRROR_SERVICE_ENV.cacheUser]: cache.users.mirror.userId,
        [MIRROR_SERVICE_ENV.port]: String(MIRROR_PORT),
        [MIRROR_SERVICE_ENV.mode]: 'redirect',
      },
      logsKeyArn: logsKey.arn,
      logRetentionDays: config.logRetentionDays,
      statements: [
        { sid: 'ListBottles', actions: ['s3:ListBucket'], resources: [bucket.arn] },
        { sid: 'ReadBottles', actions: ['s3:GetObject'], resources: [`${bucket.arn}/*`] },
        { sid: 'ReadState', actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [table.arn] },
        { sid: 'DataKey', actions: ['kms:Decrypt'], resources: [dataKey.arn] },
        cacheConnect('mirror'),
      ],
    });
    const mirror = new MirrorService(this, 'mirror-service', {
      namePrefix: p,
      clusterName: cluster.cluster.name,
      clusterArn: cluster.cluster.arn,
      task: mirrorTask,
      containerPort: MIRROR_PORT,
      subnetIds: network.privateSubnetIds,
      securityGroup: mirrorSg,
      alb: loadBalancer.alb,
      targetGroup: loadBalancer.targetGroup,
      minTasks: config.mirrorService.minTasks,
      maxTasks: config.mirrorService.maxTasks,
      capacityProvider: cluster.capacityProvider,
    });

    const backup = new Backup(this, 'backup', {
      namePrefix: p,
      accountId,
      kmsKeyArn: backupKey.arn,
      resourceArns: [table.arn, bucket.arn],
      crossRegionCopy: config.backupCrossRegionCopy
        ? {
            provider: dr,
            kmsKeyArn: new CustomerManagedKey(this, 'dr-backup-key', {
              accountId,
              region: config.drRegion,
              provider: dr,
              alias: `${p}-dr-backup`,
              description: `${env}: AWS Backup copy vault in ${config.drRegion}`,
              services: ['backup'],
            }).arn,
          }
        : undefined,
    });

    const monitoring = new Monitoring(this, 'monitoring', {
      namePrefix: p,
      environment: env,
      region: config.region,
      accountId,
      alarmEmail: config.alarmEmail,
      thresholds: config.alarms,
      kmsKeyArn: alertsKey.arn,
      logsKeyArn: logsKey.arn,
      logRetentionDays: config.logRetentionDays,
      billing: { provider: billing, kmsKeyArn: billingKey.arn },
      resources: {
        orchestratorFunctionName: orchestrator.function.functionName,
        workerFunctionName: worker.function.functionName,
        deadLetterQueueNames: [orchestrator.deadLetterQueue, worker.deadLetterQueue, schedule.deadLetterQueue].map((q) => q.nameInput!),
        albArnSuffix: loadBalancer.alb.arnSuffix,
        targetGroupArnSuffix: loadBalancer.targetGroup.arnSuffix,
        cacheNodeIds: cache.memberClusterIds,
        tableName: table.name,
        replicaRegion: config.drRegion,
        clusterArn: cluster.cluster.arn,
      },
    });

    const trail = new AuditTrail(this, 'audit-trail', {
      namePrefix: p,
      region: config.region,
      accountId,
      kmsKeyArn: logsKey.arn,
      accessLogBucket: logBucket,
      accessLogPrefix: LOG_PREFIXES.trailBucketAccess,
      logRetentionDays: config.logRetentionDays,
    });

    const output = (id: string, value: unknown, description: string) => new TerraformOutput(this, id, { value, description });
    output(
      'dashboard_url',
      `https://${config.region}.console.aws.amazon.com/cloudwatch/home?region=${config.region}#dashboards:name=${monitoring.dashboard.dashboardName}`,
      'CloudWatch dashboard with every alarm',
    );
    output('error_alarm_name', monitoring.errorAlarm.alarmName, 'Orchestrator error alarm');
    output('duration_alarm_name', monitoring.durationAlarm.alarmName, 'Orchestrator duration alarm');
    output('availability_alarm_name', monitoring.availabilityAlarm.alarmName, 'Mirror availability (ALB 5xx rate) alarm');
    output('backup_vault_name', backup.vault.name, 'AWS Backup vault');
    output('backup_plan_name', backup.plan.name, 'AWS Backup plan');
    output('mirror_url', `https://${config.domainName}`, 'Base URL for HOMEBREW_API_DOMAIN (/api), HOMEBREW_BOTTLE_DOMAIN (/bottles) and HOMEBREW_ARTIFACT_DOMAIN');
    output(
      'environment_config',
      {
        environment: env,
        region: config.region,
        dr_region: config.drRegion,
        availability_zones: config.availabilityZones,
        nat_gateways: network.natGatewayCount,
        fargate_spot: config.fargateSpot,
        alb_scheme: config.mirrorService.albScheme,
        mirror_tasks: { min: config.mirrorService.minTasks, max: config.mirrorService.maxTasks },
        cache_nodes: config.cache.nodeCount,
        lambda_threshold_bytes: config.sync.lambdaThresholdBytes,
        bottle_bucket: bucket.id,
        state_table: table.name,
        ecs_cluster: cluster.cluster.name,
        mirror_service: mirror.service.name,
        sync_repository_url: syncRepo.repository.repositoryUrl,
        mirror_repository_url: mirrorRepo.repository.repositoryUrl,
      },
      'Non-secret summary of this environment',
    );
    output(
      'security_config',
      {
        kms_keys: {
          data: dataKey.arn,
          logs: logsKey.arn,
          alerts: alertsKey.arn,
          backup: backupKey.arn,
          dr_data: drDataKey.arn,
        },
        tls_policy: TLS_POLICY,
        waf_web_acl: loadBalancer.webAcl.arn,
        cloudtrail: trail.trail.arn,
        cache_auth: 'iam',
        cache_transit_encryption: true,
      },
      'Security posture: keys, TLS policy, WAF and audit trail',
    );
  }
}
