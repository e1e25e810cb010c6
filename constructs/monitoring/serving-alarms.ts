import { Construct } from 'constructs';
import { CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { AlarmThresholds } from '../../config/environment-config';
import { ctx } from '../environment-context';
import { AlarmSet } from './alarm-set';
import { MonitoredResources } from './monitored-resources';

export interface ServingAlarmsProps extends Pick<MonitoredResources, 'albArnSuffix' | 'targetGroupArnSuffix'> {
  readonly thresholds: AlarmThresholds;
}

/** The mirror as clients see it through the ALB: failure rate, unhealthy tasks, p99 latency. */
export class ServingAlarms extends AlarmSet {
  public readonly availabilityAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, topic: SnsTopic, props: ServingAlarmsProps) {
    super(scope, id, topic);
    const p = ctx(this).namePrefix;
    const t = props.thresholds;
    const alb = { LoadBalancer: props.albArnSuffix };
    const albMetric = (metricId: string, metricName: string): CloudwatchMetricAlarmMetricQuery => ({
      id: metricId,
      metric: { namespace: 'AWS/ApplicationELB', metricName, dimensions: alb, period: 300, stat: 'Sum' },
    });
    this.availabilityAlarm = this.alarm({
      name: `${p}-alb-5xx-rate`,
      description: `More than ${t.alb5xxRatePercent}% of mirror requests fail with 5xx. Runbook: docs/operations.md#alb-5xx-rate`,
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
      description: 'A mirror task fails its /health check. Runbook: docs/operations.md#alb-unhealthy-targets',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      dimensions: { ...alb, TargetGroup: props.targetGroupArnSuffix },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
    });
    this.alarm({
      name: `${p}-alb-p99-latency`,
      description: `Mirror p99 latency is above ${t.albP99LatencySeconds * 1000} ms. Runbook: docs/operations.md#alb-p99-latency`,
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
  }
}
