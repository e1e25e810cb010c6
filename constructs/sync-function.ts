import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { bundleHandler } from './lambda-bundle';
import { ServiceRole } from './policy';

export interface SyncFunctionProps {
  /** Full function name; callers prefix it with the environment. */
  readonly functionName: string;
  /** Folder under `lambdas/` holding `index.ts` with an exported `handler`. */
  readonly handlerDir: string;
  readonly description: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  /** Caps concurrency (CKV_AWS_115); also protects upstream from a stampede. */
  readonly reservedConcurrency: number;
  readonly environment: Record<string, string>;
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
  /** CMK for environment variables and the dead-letter queue. */
  readonly kmsKeyArn: string;
  readonly logsKeyArn: string;
  /** Default: 30 days. */
  readonly logRetentionDays?: number;
  /** Workload permissions beyond logging, tracing, VPC access and its own DLQ. */
  readonly statements: DataAwsIamPolicyDocumentStatement[];
}

/**
 * One Lambda function with the production baseline: Node.js 22 on arm64,
 * inside the VPC, X-Ray active tracing, JSON logs in its own KMS-encrypted log
 * group, KMS-encrypted environment, a KMS-encrypted SQS dead-letter queue,
 * reserved concurrency and a role of its own.
 */
export class SyncFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly deadLetterQueue: SqsQueue;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly role: ServiceRole;

  constructor(scope: Construct, id: string, props: SyncFunctionProps) {
    super(scope, id);
    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/aws/lambda/${props.functionName}`,
      retentionInDays: props.logRetentionDays ?? 30,
      kmsKeyId: props.logsKeyArn,
    });
    this.deadLetterQueue = new SqsQueue(this, 'dlq', {
      name: `${props.functionName}-dlq`,
      kmsMasterKeyId: props.kmsKeyArn,
      kmsDataKeyReusePeriodSeconds: 300,
      messageRetentionSeconds: 14 * 24 * 60 * 60,
    });

    this.role = new ServiceRole(this, 'role', {
      name: props.functionName,
      description: `Execution role of ${props.functionName}`,
      servicePrincipal: 'lambda.amazonaws.com',
      statements: [
        {
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${this.logGroup.arn}:*`],
        },
        {
          sid: 'DeadLetter',
          actions: ['sqs:SendMessage'],
          resources: [this.deadLetterQueue.arn],
        },
        {
          sid: 'EncryptedEnvironmentAndQueue',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.kmsKeyArn],
        },
        {
          sid: 'Tracing',
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        },
        {
          sid: 'VpcNetworkInterfaces',
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        },
        ...props.statements,
      ],
    });

    const code = bundleHandler(this, 'code', props.handlerDir);
    this.function = new LambdaFunction(this, 'function', {
      functionName: props.functionName,
      description: props.description,
      role: this.role.role.arn,
      runtime: 'nodejs22.x',
      architectures: ['arm64'],
      handler: 'index.handler',
      filename: code.path,
      sourceCodeHash: code.assetHash,
      memorySize: props.memoryMiB,
      timeout: props.timeoutSeconds,
      reservedConcurrentExecutions: props.reservedConcurrency,
      kmsKeyArn: props.kmsKeyArn,
      environment: { variables: props.environment },
      vpcConfig: { subnetIds: props.subnetIds, securityGroupIds: props.securityGroupIds },
      tracingConfig: { mode: 'Active' },
      loggingConfig: { logFormat: 'JSON', logGroup: this.logGroup.name, applicationLogLevel: 'INFO', systemLogLevel: 'WARN' },
      deadLetterConfig: { targetArn: this.deadLetterQueue.arn },
      // The role's log permissions must exist before the first invocation.
      dependsOn: [this.logGroup, ...(this.role.policy ? [this.role.policy] : [])],
    });
  }
}
