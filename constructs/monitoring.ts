import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { CloudwatchLogMetricFilter } from '@cdktf/provider-aws/lib/cloudwatch-log-metric-filter';
import { CloudwatchLogResourcePolicy } from '@cdktf/provider-aws/lib/cloudwatch-log-resource-policy';
import {
  CloudwatchMetricAlarm,
  CloudwatchMetricAlarmConfig,
  CloudwatchMetricAlarmMetricQuery,
} from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
import { AlarmThresholds } from '../config/environments';
import { METRICS, METRICS_NAMESPACE } from '../engine/runtime-config';
import { policyDocument } from './policy';

export interface MonitoredResources {
  readonly orchestratorFunctionName: string;
  readonly workerFunctionName: string;
  /** Every dead-letter queue: any message in one means lost work. */
  readonly deadLetterQueueNames: string[];
  readonly albArnSuffix: string;
  readonly targetGroupArnSuffix: string;
  readonly cacheNodeIds: string[];
  readonly tableName: string;
  readonly replicaRegion: string;
  readonly clusterArn: string;
}

export interface MonitoringProps {
  readonly namePrefix: string;
  readonly environment: string;
  readonly region: string;
  readonly accountId: string;
  readonly alarmEmail: string;
  readonly thresholds: AlarmThresholds;
  /** CMK for the alarm topic; its policy must let CloudWatch use it. */
  readonly kmsKeyArn: string;
  readonly logsKeyArn: string;
  readonly logRetentionDays: number;
  /** Billing metrics exist only in us-east-1, and an alarm can only notify a topic in its own region. */
  readonly billing: { readonly provider: TerraformProvider; readonly kmsKeyArn: string };
  readonly resources: MonitoredResources;
}

type AlarmSpec = Omit<CloudwatchMetricAlarmConfig, 'alarmName' | 'alarmActions' | 'okActions' | 'insufficientDataActions'> & {
  readonly name: string;
  readonly description: string;
};

/**
 * Alerting for the whole mirror: one encrypted SNS topic with the on-call
 * e-mail, an alarm for each failure mode on-call acts on (every one notifies
 * on ALARM and on OK), and a dashboard that shows all of them.
 */
export class Monitoring extends Construct {
  public readonly topic: SnsTopic;
  public readonly billingTopic: SnsTopic;
  public readonly dashboard: CloudwatchDashboard;
  public readonly alarms: CloudwatchMetricAlarm[] = [];
  /** Alarms on-call looks at first; exported as stack outputs. */
  public readonly errorAlarm: CloudwatchMetricAlarm;
  public readonly durationAlarm: CloudwatchMetricAlarm;
  public readonly availabilityAlarm: CloudwatchMetricAlarm;
  public readonly freshnessAlarm: CloudwatchMetricAlarm;
  public readonly costAlarm: CloudwatchMetricAlarm;

  private readonly props: MonitoringProps;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.props = props;
    const p = props.namePrefix;
    const t = props.thresholds;
    const r = props.resources;

    this.topic = this.alertTopic('topic', `${p}-alarms`, props.kmsKeyArn);
    this.billingTopic = this.alertTopic('billing-topic', `${p}-billing-alarms`, props.billing.kmsKeyArn, props.billing.provider);

    const lambda = (functionName: string, metricName: string, statistic: string) => ({
      namespace: 'AWS/Lambda',
      metricName,
      statistic,
      dimensions: { FunctionName: functionName },
      period: 300,
      evaluationPeriods: 1,
      treatMissingData: 'notBreaching',
    });

    // Sync compute
    this.errorAlarm = this.alarm({
      name: `${p}-orchestrator-errors`,
      description: `The sync orchestrator failed ${t.orchestratorErrors}+ times in 5 minutes. Runbook: README#orchestrator-errors`,
      ...lambda(r.orchestratorFunctionName, 'Errors', 'Sum'),
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: t.orchestratorErrors,
    });
    this.durationAlarm = this.alarm({
      name: `${p}-orchestrator-duration`,
      description: `The sync orchestrator ran longer than ${t.orchestratorDurationMs / 1000}s. Runbook: README#orchestrator-duration`,
      ...lambda(r.orchestratorFunctionName, 'Duration', 'Maximum'),
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.orchestratorDurationMs,
    });
    this.alarm({
      name: `${p}-worker-errors`,
      description: 'Sync workers are failing batches. Runbook: README#worker-errors-or-throttles',
      ...lambda(r.workerFunctionName, 'Errors', 'Sum'),
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: t.workerErrors,
    });
    this.alarm({
      name: `${p}-worker-throttles`,
      description: 'Sync workers hit their reserved concurrency. Runbook: README#worker-errors-or-throttles',
      ...lambda(r.workerFunctionName, 'Throttles', 'Sum'),
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
    });

