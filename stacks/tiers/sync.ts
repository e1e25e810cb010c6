import { Construct } from 'constructs';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { EnvironmentConfig } from '../../config/environment-config';
import { CodeSigning } from '../../constructs/code-signing';
import { LOG_PREFIXES } from '../../constructs/log-archive';
import { AddressGroup } from '../../constructs/address-group';
import { CACHE_PORT } from '../../constructs/cache';
import { ctx } from '../../constructs/environment-context';
import { FargateTaskDefinition } from '../../constructs/fargate-task-definition';
import { allow, securityGroup } from '../../constructs/firewall';
import { Grantable } from '../../constructs/service-role';
import { SyncFunction } from '../../constructs/sync-function';
import { SyncSchedule } from '../../constructs/sync-schedule';
import { METRICS_NAMESPACE, ORCHESTRATOR_ENV, SYNC_ENV, TASK_DISPATCH_ENV, brewSyncEnvironment, caskSyncEnvironment, policyEnvironment, tapSyncEnvironment } from '../../engine/runtime-config';
import { DataTier } from './data';
import { Foundation } from './foundation';

/**
 * The weekly sync: the orchestrator Lambda on its schedule, the worker
 * Lambdas it invokes for runs up to the threshold, and the Fargate task for
 * larger ones. Each gets its permissions from the resources' grant methods.
 */
export class SyncTier extends AddressGroup {
  public readonly securityGroup: SecurityGroup;
  public readonly orchestrator: SyncFunction;
  public readonly worker: SyncFunction;
  public readonly task: FargateTaskDefinition;
  public readonly schedule: SyncSchedule;

