import type { FleetPolicy } from '../engine/policy/fleet-policy';
import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { METRICS_NAMESPACE, PROMOTED_SYNC_TASK_ENV, brewSyncEnvironment, caskSyncEnvironment, policyEnvironment, tapSyncEnvironment } from '../engine/runtime-config';
import { BottleStore } from './bottle-store';
import { ctx } from './environment-context';
import { FargateTaskDefinition, ImageRepository } from './fargate-task-definition';
import { allow, securityGroup } from './firewall';
import { ServiceRole } from './service-role';
import { ReplicaData } from './standby-handoff';
import { StateTable } from './state-table';
import { WEEKLY_SYNC_SCHEDULE } from './sync-schedule';

export interface PromotedSyncProps {
  readonly vpcId: string;
  readonly subnetIds: string[];
  readonly clusterArn: string;
  /** The replicated sync image. */
  readonly images: ImageRepository;
  readonly imageTag: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** The replicas it writes to, found through the primary's handoff. */
  readonly replicas: ReplicaData;
  /** Mirror brew itself, as the primary's sync does. @default true */
  readonly mirrorBrew?: boolean;
  /** @default 3 (`SYNC_DEFAULTS.brewReleases`) */
  readonly brewReleases?: number;
  /** The casks the primary mirrors. @default none */
  readonly casks?: readonly string[];
  /** @default none */
  readonly allowUnpinnedCasks?: readonly string[];
  /** The taps the primary mirrors (`user/repo=URL`), and the public URL their rewrite names. @default none */
  readonly taps?: readonly string[];
  /** `https://<domainName>`: the same URL the primary's taps name, so clients see one history. */
  readonly publicUrl?: string;
  /** The fleet's policy, as the primary's sync applies it. @default none */
  readonly policy?: FleetPolicy;
}

/**
 * The DR region as writer, after a promotion (issue #15; docs/operations.md, "Disaster
 * recovery"): the sync task in its `promoted` role, one whole sync per run
 * against the replicas, started by the weekly schedule or by hand. It exists
 * only while the standby is configured as writer, and runs only while the
 * writer pin names this region (engine/sync/writer.ts), so deploying it
 * early changes nothing.
 */
export class PromotedSync extends Construct {
  public readonly task: FargateTaskDefinition;
  public readonly securityGroup: SecurityGroup;
  public readonly rule: CloudwatchEventRule;

  constructor(scope: Construct, id: string, props: PromotedSyncProps) {
    super(scope, id);
    const context = ctx(this);
    const { replicas } = props;
    this.securityGroup = securityGroup(this, 'sg', context.name('sync-sg'), 'Promoted sync task: egress only', props.vpcId);
    allow(this, 'to-https', { from: this.securityGroup, to: { cidr: '0.0.0.0/0' }, port: 443, description: 'Upstream registry and AWS APIs over HTTPS' });

    this.task = new FargateTaskDefinition(this, 'task', {
      name: 'sync-task',
      cpu: props.cpu,
      memoryMiB: props.memoryMiB,
      repository: props.images,
      imageTag: props.imageTag,
      environment: {
        [PROMOTED_SYNC_TASK_ENV.environment]: context.environment,
        [PROMOTED_SYNC_TASK_ENV.bottleBucket]: replicas.bucketName,
        [PROMOTED_SYNC_TASK_ENV.stateTable]: replicas.tableName,
        [PROMOTED_SYNC_TASK_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [PROMOTED_SYNC_TASK_ENV.writerRole]: 'promoted',
        ...brewSyncEnvironment(props),
        ...caskSyncEnvironment(props),
        ...tapSyncEnvironment(props.taps, props.publicUrl ?? ''),
        ...policyEnvironment(props.policy),
      },
    });
    const role = this.task.taskRole;
    role.addToPolicy(...BottleStore.syncStatements(replicas.bucketArn), StateTable.stateStoreStatement(replicas.tableArn));
    // The replicas' key: objects and the table's items are encrypted and decrypted with it.
    role.addKeyActions(replicas.keyArn, 'DrData', ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);

    this.rule = new CloudwatchEventRule(this, 'schedule', {
      name: context.name('weekly-sync'),
      description: 'The weekly sync in the DR region while it is promoted (Sunday 03:00 UTC, as the primary)',
      scheduleExpression: WEEKLY_SYNC_SCHEDULE,
    });
    const events = new ServiceRole(this, 'events-role', {
      name: context.name('weekly-sync-events'),
      description: 'Lets EventBridge start the promoted sync task',
      servicePrincipal: 'events.amazonaws.com',
    });
    this.task.grantRun(events, props.clusterArn);
    new CloudwatchEventTarget(this, 'target', {
      rule: this.rule.name,
      arn: props.clusterArn,
      roleArn: events.role.arn,
      retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 8 },
      ecsTarget: {
        taskDefinitionArn: this.task.taskDefinition.arn,
        taskCount: 1,
        launchType: 'FARGATE',
        platformVersion: 'LATEST',
        networkConfiguration: { subnets: props.subnetIds, securityGroups: [this.securityGroup.id], assignPublicIp: false },
      },
    });
  }
}
