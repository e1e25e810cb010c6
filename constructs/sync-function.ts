import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { bundleHandler } from './lambda-bundle';
import { CustomerManagedKey } from './customer-managed-key';
import { ctx } from './environment-context';
import { CodeSigning } from './code-signing';
import { NODE_OPTIONS_ENV } from '../engine/heap';
import { Grantable, ServiceRole } from './service-role';

export interface SyncFunctionProps {
  /** Name suffix: the function is `<env>-brew-<name>`. */
  readonly name: string;
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
  readonly key: CustomerManagedKey;
  /** Signs the bundle and makes Lambda check the signature (CKV_AWS_272). */
  readonly codeSigning: CodeSigning;
}

/**
 * One Lambda function with the production baseline: Node.js 22 on arm64,
 * inside the VPC, X-Ray active tracing, JSON logs in its own KMS-encrypted log
 * group, KMS-encrypted environment, a KMS-encrypted SQS dead-letter queue,
 * reserved concurrency and a role of its own. Resources grant the role what
 * the workload needs (`bottleStore.grantSync(fn.role)`).
 */
export class SyncFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly deadLetterQueue: SqsQueue;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly role: ServiceRole;
  /** The name as a plain string: the function's own policy names itself by it, which a reference to the function would make a cycle. */
  private readonly name: string;

  /** The function's name, as a reference (what depends on it waits for the function). */
  get functionName(): string {
    return this.function.functionName;
  }

  get functionArn(): string {
    return this.function.arn;
  }

  constructor(scope: Construct, id: string, props: SyncFunctionProps) {
    super(scope, id);
    const context = ctx(this);
    const functionName = context.name(props.name);
    this.name = functionName;
    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/aws/lambda/${functionName}`,
      retentionInDays: context.logRetentionDays,
      kmsKeyId: context.logsKeyArn,
    });
    this.deadLetterQueue = new SqsQueue(this, 'dlq', {
      name: `${functionName}-dlq`,
      kmsMasterKeyId: props.key.arn,
      kmsDataKeyReusePeriodSeconds: 300,
      messageRetentionSeconds: 14 * 24 * 60 * 60,
    });

    this.role = this.executionRole(functionName, props);
    // The encrypted environment is decrypted at start; dead letters are encrypted on send.
    props.key.grantEncryptDecrypt(this.role);

    const code = bundleHandler(this, 'code', props.handlerDir);
    const signed = props.codeSigning.sign(this, 'code', props.name, code);
    this.function = new LambdaFunction(this, 'function', {
      functionName,
      description: props.description,
      role: this.role.role.arn,
      runtime: 'nodejs22.x',
      architectures: ['arm64'],
      handler: 'index.handler',
      // Deployed from the signed copy of the bundle; the hash of the bundle itself triggers updates.
      s3Bucket: signed.s3Bucket,
      s3Key: signed.s3Key,
      sourceCodeHash: code.assetHash,
      codeSigningConfigArn: props.codeSigning.config.arn,
      memorySize: props.memoryMiB,
      timeout: props.timeoutSeconds,
      reservedConcurrentExecutions: props.reservedConcurrency,
      kmsKeyArn: props.key.arn,
      environment: { variables: { ...NODE_OPTIONS_ENV, ...props.environment } },
      vpcConfig: { subnetIds: props.subnetIds, securityGroupIds: props.securityGroupIds },
      tracingConfig: { mode: 'Active' },
      loggingConfig: { logFormat: 'JSON', logGroup: this.logGroup.name, applicationLogLevel: 'INFO', systemLogLevel: 'WARN' },
      deadLetterConfig: { targetArn: this.deadLetterQueue.arn },
      // The role's log permissions must exist before the first invocation.
      dependsOn: [this.logGroup, ...(this.role.policy ? [this.role.policy] : [])],
    });
  }

  /** Lets `grantee` invoke this function (the orchestrator dispatching batches). */
  grantInvoke(grantee: Grantable): void {
    grantee.addToPolicy({ sid: `Invoke${pascal(this.node.id)}`, actions: ['lambda:InvokeFunction'], resources: [this.function.arn] });
  }

  /**
   * Lets the function invoke itself (a worker short on time hands unstarted
   * bottles to a new invocation). The ARN is spelled out: referencing the
   * function from its own role's policy would be a dependency cycle.
   */
  allowInvokeSelf(): void {
    this.role.addToPolicy({ sid: 'HandBackToSelf', actions: ['lambda:InvokeFunction'], resources: [ctx(this).arn('lambda', `function:${this.name}`)] });
  }

  /** The function's own role: its logs, its dead-letter queue, tracing, and the VPC ENIs Lambda manages for it. */
  private executionRole(functionName: string, props: SyncFunctionProps): ServiceRole {
    const context = ctx(this);
    return new ServiceRole(this, 'role', {
      name: functionName,
      description: `Execution role of ${functionName}`,
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
          sid: 'Tracing',
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        },
        // Lambda manages the function's VPC ENIs with these. Only the describe call is
        // wildcard-only; the rest take subnet, security-group and network-interface ARNs.
        {
          sid: 'CreateNetworkInterfacesInOwnSubnets',
          actions: ['ec2:CreateNetworkInterface'],
          resources: [
            ...props.subnetIds.map((id) => context.arn('ec2', `subnet/${id}`)),
            ...props.securityGroupIds.map((id) => context.arn('ec2', `security-group/${id}`)),
            context.arn('ec2', 'network-interface/*'),
          ],
        },
        {
          sid: 'ManageNetworkInterfaces',
          actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: [context.arn('ec2', 'network-interface/*')],
        },
        {
          sid: 'DescribeNetworkInterfaces',
          actions: ['ec2:DescribeNetworkInterfaces'],
          resources: ['*'],
        },
      ],
    });
  }
}

const pascal = (id: string): string => id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
