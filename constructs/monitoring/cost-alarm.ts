import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { ctx } from '../environment-context';
import { AlarmSet } from './alarm-set';

/** Where billing metrics exist: only us-east-1, and an alarm notifies only a topic in its own region. */
export const BILLING_REGION = 'us-east-1';

export interface CostAlarmProps {
  readonly monthlyBudgetUsd: number;
  /** Provider for `BILLING_REGION`. */
  readonly provider: TerraformProvider;
}

/** Estimated monthly charges above the environment's budget, on the billing topic in us-east-1. */
export class CostAlarm extends AlarmSet {
  public readonly costAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, billingTopic: SnsTopic, props: CostAlarmProps) {
    super(scope, id, billingTopic);
    this.costAlarm = this.alarm({
      name: `${ctx(this).namePrefix}-monthly-cost`,
      description: `Estimated monthly charges passed $${props.monthlyBudgetUsd}. Runbook: docs/operations.md#monthly-cost`,
      namespace: 'AWS/Billing',
      metricName: 'EstimatedCharges',
      dimensions: { Currency: 'USD' },
      statistic: 'Maximum',
      period: 21600,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: props.monthlyBudgetUsd,
      treatMissingData: 'notBreaching',
      provider: props.provider,
    });
  }
}
