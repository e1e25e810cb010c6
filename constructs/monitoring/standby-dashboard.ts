import { Construct } from 'constructs';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { METRICS, METRICS_NAMESPACE } from '../../engine/runtime-config';
import { ctx } from '../environment-context';
import { DASHBOARD_RANGES } from './dashboard';
import { DashboardLayout, Metric } from './dashboard-layout';

export interface StandbyDashboardProps {
  readonly alarms: CloudwatchMetricAlarm[];
  readonly albArnSuffix: string;
  readonly targetGroupArnSuffix: string;
  readonly clusterName: string;
  readonly mirrorServiceName: string;
  readonly webAclName: string;
  /** The bottle-store replica it serves from. */
  readonly replicaBucketName: string;
  /** The region the standby stands in for. */
  readonly primaryRegion: string;
  /** Where the runbooks are. */
  readonly runbookUrl: string;
  /** The promoted sync's task family, when the standby is the writer. */
  readonly promotedSyncFamily?: string;
}

/**
 * The dashboard on-call works from during a failover, in the DR region: the
 * primary's dashboard lives in the region that failed. The standby's alarms,
 * the traffic it takes, its tasks scaling, and, once promoted, its syncs.
 */
export class StandbyDashboard extends DashboardLayout {
  public readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: StandbyDashboardProps) {
    super(scope, id);
    const context = ctx(this);
    const alb = (metric: string, stat = 'Sum'): Metric => ['AWS/ApplicationELB', metric, 'LoadBalancer', props.albArnSuffix, { stat }];
    const targets = (metric: string, stat: string): Metric => ['AWS/ApplicationELB', metric, 'TargetGroup', props.targetGroupArnSuffix, 'LoadBalancer', props.albArnSuffix, { stat }];
    const service = (namespace: string, metric: string, stat = 'Average'): Metric => [namespace, metric, 'ClusterName', props.clusterName, 'ServiceName', props.mirrorServiceName, { stat }];
    const emf = (metric: string, stat = 'Sum'): Metric => [METRICS_NAMESPACE, metric, 'Environment', context.environment, { stat }];
    this.text(
      [
        `# ${context.namePrefix}: the DR standby of ${context.environment} in ${context.region} (primary: ${props.primaryRegion})`,
        `Runbooks: [Disaster recovery](${props.runbookUrl.replace(/#.*$/, '')}#disaster-recovery). Requests here mean clients have failed over.`,
      ].join('\n'),
    );
    this.row([
      { type: 'alarm', width: 12, height: 6, properties: { title: 'Standby alarm status', alarms: props.alarms.map((a) => a.arn) } },
      this.graph('Requests, 4xx and 5xx', [alb('RequestCount'), alb('HTTPCode_Target_4XX_Count'), alb('HTTPCode_Target_5XX_Count'), alb('HTTPCode_ELB_5XX_Count')], DASHBOARD_RANGES.serving, { width: 12, period: 60 }),
    ]);
    this.row([
      this.graph('Latency (s)', [alb('TargetResponseTime', 'p50'), alb('TargetResponseTime', 'p99')], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('Tasks: running, healthy, unhealthy', [service('ECS/ContainerInsights', 'RunningTaskCount', 'Maximum'), targets('HealthyHostCount', 'Minimum'), targets('UnHealthyHostCount', 'Maximum')], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('Tasks: CPU and memory (%)', [service('AWS/ECS', 'CPUUtilization'), service('AWS/ECS', 'MemoryUtilization')], DASHBOARD_RANGES.serving, { period: 60 }),
    ]);
    this.row([
      this.graph('WAF blocked requests', [['AWS/WAFV2', 'BlockedRequests', 'WebACL', props.webAclName, 'Region', this.region, 'Rule', 'ALL', { stat: 'Sum' }]], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('Mirror service: requests and 5xx (all tasks)', [emf(METRICS.mirrorRequests), emf(METRICS.mirrorServerErrors)], DASHBOARD_RANGES.serving, { period: 60 }),
      this.graph('Bottle store replica: objects', [['AWS/S3', 'NumberOfObjects', 'BucketName', props.replicaBucketName, 'StorageType', 'AllStorageTypes', { stat: 'Average' }]], DASHBOARD_RANGES.data, { period: 86400 }),
    ]);
    if (props.promotedSyncFamily) {
      this.row([
        this.graph('Promoted sync: runs', [emf(METRICS.syncSucceeded), emf(METRICS.syncFailed)], DASHBOARD_RANGES.sync, { period: 86400 }),
        this.graph('Promoted sync: bottles per run', [emf(METRICS.bottlesTransferred), emf(METRICS.bottlesFailed)], DASHBOARD_RANGES.sync, { period: 86400 }),
        this.graph('Promoted sync tasks running', [['ECS/ContainerInsights', 'RunningTaskCount', 'ClusterName', props.clusterName, 'TaskDefinitionFamily', props.promotedSyncFamily, { stat: 'Maximum' }]], DASHBOARD_RANGES.sync),
      ]);
    }
    this.dashboard = this.publish(`${context.namePrefix}-homebrew-mirror`);
  }
}