    // Freshness: the orchestrator reports the published generation's age every hour (and at every finalize).
    // Weekly runs keep it under 7 days, so an 8-day threshold never fires between healthy runs;
    // silence (nothing published yet, or the reporter broken) is treated as stale.
    this.freshnessAlarm = this.alarm({
      name: `${p}-sync-freshness`,
      description: `No sync has published for ${t.freshnessMaxAgeSeconds / 86400} days. Runbook: README#sync-freshness`,
      namespace: METRICS_NAMESPACE,
      metricName: METRICS.generationAge,
      dimensions: { Environment: props.environment },
      statistic: 'Maximum',
      period: 3600,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.freshnessMaxAgeSeconds,
      treatMissingData: 'breaching',
    });

    this.costAlarm = this.alarm(
      {
        name: `${p}-monthly-cost`,
        description: `Estimated monthly charges passed $${t.monthlyCostUsd}. Runbook: README#monthly-cost`,
        namespace: 'AWS/Billing',
        metricName: 'EstimatedCharges',
        dimensions: { Currency: 'USD' },
        statistic: 'Maximum',
        period: 21600,
        evaluationPeriods: 1,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: t.monthlyCostUsd,
        treatMissingData: 'notBreaching',
        provider: props.billing.provider,
      },
      this.billingTopic,
    );

    // Mirror service
    const alb = { LoadBalancer: r.albArnSuffix };
    const albMetric = (id: string, metricName: string): CloudwatchMetricAlarmMetricQuery => ({
      id,
      metric: { namespace: 'AWS/ApplicationELB', metricName, dimensions: alb, period: 300, stat: 'Sum' },
    });
    this.availabilityAlarm = this.alarm({
      name: `${p}-alb-5xx-rate`,
      description: `More than ${t.alb5xxRatePercent}% of mirror requests fail with 5xx. Runbook: README#alb-5xx-rate`,
      evaluationPeriods: 2,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.alb5xxRatePercent,
      treatMissingData: 'notBreaching',
      metricQuery: [
        albMetric('requests', 'RequestCount'),
        albMetric('elb5xx', 'HTTPCode_ELB_5XX_Count'),
        albMetric('target5xx', 'HTTPCode_Target_5XX_Count'),
        {
          id: 'rate',
          label: '5xx rate (%)',
          expression: 'IF(requests > 0, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)',
          returnData: true,
        },
      ],
    });
    this.alarm({
      name: `${p}-alb-unhealthy-targets`,
      description: 'A mirror task fails its /health check. Runbook: README#alb-unhealthy-targets',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      dimensions: { ...alb, TargetGroup: r.targetGroupArnSuffix },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
    });
    this.alarm({
      name: `${p}-alb-p99-latency`,
      description: `Mirror p99 latency is above ${t.albP99LatencySeconds * 1000} ms. Runbook: README#alb-p99-latency`,
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      dimensions: alb,
      extendedStatistic: 'p99',
      period: 300,
      evaluationPeriods: 2,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.albP99LatencySeconds,
      treatMissingData: 'notBreaching',
    });