  // long: a tier's composition root, one construct per step in dependency order; splitting it would only scatter the order
  constructor(scope: Construct, id: string, props: { readonly config: EnvironmentConfig; readonly foundation: Foundation; readonly data: DataTier }) {
    super(scope, id);
    const { config, foundation, data } = props;
    const { network, cluster } = foundation;
    const p = ctx(this).namePrefix;

    // Flows: the cache, and HTTPS to the upstream registry and AWS APIs.
    this.securityGroup = securityGroup(this, 'sync-sg', `${p}-sync-sg`, 'Sync Lambdas and Fargate task: egress only', network.vpc.id);
    allow(this, 'sync-to-cache', { from: this.securityGroup, to: data.cache.securityGroup, port: CACHE_PORT, description: 'Sync to Valkey (TLS)' });
    if (config.sync.importFed) {
      // Fed by bundles: no way out. The store and the state table stay reachable, through their gateway endpoints.
      allow(this, 'sync-to-s3', { from: this.securityGroup, to: { prefixListId: network.gatewayPrefixListIds.s3 }, port: 443, description: 'S3 gateway endpoint only (import-fed)' });
      allow(this, 'sync-to-dynamodb', { from: this.securityGroup, to: { prefixListId: network.gatewayPrefixListIds.dynamodb }, port: 443, description: 'DynamoDB gateway endpoint only (import-fed)' });
    } else {
      allow(this, 'sync-to-https', { from: this.securityGroup, to: { cidr: '0.0.0.0/0' }, port: 443, description: 'Upstream registry and AWS APIs over HTTPS' });
    }

    // The stack's own sync writes unless an operator pins the DR region (engine/sync/writer.ts).
    const syncEnv = { ...data.runtimeEnvironment('sync'), [SYNC_ENV.metricsNamespace]: METRICS_NAMESPACE, [SYNC_ENV.writerRole]: 'primary' };
    // The orchestrator starts the sync task, and a task interrupted by SIGTERM starts its successor:
    // both get the dispatch settings, which name the task itself (family = container name).
    const taskFamily = FargateTaskDefinition.familyOf(this, 'sync-task');
    const taskDispatchEnv = {
      [TASK_DISPATCH_ENV.syncCluster]: cluster.clusterArn,
      [TASK_DISPATCH_ENV.syncTaskFamily]: taskFamily,
      [TASK_DISPATCH_ENV.syncContainerName]: taskFamily,
      [TASK_DISPATCH_ENV.syncSubnets]: network.privateSubnetIds.join(','),
      [TASK_DISPATCH_ENV.syncSecurityGroup]: this.securityGroup.id,
      [TASK_DISPATCH_ENV.syncCapacityProvider]: cluster.capacityProvider,
    };
    this.task = new FargateTaskDefinition(this, 'sync-task', {
      name: 'sync-task',
      cpu: config.sync.taskCpu,
      memoryMiB: config.sync.taskMemoryMiB,
      repository: foundation.syncRepository.repository,
      imageTag: config.imageTag,
      environment: { ...syncEnv, ...taskDispatchEnv },
    });

    const codeSigning = new CodeSigning(this, 'code-signing', {
      untrustedArtifacts: config.lambdaCodeSigning,
      kmsKeyArn: foundation.dataKey.arn,
      accessLogs: foundation.logArchive.target(LOG_PREFIXES.lambdaArtifactsAccess),
    });
    const functionBase = {
      codeSigning,
      subnetIds: network.privateSubnetIds,
      securityGroupIds: [this.securityGroup.id],
      key: foundation.dataKey,
      timeoutSeconds: 900,
    };
    this.worker = new SyncFunction(this, 'sync-worker', {
      ...functionBase,
      name: 'sync-worker',
      handlerDir: 'sync-worker',
      description: 'Streams one batch of bottles from upstream into the bottle store',
      memoryMiB: 3008,
      reservedConcurrency: config.sync.workerReservedConcurrency,
      environment: syncEnv,
    });
    this.orchestrator = new SyncFunction(this, 'orchestrator', {
      ...functionBase,
      name: 'orchestrator',
      handlerDir: 'orchestrator',
      description: 'Verifies the Homebrew API, plans the sync and dispatches it to workers or the Fargate task',
      memoryMiB: 512,
      reservedConcurrency: config.sync.orchestratorReservedConcurrency,
      environment: {
        ...syncEnv,
        ...taskDispatchEnv,
        [ORCHESTRATOR_ENV.workerFunctionName]: this.worker.functionName,
        [ORCHESTRATOR_ENV.lambdaThresholdBytes]: String(config.sync.lambdaThresholdBytes),
        // The run's manifest carries these to the sync task, which runs the brew phase (it has git).
        ...brewSyncEnvironment(config.sync),
        // And these to the cask phase, which runs in the sync task too (a cask file may be several GB).
        ...caskSyncEnvironment(config.sync),
        // And these to the tap phase, in the sync task too (it has git, and Ruby on WASI in its image).
        ...tapSyncEnvironment(config.sync.taps, `https://${config.domainName}`),
        // What the fleet's policy forbids is left out of the run's selection (prepare.ts).
        ...policyEnvironment(config.policy),
      },
    });

    // Every sync workload reads and writes the store and the state, and shares the breaker through the cache.
    const grantSyncData = (grantee: Grantable) => {
      data.store.grantSync(grantee);
      data.state.grantStateStore(grantee);
      data.cache.grantConnect(grantee, 'sync');
    };
    grantSyncData(this.worker.role);
    this.worker.allowInvokeSelf(); // hands unstarted bottles to a continuation when time runs short
    grantSyncData(this.orchestrator.role);
    this.worker.grantInvoke(this.orchestrator.role);
    this.task.grantRun(this.orchestrator.role, cluster.clusterArn);
    grantSyncData(this.task.taskRole);
    this.task.grantRun(this.task.taskRole, cluster.clusterArn); // a task stopped by SIGTERM starts its successor

    this.schedule = new SyncSchedule(this, 'schedule', { target: this.orchestrator.function, kmsKeyArn: foundation.alertsKey.arn, weeklySync: !config.sync.importFed });
  }

  /** Every dead-letter queue of the sync, for the alarms. */
  get deadLetterQueueNames(): string[] {
    return [this.orchestrator.deadLetterQueue, this.worker.deadLetterQueue, this.schedule.deadLetterQueue].map((q) => q.nameInput!);
  }
}
