import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { FRESHNESS_REPORT_EVENT } from '../engine/runtime-config';
import { policyDocument } from './policy-document';
import { ctx } from './environment-context';

/** Sunday 03:00 UTC: Homebrew's weekday bottle churn has settled, and it is the quietest hour for clients. */
export const WEEKLY_SYNC_SCHEDULE = 'cron(0 3 ? * SUN *)';
/** Hourly freshness report, so the freshness alarm has data between weekly runs. */
export const FRESHNESS_REPORT_SCHEDULE = 'rate(1 hour)';

export interface SyncScheduleProps {
  readonly target: LambdaFunction;
  /** CMK for the schedule's dead-letter queue; its policy must let EventBridge use it. */
  readonly kmsKeyArn: string;
  /** Default: `WEEKLY_SYNC_SCHEDULE`. */
  readonly scheduleExpression?: string;
  /**
   * Whether the weekly sync runs. An import-fed environment (issue #23) has no way out, so
   * only the hourly freshness report is scheduled.
   * @default true
   */
  readonly weeklySync?: boolean;
}

/**
 * The EventBridge rules that drive the orchestrator: the weekly sync, and an
 * hourly freshness report (the published generation's age, which the
 * freshness alarm reads). Failed deliveries are retried for an hour, then
 * land in a KMS-encrypted dead-letter queue whose depth is alarmed.
 */
export class SyncSchedule extends Construct {
  /** The weekly sync's rule; undefined for an import-fed environment. */
  public readonly rule?: CloudwatchEventRule;
  public readonly freshnessRule: CloudwatchEventRule;
  public readonly deadLetterQueue: SqsQueue;

  constructor(scope: Construct, id: string, props: SyncScheduleProps) {
    super(scope, id);
    const context = ctx(this);
    if (props.weeklySync ?? true) {
      this.rule = new CloudwatchEventRule(this, 'rule', {
        name: `${context.namePrefix}-weekly-sync`,
        description: 'Starts the weekly Homebrew bottle sync',
        scheduleExpression: props.scheduleExpression ?? WEEKLY_SYNC_SCHEDULE,
      });
    }
    this.deadLetterQueue = new SqsQueue(this, 'dlq', {
      name: `${context.namePrefix}-weekly-sync-dlq`,
      kmsMasterKeyId: props.kmsKeyArn,
      messageRetentionSeconds: 14 * 24 * 60 * 60,
    });
    this.freshnessRule = new CloudwatchEventRule(this, 'freshness-rule', {
      name: `${context.namePrefix}-freshness-report`,
      description: 'Reports the published generation age for the freshness alarm',
      scheduleExpression: FRESHNESS_REPORT_SCHEDULE,
    });
    const queuePolicy = policyDocument(this, 'dlq-policy', [
      {
        sid: 'EventBridgeDeadLetters',
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.arn],
        principals: [{ type: 'Service', identifiers: ['events.amazonaws.com'] }],
        condition: [{ test: 'ArnEquals', variable: 'aws:SourceArn', values: [...(this.rule ? [this.rule.arn] : []), this.freshnessRule.arn] }],
      },
    ]);
    new SqsQueuePolicy(this, 'dlq-access', { queueUrl: this.deadLetterQueue.url, policy: queuePolicy.json });

    const invokeOn = (id: string, rule: CloudwatchEventRule, input: object, statementId: string) => {
      new CloudwatchEventTarget(this, id, {
        rule: rule.name,
        arn: props.target.arn,
        input: JSON.stringify(input),
        retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 8 },
        deadLetterConfig: { arn: this.deadLetterQueue.arn },
      });
      new LambdaPermission(this, `${id}-permission`, {
        statementId,
        action: 'lambda:InvokeFunction',
        functionName: props.target.functionName,
        principal: 'events.amazonaws.com',
        sourceArn: rule.arn,
      });
    };
    if (this.rule) invokeOn('target', this.rule, { source: 'schedule', trigger: 'weekly' }, 'AllowWeeklySchedule');
    invokeOn('freshness-target', this.freshnessRule, FRESHNESS_REPORT_EVENT, 'AllowFreshnessSchedule');
  }
}
