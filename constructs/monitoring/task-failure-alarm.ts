import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { CloudwatchLogMetricFilter } from '@cdktf/provider-aws/lib/cloudwatch-log-metric-filter';
import { CloudwatchLogResourcePolicy } from '@cdktf/provider-aws/lib/cloudwatch-log-resource-policy';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { METRICS_NAMESPACE } from '../../engine/runtime-config';
import { ctx } from '../environment-context';
import { policyDocument } from '../policy-document';
import { AlarmSet } from './alarm-set';

/** Metric the task-failure log filter counts, per cluster. */
export const TASK_FAILURE_METRIC = 'EcsTaskFailures';

/**
 * ECS publishes no "task failed" metric, so EventBridge routes "task stopped
 * with a non-zero exit, or failed to start" events of the cluster into a log
 * group, a metric filter counts them, and one alarm fires on the first.
 */
export class TaskFailureAlarm extends AlarmSet {
  constructor(scope: Construct, id: string, topic: SnsTopic, props: { readonly clusterArn: string }) {
    super(scope, id, topic);
    const context = ctx(this);
    const p = context.namePrefix;
    const logGroup = new CloudwatchLogGroup(this, 'task-failure-events', {
      name: `/aws/events/${p}-ecs-task-failures`,
      retentionInDays: context.logRetentionDays,
      kmsKeyId: context.logsKeyArn,
    });
    const rule = new CloudwatchEventRule(this, 'task-failure-rule', {
      name: `${p}-ecs-task-failures`,
      description: 'ECS tasks in the mirror cluster that stopped with a non-zero exit code',
      eventPattern: JSON.stringify({
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: {
          clusterArn: [props.clusterArn],
          lastStatus: ['STOPPED'],
          $or: [{ containers: { exitCode: [{ 'anything-but': 0 }] } }, { stopCode: ['TaskFailedToStart'] }],
        },
      }),
    });
    // As the provider's own example: aws:SourceArn works only on PutLogEvents, so CreateLogStream is a statement of its own
    // (conditioned on it, EventBridge could never create its stream and the alarm would be blind).
    const principals = [{ type: 'Service', identifiers: ['events.amazonaws.com', 'delivery.logs.amazonaws.com'] }];
    const delivery = policyDocument(this, 'task-failure-delivery', [
      { sid: 'EventBridgeCreatesStreams', actions: ['logs:CreateLogStream'], resources: [`${logGroup.arn}:*`], principals },
      {
        sid: 'EventBridgeWritesTaskFailures',
        actions: ['logs:PutLogEvents'],
        resources: [`${logGroup.arn}:*`],
        principals,
        condition: [{ test: 'ArnEquals', variable: 'aws:SourceArn', values: [rule.arn] }],
      },
    ]);
    new CloudwatchLogResourcePolicy(this, 'task-failure-log-policy', { policyName: `${p}-ecs-task-failure-events`, policyDocument: delivery.json });
    new CloudwatchEventTarget(this, 'task-failure-target', { rule: rule.name, arn: logGroup.arn });
    new CloudwatchLogMetricFilter(this, 'task-failure-count', {
      name: `${p}-ecs-task-failures`,
      logGroupName: logGroup.name,
      pattern: '{ $.detail.lastStatus = "STOPPED" }',
      metricTransformation: { name: TASK_FAILURE_METRIC, namespace: METRICS_NAMESPACE, value: '1', dimensions: { ClusterArn: '$.detail.clusterArn' } },
    });
    this.alarm({
      name: `${p}-ecs-task-failures`,
      description: 'A sync or mirror task stopped with an error. Runbook: docs/operations.md#ecs-task-failures',
      namespace: METRICS_NAMESPACE,
      metricName: TASK_FAILURE_METRIC,
      dimensions: { ClusterArn: props.clusterArn },
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      treatMissingData: 'notBreaching',
    });
  }
}