    // Cache: the worst node decides.
    const worstNode = (metricName: string, stat: string) => [
      ...r.cacheNodeIds.map(
        (node, i): CloudwatchMetricAlarmMetricQuery => ({
          id: `node${i}`,
          metric: { namespace: 'AWS/ElastiCache', metricName, dimensions: { CacheClusterId: node }, period: 300, stat },
        }),
      ),
      { id: 'worst', label: `${metricName} (worst node)`, expression: `MAX([${r.cacheNodeIds.map((_, i) => `node${i}`).join(',')}])`, returnData: true },
    ];
    const cacheAlarm = (suffix: string, metricName: string, stat: string, threshold: number, what: string) =>
      this.alarm({
        name: `${p}-cache-${suffix}`,
        description: `${what}. Runbook: README#cache-alarms`,
        evaluationPeriods: 3,
        comparisonOperator: 'GreaterThanThreshold',
        threshold,
        treatMissingData: 'notBreaching',
        metricQuery: worstNode(metricName, stat),
      });
    cacheAlarm('cpu', 'EngineCPUUtilization', 'Average', t.redisCpuPercent, `Cache engine CPU above ${t.redisCpuPercent}%`);
    cacheAlarm('memory', 'DatabaseMemoryUsagePercentage', 'Maximum', t.redisMemoryPercent, `Cache memory above ${t.redisMemoryPercent}%`);
    cacheAlarm('evictions', 'Evictions', 'Sum', 0, 'The cache is evicting keys (leases or breaker state may be lost)');
    cacheAlarm(
      'replication-lag',
      'ReplicationLag',
      'Maximum',
      t.redisReplicationLagSeconds,
      `Cache replicas lag the primary by more than ${t.redisReplicationLagSeconds}s`,
    );

    // State table
    const table = { TableName: r.tableName };
    this.alarm({
      name: `${p}-table-throttles`,
      description: 'The state table throttles requests. Runbook: README#table-alarms',
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
      metricQuery: [
        { id: 'reads', metric: { namespace: 'AWS/DynamoDB', metricName: 'ReadThrottleEvents', dimensions: table, period: 300, stat: 'Sum' } },
        { id: 'writes', metric: { namespace: 'AWS/DynamoDB', metricName: 'WriteThrottleEvents', dimensions: table, period: 300, stat: 'Sum' } },
        { id: 'throttles', label: 'Throttle events', expression: 'FILL(reads, 0) + FILL(writes, 0)', returnData: true },
      ],
    });
    const operations = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchGetItem', 'BatchWriteItem', 'TransactWriteItems'];
    this.alarm({
      name: `${p}-table-system-errors`,
      description: 'DynamoDB returns internal errors for the state table. Runbook: README#table-alarms',
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
      metricQuery: [
        ...operations.map(
          (operation, i): CloudwatchMetricAlarmMetricQuery => ({
            id: `op${i}`,
            metric: {
              namespace: 'AWS/DynamoDB',
              metricName: 'SystemErrors',
              dimensions: { ...table, Operation: operation },
              period: 300,
              stat: 'Sum',
            },
          }),
        ),
        { id: 'errors', label: 'System errors', expression: `SUM([${operations.map((_, i) => `FILL(op${i}, 0)`).join(',')}])`, returnData: true },
      ],
    });
    this.alarm({
      name: `${p}-table-replication-latency`,
      description: `Replication to ${r.replicaRegion} is slower than ${t.dynamodbReplicationLatencyMs} ms. Runbook: README#table-alarms`,
      namespace: 'AWS/DynamoDB',
      metricName: 'ReplicationLatency',
      dimensions: { ...table, ReceivingRegion: r.replicaRegion },
      statistic: 'Average',
      period: 300,
      evaluationPeriods: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.dynamodbReplicationLatencyMs,
      treatMissingData: 'notBreaching',
    });

    // Containers: ECS publishes no "task failed" metric, so stopped-with-error events are counted from EventBridge.
    this.alarm({
      name: `${p}-ecs-task-failures`,
      description: 'A sync or mirror task stopped with an error. Runbook: README#ecs-task-failures',
      namespace: METRICS_NAMESPACE,
      metricName: this.taskFailureMetric(),
      dimensions: { ClusterArn: r.clusterArn },
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      treatMissingData: 'notBreaching',
    });

