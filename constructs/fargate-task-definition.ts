import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { EcsTaskDefinition } from '@cdktf/provider-aws/lib/ecs-task-definition';
import { DataAwsEcrImage } from '@cdktf/provider-aws/lib/data-aws-ecr-image';
import { ctx } from './environment-context';
import { Grantable, ServiceRole } from './service-role';

/** UID/GID the images create for the app; the task refuses to run as root. */
export const CONTAINER_USER = '10001:10001';

/** An ECR repository this stack manages (`EcrRepository`) or finds (`DataAwsEcrRepository`, a replicated one). */
export interface ImageRepository {
  readonly name: string;
  readonly arn: string;
  readonly repositoryUrl: string;
}

export interface FargateTaskDefinitionProps {
  /** Family suffix: family and container are `<env>-brew-<name>`. */
  readonly name: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly repository: ImageRepository;
  readonly imageTag: string;
  readonly environment: Record<string, string>;
  /** Overrides the image's CMD (e.g. to pass runtime flags). Default: the image's own. */
  readonly command?: string[];
  /** Container port to expose, if the task serves traffic. */
  readonly containerPort?: number;
}

/**
 * A Fargate task definition with the container baseline: non-root user,
 * read-only root filesystem (a task-scoped `/tmp` volume is the only
 * writable path), not privileged, awslogs to a KMS-encrypted group, and
 * separate execution and task roles (CKV_AWS_249). Resources grant the task
 * role what the application needs (`stateTable.grantStateStore(task.taskRole)`).
 */
export class FargateTaskDefinition extends Construct {
  public readonly taskDefinition: EcsTaskDefinition;
  public readonly taskRole: ServiceRole;
  public readonly executionRole: ServiceRole;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly containerName: string;
  public readonly family: string;

  /** The family (and container name) a task named `name` gets in `scope`'s environment. */
  static familyOf(scope: Construct, name: string): string {
    return ctx(scope).name(name);
  }

  constructor(scope: Construct, id: string, props: FargateTaskDefinitionProps) {
    super(scope, id);
    const context = ctx(this);
    const family = FargateTaskDefinition.familyOf(this, props.name);
    this.family = family;
    this.containerName = family;
    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/ecs/${family}`,
      retentionInDays: context.logRetentionDays,
      kmsKeyId: context.logsKeyArn,
    });
    this.executionRole = new ServiceRole(this, 'execution-role', {
      name: `${family}-execution`,
      description: `Pulls the image and ships logs for ${family}`,
      servicePrincipal: 'ecs-tasks.amazonaws.com',
      accountId: context.accountId,
      statements: [
        { sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
        {
          sid: 'PullImage',
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: [props.repository.arn],
        },
        { sid: 'ShipLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${this.logGroup.arn}:*`] },
      ],
    });
    this.taskRole = new ServiceRole(this, 'task-role', {
      name: `${family}-task`,
      description: `Application permissions of ${family}`,
      servicePrincipal: 'ecs-tasks.amazonaws.com',
      accountId: context.accountId,
    });

    const container = {
      name: this.containerName,
      // By digest, looked up from the tag: a tag that was never pushed fails the plan ("image not found")
      // instead of registering a task definition ECS cannot pull, and the task runs exactly what was pushed.
      // A stack synthesized for `npm run destroy` runs nothing and looks nothing up, so it destroys whatever images are left.
      image: context.teardown
        ? `${props.repository.repositoryUrl}:${props.imageTag}`
        : `${props.repository.repositoryUrl}@${new DataAwsEcrImage(this, 'image', { repositoryName: props.repository.name, imageTag: props.imageTag }).imageDigest}`,
      essential: true,
      user: CONTAINER_USER,
      readonlyRootFilesystem: true,
      privileged: false,
      linuxParameters: { initProcessEnabled: true, capabilities: { drop: ['ALL'] } },
      // Fargate's maximum: time for in-flight uploads and downloads to finish after SIGTERM.
      stopTimeout: 120,
      ...(props.command ? { command: props.command } : {}),
      environment: Object.entries(props.environment).map(([name, value]) => ({ name, value })),
      portMappings: props.containerPort ? [{ containerPort: props.containerPort, protocol: 'tcp' }] : [],
      mountPoints: [{ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false }],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': this.logGroup.name,
          'awslogs-region': context.region,
          'awslogs-stream-prefix': 'app',
        },
      },
    };

    this.taskDefinition = new EcsTaskDefinition(this, 'task', {
      family,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(props.cpu),
      memory: String(props.memoryMiB),
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      executionRoleArn: this.executionRole.role.arn,
      taskRoleArn: this.taskRole.role.arn,
      volume: [{ name: 'tmp' }],
      containerDefinitions: JSON.stringify([container]),
    });
  }

  /**
   * Lets `grantee` start this task on `clusterArn` (the orchestrator, and a
   * task handing its run to a successor), passing the task's two roles.
   * ARNs are spelled from known names: the task's own role may hold this
   * grant, and a task definition cannot reference its own ARN.
   */
  grantRun(grantee: Grantable, clusterArn: string): void {
    const context = ctx(this);
    grantee.addToPolicy(
      {
        sid: 'RunSyncTask',
        actions: ['ecs:RunTask'],
        resources: [context.arn('ecs', `task-definition/${this.family}:*`)],
        condition: [{ test: 'ArnEquals', variable: 'ecs:cluster', values: [clusterArn] }],
      },
      {
        sid: 'PassSyncTaskRoles',
        actions: ['iam:PassRole'],
        resources: [context.arn('iam', `role/${this.family}-task`, { region: '' }), context.arn('iam', `role/${this.family}-execution`, { region: '' })],
        condition: [{ test: 'StringEquals', variable: 'iam:PassedToService', values: ['ecs-tasks.amazonaws.com'] }],
      },
    );
  }
}
