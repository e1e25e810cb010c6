import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { ctx } from '../environment-context';
import { AlarmSet } from './alarm-set';

/** Route 53 publishes health-check metrics only in us-east-1, where the alarm (and its topic) must be. */
export const ROUTE53_METRICS_REGION = 'us-east-1';

export interface EndpointAlarmProps {
  /** The Route 53 health check of the primary ALB's `/health`. */
  readonly healthCheckId: string;
  /** Provider for `ROUTE53_METRICS_REGION`. */
  readonly provider: TerraformProvider;
}

/**
 * The primary endpoint seen from outside its region: Route 53's checkers in
 * every region fail its `/health`. Unlike the ALB alarms, it does not go
 * quiet when the primary region's own metrics stop; it is the first signal
 * of the disaster-recovery runbook (docs/operations.md, "Disaster recovery").
 */
export class EndpointAlarm extends AlarmSet {
  constructor(scope: Construct, id: string, topic: SnsTopic, props: EndpointAlarmProps) {
    super(scope, id, topic);
    this.alarm({
      name: `${ctx(this).namePrefix}-endpoint-unhealthy`,
      description: `Route 53 health checkers cannot get a 200 from the primary ALB's /health in ${ctx(this).region}. Runbook: docs/operations.md#endpoint-unhealthy`,
      namespace: 'AWS/Route53',
      metricName: 'HealthCheckStatus',
      dimensions: { HealthCheckId: props.healthCheckId },
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 2,
      comparisonOperator: 'LessThanThreshold',
      threshold: 1,
      treatMissingData: 'missing',
      provider: props.provider,
    });
  }
}