    for (const queueName of r.deadLetterQueueNames) {
      this.alarm({
        name: `${queueName}-depth`,
        description: `Messages in ${queueName}: work was dropped after retries. Runbook: README#dead-letter-queues`,
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

    this.dashboard = new CloudwatchDashboard(this, 'dashboard', {
      dashboardName: `${p}-homebrew-mirror`,
      dashboardBody: JSON.stringify(this.dashboardBody()),
    });
  }

  /** Creates an alarm that notifies `topic` on ALARM and on OK. */
  private alarm(spec: AlarmSpec, topic: SnsTopic = this.topic): CloudwatchMetricAlarm {
    const { name, description, ...config } = spec;
    const alarm = new CloudwatchMetricAlarm(this, name.replace(`${this.props.namePrefix}-`, 'alarm-'), {
      ...config,
      alarmName: name,
      alarmDescription: description,
      alarmActions: [topic.arn],
      okActions: [topic.arn],
    });
    this.alarms.push(alarm);
    return alarm;
  }

  private alertTopic(id: string, name: string, kmsKeyArn: string, provider?: TerraformProvider): SnsTopic {
    const topic = new SnsTopic(this, id, { name, kmsMasterKeyId: kmsKeyArn, provider });
    new SnsTopicSubscription(this, `${id}-email`, {
      topicArn: topic.arn,
      protocol: 'email',
      endpoint: this.props.alarmEmail,
      provider,
    });
    return topic;
  }

  /** Routes ECS "task stopped with a non-zero exit" events into a log group and counts them. */
  private taskFailureMetric(): string {
    const p = this.props.namePrefix;
    const metricName = 'EcsTaskFailures';
    const logGroup = new CloudwatchLogGroup(this, 'task-failure-events', {
      name: `/aws/events/${p}-ecs-task-failures`,
      retentionInDays: this.props.logRetentionDays,
      kmsKeyId: this.props.logsKeyArn,
    });
    const rule = new CloudwatchEventRule(this, 'task-failure-rule', {
      name: `${p}-ecs-task-failures`,
      description: 'ECS tasks in the mirror cluster that stopped with a non-zero exit code',
      eventPattern: JSON.stringify({
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: {
          clusterArn: [this.props.resources.clusterArn],
          lastStatus: ['STOPPED'],
          $or: [{ containers: { exitCode: [{ 'anything-but': 0 }] } }, { stopCode: ['TaskFailedToStart'] }],
        },
      }),
    });
    const delivery = policyDocument(this, 'task-failure-delivery', [
      {
        sid: 'EventBridgeWritesTaskFailures',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${logGroup.arn}:*`],
        principals: [{ type: 'Service', identifiers: ['events.amazonaws.com', 'delivery.logs.amazonaws.com'] }],
        condition: [{ test: 'ArnEquals', variable: 'aws:SourceArn', values: [rule.arn] }],
      },
    ]);
    new CloudwatchLogResourcePolicy(this, 'task-failure-log-policy', {
      policyName: `${p}-ecs-task-failure-events`,
      policyDocument: delivery.json,
    });
    new CloudwatchEventTarget(this, 'task-failure-target', { rule: rule.name, arn: logGroup.arn });
    new CloudwatchLogMetricFilter(this, 'task-failure-count', {
      name: `${p}-ecs-task-failures`,
      logGroupName: logGroup.name,
      pattern: '{ $.detail.lastStatus = "STOPPED" }',
      metricTransformation: {
        name: metricName,
        namespace: METRICS_NAMESPACE,
        value: '1',
        dimensions: { ClusterArn: '$.detail.clusterArn' },
      },
    });
    return metricName;
  }

  private dashboardBody(): Record<string, unknown> {
    const region = this.props.region;
    const widgets: Record<string, unknown>[] = [
      {
        type: 'alarm',
        x: 0,
        y: 0,
        width: 24,
        height: 6,
        properties: {
          title: 'All alarms',
          alarms: this.alarms.filter((a) => a !== this.costAlarm).map((a) => a.arn),
        },
      },
    ];
    this.alarms.forEach((alarm, i) => {
      widgets.push({
        type: 'metric',
        x: (i % 3) * 8,
        y: 6 + Math.floor(i / 3) * 6,
        width: 8,
        height: 6,
        properties: {
          title: alarm.alarmNameInput,
          region: alarm === this.costAlarm ? 'us-east-1' : region,
          annotations: { alarms: [alarm.arn] },
          view: 'timeSeries',
          stacked: false,
        },
      });
    });
    return { widgets };
  }
}
