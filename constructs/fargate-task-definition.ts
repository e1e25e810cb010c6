import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { EcsTaskDefinition } from '@cdktf/provider-aws/lib/ecs-task-definition';
import { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository';
import { ServiceRole } from './policy';

/** UID/GID the images create for the app; the task refuses to run as root. */
export const CONTAINER_USER = '10001:10001';

export interface FargateTaskDefinitionProps {
  /** Family and container name; callers prefix it with the environment. */
  readonly family: string;
  readonly region: string;
  readonly accountId: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly repository: EcrRepository;
  readonly imageTag: string;
  readonly environment: Record<string, string>;
  /** Overrides the image's CMD (e.g. to pass runtime flags). Default: the image's own. */
  readonly command?: string[];
  /** Container port to expose, if the task serves traffic. */
  readonly containerPort?: number;
  readonly logsKeyArn: string;
  readonly logRetentionDays: number;
  /** Permissions of the application itself (the task role). */
  readonly statements: DataAwsIamPolicyDocumentStatement[];
}

/**
 * A Fargate task definition with the container baseline: non-root user,
 * read-only root filesystem (a task-scoped `/tmp` volume is the only
 * writable path), not privileged, awslogs to a KMS-encrypted group, and
 * separate execution and task roles (CKV_AWS_249).
 */
export class FargateTaskDefinition extends Construct {
  public readonly taskDefinition: EcsTaskDefinition;
  public readonly taskRole: ServiceRole;
  public readonly executionRole: ServiceRole;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly containerName: string;

  constructor(scope: Construct, id: string, props: FargateTaskDefinitionProps) {
    super(scope, id);
    this.containerName = props.family;
    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/ecs/${props.family}`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: props.logsKeyArn,
    });
    this.executionRole = new ServiceRole(this, 'execution-role', {
      name: `${props.family}-execution`,
      description: `Pulls the image and ships logs for ${props.family}`,
      servicePrincipal: 'ecs-tasks.amazonaws.com',
      accountId: props.accountId,
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
      name: `${props.family}-task`,
      description: `Application permissions of ${props.family}`,
      servicePrincipal: 'ecs-tasks.amazonaws.com',
      accountId: props.accountId,
      statements: props.statements,
    });

    const container = {
      name: this.containerName,
      image: `${props.repository.repositoryUrl}:${props.imageTag}`,
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
          'awslogs-region': props.region,
          'awslogs-stream-prefix': 'app',
        },
      },
    };

    this.taskDefinition = new EcsTaskDefinition(this, 'task', {
      family: props.family,
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
}
