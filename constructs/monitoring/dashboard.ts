import { Construct } from 'constructs';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { METRICS, METRICS_NAMESPACE } from '../../engine/runtime-config';
import { ctx } from '../environment-context';
import { DashboardLayout, Metric } from './dashboard-layout';
import { MonitoredResources } from './monitored-resources';

/** What the dashboard graphs, by name: the monitored resources it draws. */
export type DashboardSubjects = Omit<MonitoredResources, 'clusterArn' | 'replicaBucketName' | 'endpointHealthCheckId'>;

export interface MirrorDashboardProps {
  /** Alarms in the stack's region. */
  readonly alarms: CloudwatchMetricAlarm[];
  /**
   * Alarms in other regions or other stacks, by name, ARN and region: the cost alarm in us-east-1, and
   * the standby's alarms in the DR region (its own stack), so on-call sees a failover from here.
   */
  readonly remoteAlarms?: { readonly name: string; readonly arn: string; readonly region: string }[];
  readonly subjects: DashboardSubjects;
  /** The freshness alarm's threshold, drawn on the generation-age graph (seconds). */
  readonly freshnessMaxAgeSeconds: number;
  /** Where the runbooks are (docs/operations.md, "Runbooks"). */
  readonly runbookUrl: string;
  /** Lines describing this environment's settings, for the text widget. */
  readonly settings: string[];
}

/** Time ranges that fit what each group watches. */
export const DASHBOARD_RANGES = { health: '-P14D', sync: '-P14D', serving: '-PT3H', data: '-P30D' } as const;

/**
 * The on-call dashboard, grouped the way on-call reads it: health at a glance,
 * the weekly sync, serving, and data. Each group has the time range that fits
 * it; each alarm's threshold is drawn on its metric's graph.
 */
