import { Construct } from 'constructs';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { ctx } from '../environment-context';
import { AlarmSet } from './alarm-set';

export interface StandbyAlarmsProps {
  readonly albArnSuffix: string;
  /** Requests per 5 minutes that mean clients have failed over (health checks alone stay far below). */
  readonly failoverRequestsPer5Min: number;
  /** The primary region, named in the alarm so on-call knows where to look. */
  readonly primaryRegion: string;
}

/**
 * What only the standby can say: clients are being served from the DR
 * region. It fires whether Route 53 moved them or an engineer did, and it
 * lives in the DR region, so it still works when the primary region's
 * CloudWatch does not.
 */
export class StandbyAlarms extends AlarmSet {
  constructor(scope: Construct, id: string, topic: SnsTopic, props: StandbyAlarmsProps) {
    super(scope, id, topic);
    this.alarm({
      name: `${ctx(this).namePrefix}-serving-clients`,
      description:
        `The DR standby answers more than ${props.failoverRequestsPer5Min} requests per 5 minutes: clients have failed over from ${props.primaryRegion}. ` +
        'Runbook: docs/operations.md#standby-serving-clients',
      namespace: 'AWS/ApplicationELB',
      metricName: 'RequestCount',
      dimensions: { LoadBalancer: props.albArnSuffix },
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: props.failoverRequestsPer5Min,
      treatMissingData: 'notBreaching',
    });
  }
}
