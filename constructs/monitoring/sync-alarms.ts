import { Construct } from 'constructs';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { AlarmThresholds } from '../../config/environment-config';
import { METRICS, METRICS_NAMESPACE } from '../../engine/runtime-config';
import { ctx } from '../environment-context';
import { AlarmSet } from './alarm-set';
import { MonitoredResources } from './monitored-resources';

export interface SyncAlarmsProps extends Pick<MonitoredResources, 'orchestratorFunctionName' | 'workerFunctionName' | 'deadLetterQueueNames'> {
  readonly thresholds: AlarmThresholds;
}

/** The weekly sync: orchestrator and worker failures, freshness of the published generation, dead letters. */
export class SyncAlarms extends AlarmSet {
  public readonly errorAlarm: CloudwatchMetricAlarm;
  public readonly durationAlarm: CloudwatchMetricAlarm;
  public readonly freshnessAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, topic: SnsTopic, props: SyncAlarmsProps) {
    super(scope, id, topic);
    const context = ctx(this);
    const p = context.namePrefix;
    const t = props.thresholds;
    const lambda = (functionName: string, metricName: string, statistic: string) => ({
      namespace: 'AWS/Lambda',
      metricName,
      statistic,
      dimensions: { FunctionName: functionName },
      period: 300,
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
    });

    this.errorAlarm = this.alarm({
      name: `${p}-orchestrator-errors`,
      description: `The sync orchestrator failed ${t.orchestratorErrors}+ times in 5 minutes. Runbook: docs/operations.md#orchestrator-errors`,
      ...lambda(props.orchestratorFunctionName, 'Errors', 'Sum'),
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: t.orchestratorErrors,
    });
    this.durationAlarm = this.alarm({
      name: `${p}-orchestrator-duration`,
      description: `The sync orchestrator ran longer than ${t.orchestratorDurationMs / 1000}s. Runbook: docs/operations.md#orchestrator-duration`,
      ...lambda(props.orchestratorFunctionName, 'Duration', 'Maximum'),
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.orchestratorDurationMs,
    });
    this.alarm({
      name: `${p}-worker-errors`,
      description: 'Sync workers are failing batches. Runbook: docs/operations.md#worker-errors-or-throttles',
      ...lambda(props.workerFunctionName, 'Errors', 'Sum'),
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: t.workerErrors,
    });
    this.alarm({
      name: `${p}-worker-throttles`,
      description: 'Sync workers hit their reserved concurrency. Runbook: docs/operations.md#worker-errors-or-throttles',
      ...lambda(props.workerFunctionName, 'Throttles', 'Sum'),
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
    });

    // Freshness: the orchestrator reports the published generation's age every hour (and at every finalize).
    // Weekly runs keep it under 7 days, so an 8-day threshold never fires between healthy runs;
    // silence (nothing published yet, or the reporter broken) is treated as stale.
    this.freshnessAlarm = this.alarm({
      name: `${p}-sync-freshness`,
      description: `No sync has published for ${t.freshnessMaxAgeSeconds / 86400} days. Runbook: docs/operations.md#sync-freshness`,
      namespace: METRICS_NAMESPACE,
      metricName: METRICS.generationAge,
      dimensions: { Environment: context.environment },
      statistic: 'Maximum',
      period: 3600,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.freshnessMaxAgeSeconds,
      treatMissingData: 'breaching',
    });

    for (const queueName of props.deadLetterQueueNames) {
      this.alarm({
        name: `${queueName}-depth`,
        description: `Messages in ${queueName}: work was dropped after retries. Runbook: docs/operations.md#dead-letter-queues`,
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: queueName },
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: 0,
        treatMissingData: 'notBreaching',
      });
    }
  }
}