export class MirrorDashboard extends DashboardLayout {
  public readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: MirrorDashboardProps) {
    super(scope, id);
    const context = ctx(this);
    this.healthRows(props);
    this.syncRows(props);
    this.servingRows(props);
    this.dataRows(props);
    if (props.remoteAlarms?.length) {
      this.row(props.remoteAlarms.map(({ name, arn, region }) => ({ type: 'metric', width: 8, height: 6, properties: { title: `${name} (${region})`, region, annotations: { alarms: [arn] }, view: 'timeSeries', stacked: false } })));
    }
    this.dashboard = this.publish(`${context.namePrefix}-homebrew-mirror`);
  }

  /** The alarm's threshold as a line on its graph. */
  private threshold(props: MirrorDashboardProps, suffix: string): { value: unknown; label: string }[] {
    const alarm = props.alarms.find((a) => a.alarmNameInput === `${ctx(this).namePrefix}-${suffix}`);
    return alarm ? [{ value: alarm.thresholdInput, label: `${alarm.alarmNameInput} threshold` }] : [];
  }

  /** Health at a glance: settings and runbooks, alarm status, freshness. */
  private healthRows(props: MirrorDashboardProps): void {
    const context = ctx(this);
    const env = { Environment: context.environment };
    this.text(
      [
        `# ${context.namePrefix}: Homebrew bottle mirror`,
        `Runbooks: [Runbooks](${props.runbookUrl}); every alarm's description names its section.`,
        ...props.settings.map((line) => `- ${line}`),
      ].join('\n'),
    );
    this.row([
      { type: 'alarm', width: 12, height: 6, properties: { title: 'Alarm status', alarms: props.alarms.map((a) => a.arn) } },
      this.graph('Published generation age (days)', [[METRICS_NAMESPACE, METRICS.generationAge, 'Environment', env.Environment, { stat: 'Maximum', id: 'age', visible: false }], [{ expression: 'age / 86400', label: 'age (days)', id: 'days' }]], DASHBOARD_RANGES.health, {
        width: 12,
        horizontal: [{ value: props.freshnessMaxAgeSeconds / 86400, label: `${context.namePrefix}-sync-freshness threshold` }],
      }),
    ]);

  }

  /** The weekly sync over 14 days: per run, the Lambdas, the Fargate task, dead letters. */
  private syncRows(props: MirrorDashboardProps): void {
    const s = props.subjects;
    const environment = ctx(this).environment;
    const threshold = (suffix: string) => this.threshold(props, suffix);
    const lambda = (name: string, metric: string, stat = 'Sum'): Metric => ['AWS/Lambda', metric, 'FunctionName', name, { stat }];
    const emf = (metric: string, stat = 'Sum'): Metric => [METRICS_NAMESPACE, metric, 'Environment', environment, { stat }];
    this.row([
      this.graph('Sync: bottles per run', [emf(METRICS.bottlesTransferred), emf(METRICS.bottlesFailed)], DASHBOARD_RANGES.sync, { period: 86400 }),
      this.graph('Sync: bytes per run', [emf(METRICS.bytesTransferred)], DASHBOARD_RANGES.sync, { period: 86400 }),
      this.graph('Sync: runs and duration', [emf(METRICS.syncSucceeded), emf(METRICS.syncFailed), [...emf(METRICS.syncDuration, 'Maximum').slice(0, 4), { stat: 'Maximum', yAxis: 'right' }]], DASHBOARD_RANGES.sync, { period: 86400 }),
    ]);
    this.row([
      this.graph('Orchestrator', [lambda(s.orchestratorFunctionName, 'Invocations'), lambda(s.orchestratorFunctionName, 'Errors'), lambda(s.orchestratorFunctionName, 'Throttles')], DASHBOARD_RANGES.sync, { horizontal: threshold('orchestrator-errors') }),
      this.graph('Orchestrator duration (ms)', [lambda(s.orchestratorFunctionName, 'Duration', 'Maximum')], DASHBOARD_RANGES.sync, { horizontal: threshold('orchestrator-duration') }),
      this.graph('Workers', [lambda(s.workerFunctionName, 'Invocations'), lambda(s.workerFunctionName, 'Errors'), lambda(s.workerFunctionName, 'Throttles'), lambda(s.workerFunctionName, 'ConcurrentExecutions', 'Maximum')], DASHBOARD_RANGES.sync, { horizontal: threshold('worker-errors') }),
    ]);
    this.row([
      this.graph('Worker duration (ms)', [lambda(s.workerFunctionName, 'Duration', 'Average'), lambda(s.workerFunctionName, 'Duration', 'Maximum')], DASHBOARD_RANGES.sync),
      this.graph('Fargate sync tasks running', [['ECS/ContainerInsights', 'RunningTaskCount', 'ClusterName', s.clusterName, 'TaskDefinitionFamily', s.syncTaskFamily, { stat: 'Maximum' }]], DASHBOARD_RANGES.sync),
      this.graph('Dead-letter queues', s.deadLetterQueueNames.map((q) => ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', q, { stat: 'Maximum' }]), DASHBOARD_RANGES.sync, { horizontal: [{ value: 0, label: 'any message is dropped work' }] }),
    ]);

  }

  /** Serving over 3 hours: the ALB, the mirror tasks, WAF, and the mirror's own figures. */
  private servingRows(props: MirrorDashboardProps): void {
    const s = props.subjects;
    const environment = ctx(this).environment;
    const alb = (metric: string, stat = 'Sum'): Metric => ['AWS/ApplicationELB', metric, 'LoadBalancer', s.albArnSuffix, { stat }];
    const service = (namespace: string, metric: string, stat = 'Average'): Metric => [namespace, metric, 'ClusterName', s.clusterName, 'ServiceName', s.mirrorServiceName, { stat }];
    this.row([
      this.graph('Requests, 4xx and 5xx', [alb('RequestCount'), alb('HTTPCode_Target_4XX_Count'), alb('HTTPCode_Target_5XX_Count'), alb('HTTPCode_ELB_5XX_Count')], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('Latency (s)', [alb('TargetResponseTime', 'p50'), alb('TargetResponseTime', 'p99')], DASHBOARD_RANGES.serving, { period: 60, horizontal: this.threshold(props, 'alb-p99-latency') }),
      this.graph('Healthy and unhealthy tasks', [['AWS/ApplicationELB', 'HealthyHostCount', 'TargetGroup', s.targetGroupArnSuffix, 'LoadBalancer', s.albArnSuffix, { stat: 'Minimum' }], ['AWS/ApplicationELB', 'UnHealthyHostCount', 'TargetGroup', s.targetGroupArnSuffix, 'LoadBalancer', s.albArnSuffix, { stat: 'Maximum' }]], DASHBOARD_RANGES.serving, { period: 60 }),
    ]);
    this.row([
      this.graph('Mirror tasks: CPU and memory (%)', [service('AWS/ECS', 'CPUUtilization'), service('AWS/ECS', 'MemoryUtilization')], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('Mirror tasks running', [service('ECS/ContainerInsights', 'RunningTaskCount', 'Maximum')], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('WAF blocked requests', [['AWS/WAFV2', 'BlockedRequests', 'WebACL', s.webAclName, 'Region', this.region, 'Rule', 'ALL', { stat: 'Sum' }]], DASHBOARD_RANGES.serving, { period: 60 }),
    ]);

    const mirror = (metric: string): Metric => [METRICS_NAMESPACE, metric, 'Environment', environment, { stat: 'Sum', id: metric.replace('Mirror', '').toLowerCase() }];
    this.row([
      this.graph('Mirror service: requests and 5xx (all tasks)', [mirror(METRICS.mirrorRequests), mirror(METRICS.mirrorServerErrors)], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('Mirror service: bytes served', [mirror(METRICS.mirrorBytesServed)], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph(
        'Mirror service: lookup hit ratio (%)',
        [
          [...mirror(METRICS.mirrorLookupHits).slice(0, 4), { stat: 'Sum', id: 'hits', visible: false }],
          [...mirror(METRICS.mirrorLookupMisses).slice(0, 4), { stat: 'Sum', id: 'misses', visible: false }],
          [{ expression: 'IF(hits + misses > 0, 100 * hits / (hits + misses), 100)', label: 'hit ratio (%)', id: 'ratio' }],
        ],
        DASHBOARD_RANGES.serving,
        { period: 300 },
      ),
    ]);
    // Token mode: the blob bytes each team drew (MirrorTeamBytes by Team), one line per team.
    this.row([
      this.graph(
        'Mirror service: bytes per team (token mode)',
        [[{ expression: `SEARCH('{${METRICS_NAMESPACE},Environment,Team} MetricName="${METRICS.mirrorTeamBytes}" Environment="${environment}"', 'Sum', 300)`, id: 'teams', label: '' }]],
        DASHBOARD_RANGES.serving,
        { period: 300 },
      ),
    ]);

  }

  /** Data over 30 days: the bottle store, the state table, the cache. */
  private dataRows(props: MirrorDashboardProps): void {
    const s = props.subjects;
    const node = (metric: string, stat: string): Metric[] => s.cacheNodeIds.map((id) => ['AWS/ElastiCache', metric, 'CacheClusterId', id, { stat }]);
    const table = (metric: string, stat = 'Sum', extra: string[] = []): Metric => ['AWS/DynamoDB', metric, 'TableName', s.tableName, ...extra, { stat }];
    this.row([
      this.graph('Bottle store size (bytes)', [['AWS/S3', 'BucketSizeBytes', 'BucketName', s.bucketName, 'StorageType', 'StandardStorage', { stat: 'Average' }]], DASHBOARD_RANGES.data, { period: 86400 }),
      this.graph('Bottle store objects', [['AWS/S3', 'NumberOfObjects', 'BucketName', s.bucketName, 'StorageType', 'AllStorageTypes', { stat: 'Average' }]], DASHBOARD_RANGES.data, { period: 86400 }),
      this.graph(`State table: throttles and replication to ${s.replicaRegion} (ms)`, [table('ReadThrottleEvents'), table('WriteThrottleEvents'), [...table('ReplicationLatency', 'Average', ['ReceivingRegion', s.replicaRegion]).slice(0, -1), { stat: 'Average', yAxis: 'right' }]], DASHBOARD_RANGES.data, { period: 3600 }),
    ]);
    this.row([
      this.graph('Cache: engine CPU (%)', node('EngineCPUUtilization', 'Average'), DASHBOARD_RANGES.data, { period: 3600, horizontal: this.threshold(props, 'cache-cpu') }),
      this.graph('Cache: memory (%)', node('DatabaseMemoryUsagePercentage', 'Maximum'), DASHBOARD_RANGES.data, { period: 3600, horizontal: this.threshold(props, 'cache-memory') }),
      this.graph('Cache: evictions and replication lag (s)', [...node('Evictions', 'Sum'), ...node('ReplicationLag', 'Maximum').map((m) => [...m.slice(0, -1), { stat: 'Maximum', yAxis: 'right' }])], DASHBOARD_RANGES.data, { period: 3600 }),
    ]);
  }
}
