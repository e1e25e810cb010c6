import { Construct } from 'constructs';
import { CloudwatchMetricAlarmMetricQuery } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { AlarmThresholds } from '../../config/environment-config';
import { ctx } from '../environment-context';
import { REPLICATION_RULE_ID } from '../bucket-replica';
import { AlarmSet } from './alarm-set';
import { BottleStore } from '../bottle-store';
import { MonitoredResources } from './monitored-resources';

export interface DataAlarmsProps extends Pick<MonitoredResources, 'cacheNodeIds' | 'tableName' | 'replicaRegion' | 'bucketName' | 'replicaBucketName'> {
  readonly thresholds: AlarmThresholds;
}

/** The cache (worst node decides), the state table, and the replication of the table and the bottle store to the DR region. */
export class DataAlarms extends AlarmSet {
  constructor(scope: Construct, id: string, topic: SnsTopic, props: DataAlarmsProps) {
    super(scope, id, topic);
    const p = ctx(this).namePrefix;
    const t = props.thresholds;

    const worstNode = (metricName: string, stat: string): CloudwatchMetricAlarmMetricQuery[] => [
      ...props.cacheNodeIds.map(
        (node, i): CloudwatchMetricAlarmMetricQuery => ({
          id: `node${i}`,
          metric: { namespace: 'AWS/ElastiCache', metricName, dimensions: { CacheClusterId: node }, period: 300, stat },
        }),
      ),
      { id: 'worst', label: `${metricName} (worst node)`, expression: `MAX([${props.cacheNodeIds.map((_, i) => `node${i}`).join(',')}])`, returnData: true },
    ];
    const cacheAlarm = (suffix: string, metricName: string, stat: string, threshold: number, what: string) =>
      this.alarm({
        name: `${p}-cache-${suffix}`,
        description: `${what}. Runbook: docs/operations.md#cache-alarms`,
        evaluationPeriods: 3,
        comparisonOperator: 'GreaterThanThreshold',
        threshold,
        treatMissingData: 'notBreaching',
        metricQuery: worstNode(metricName, stat),
      });
    cacheAlarm('cpu', 'EngineCPUUtilization', 'Average', t.redisCpuPercent, `Cache engine CPU above ${t.redisCpuPercent}%`);
    cacheAlarm('memory', 'DatabaseMemoryUsagePercentage', 'Maximum', t.redisMemoryPercent, `Cache memory above ${t.redisMemoryPercent}%`);
    cacheAlarm('evictions', 'Evictions', 'Sum', 0, 'The cache is evicting keys (circuit-breaker state or rate limits may be lost early)');
    cacheAlarm('replication-lag', 'ReplicationLag', 'Maximum', t.redisReplicationLagSeconds, `Cache replicas lag the primary by more than ${t.redisReplicationLagSeconds}s`);

    const table = { TableName: props.tableName };
    this.alarm({
      name: `${p}-table-throttles`,
      description: 'The state table throttles requests. Runbook: docs/operations.md#table-alarms',
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
    // The operations the state store sends (constructs/state-table.ts grants exactly these).
    const operations = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'];
    this.alarm({
      name: `${p}-table-system-errors`,
      description: 'DynamoDB returns internal errors for the state table. Runbook: docs/operations.md#table-alarms',
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
      metricQuery: [
        ...operations.map(
          (operation, i): CloudwatchMetricAlarmMetricQuery => ({
            id: `op${i}`,
            metric: { namespace: 'AWS/DynamoDB', metricName: 'SystemErrors', dimensions: { ...table, Operation: operation }, period: 300, stat: 'Sum' },
          }),
        ),
        { id: 'errors', label: 'System errors', expression: `SUM([${operations.map((_, i) => `FILL(op${i}, 0)`).join(',')}])`, returnData: true },
      ],
    });
    this.alarm({
      name: `${p}-table-replication-latency`,
      description: `Replication to ${props.replicaRegion} is slower than ${t.dynamodbReplicationLatencyMs} ms. Runbook: docs/operations.md#table-alarms`,
      namespace: 'AWS/DynamoDB',
      metricName: 'ReplicationLatency',
      dimensions: { ...table, ReceivingRegion: props.replicaRegion },
      statistic: 'Average',
      period: 300,
      evaluationPeriods: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.dynamodbReplicationLatencyMs,
      treatMissingData: 'notBreaching',
    });
    this.egressAlarm(props);
    if (props.replicaBucketName) this.storeReplicationAlarms(props.replicaBucketName, props);
  }

  /**
   * The RPO budget of the bottle store (docs/operations.md, "Disaster recovery"): the standby waits for a generation's objects,
   * so slow replication delays it there, and failed replication never lets it switch.
   */
  /** Egress: what clients downloaded from the store in an hour (issue #25, fault 12). */
  private egressAlarm(props: DataAlarmsProps): void {
    const gib = props.thresholds.storeBytesDownloadedPerHour / 1024 ** 3;
    this.alarm({
      name: `${ctx(this).namePrefix}-store-egress`,
      description: `More than ${gib} GiB downloaded from the bottle store in an hour (about $${Math.round(gib * 1.073741824 * 0.09)} of S3 egress). Runbook: docs/operations.md#store-egress-alarm`,
      namespace: 'AWS/S3',
      metricName: 'BytesDownloaded',
      dimensions: { BucketName: props.bucketName, FilterId: BottleStore.DOWNLOAD_METRICS },
      statistic: 'Sum',
      period: 3600,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: props.thresholds.storeBytesDownloadedPerHour,
      treatMissingData: 'notBreaching',
    });
  }

  private storeReplicationAlarms(replicaBucketName: string, props: DataAlarmsProps): void {
    const p = ctx(this).namePrefix;
    const t = props.thresholds;
    // The bottle store's replication rule to the DR region (S3 Replication Time Control metrics).
    const replication = { SourceBucket: props.bucketName, DestinationBucket: replicaBucketName, RuleId: REPLICATION_RULE_ID };
    this.alarm({
      name: `${p}-store-replication-latency`,
      description: `Bottle-store objects take more than ${t.storeReplicationLatencySeconds} s to reach ${props.replicaRegion}. Runbook: docs/operations.md#store-replication-alarms`,
      namespace: 'AWS/S3',
      metricName: 'ReplicationLatency',
      dimensions: replication,
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 2,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: t.storeReplicationLatencySeconds,
      treatMissingData: 'notBreaching',
    });
    this.alarm({
      name: `${p}-store-replication-failed`,
      description: `Bottle-store objects failed to replicate to ${props.replicaRegion}. Runbook: docs/operations.md#store-replication-alarms`,
      namespace: 'AWS/S3',
      metricName: 'OperationsFailedReplication',
      dimensions: replication,
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
    });
  }
}
