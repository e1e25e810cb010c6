import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { AlarmThresholds } from '../../config/environment-config';
import { ctx } from '../environment-context';
import { AlertTopic } from './alert-topic';
import { BILLING_REGION, CostAlarm } from './cost-alarm';
import { MirrorDashboard, MirrorDashboardProps } from './dashboard';
import { DataAlarms } from './data-alarms';
import { EndpointAlarm, ROUTE53_METRICS_REGION } from './endpoint-alarm';
import { MonitoredResources } from './monitored-resources';
import { ServingAlarms } from './serving-alarms';
import { SyncAlarms } from './sync-alarms';
import { TaskFailureAlarm } from './task-failure-alarm';

export interface MonitoringProps {
  readonly alarmEmail: string;
  readonly thresholds: AlarmThresholds;
  /** CMK for the alarm topic; its policy must let CloudWatch use it. */
  readonly kmsKeyArn: string;
  /** Billing metrics exist only in us-east-1, and an alarm can only notify a topic in its own region. */
  readonly billing: { readonly provider: TerraformProvider; readonly kmsKeyArn: string };
  /** Every watched resource, once: the alarm groups and the dashboard read from it. */
  readonly resources: MonitoredResources;
  /** The standby's region and alarm names (its own stack), shown on the dashboard. Default: no standby. */
  readonly standby?: { readonly region: string; readonly alarmNames: readonly string[] };
  /** Where the runbooks are, and the environment's settings for the dashboard's text widget. */
  readonly dashboard: Pick<MirrorDashboardProps, 'runbookUrl' | 'settings'>;
}

/**
 * Alerting for the whole mirror: the on-call topic, one alarm group per part
 * of the system (every alarm notifies on ALARM and on OK and names its
 * runbook), the cost alarm in us-east-1, and the dashboard.
 */
export class Monitoring extends Construct {
  public readonly topic: SnsTopic;
  public readonly billingTopic: SnsTopic;
  public readonly dashboard: CloudwatchDashboard;
  public readonly alarms: CloudwatchMetricAlarm[];
  /** Alarms on-call looks at first; exported as stack outputs. */
  public readonly errorAlarm: CloudwatchMetricAlarm;
  public readonly durationAlarm: CloudwatchMetricAlarm;
  public readonly availabilityAlarm: CloudwatchMetricAlarm;
  public readonly freshnessAlarm: CloudwatchMetricAlarm;
  public readonly costAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const p = ctx(this).namePrefix;
    const t = props.thresholds;
    this.topic = new AlertTopic(this, 'topic', { name: `${p}-alarms`, email: props.alarmEmail, kmsKeyArn: props.kmsKeyArn }).topic;
    this.billingTopic = new AlertTopic(this, 'billing-topic', {
      name: `${p}-billing-alarms`,
      email: props.alarmEmail,
      kmsKeyArn: props.billing.kmsKeyArn,
      provider: props.billing.provider,
    }).topic;

    const r = props.resources;
    const sync = new SyncAlarms(this, 'sync-alarms', this.topic, { ...r, thresholds: t });
    const serving = new ServingAlarms(this, 'serving-alarms', this.topic, { ...r, thresholds: t });
    const data = new DataAlarms(this, 'data-alarms', this.topic, { ...r, thresholds: t });
    const tasks = new TaskFailureAlarm(this, 'task-failures', this.topic, r);
    const cost = new CostAlarm(this, 'cost', this.billingTopic, { monthlyBudgetUsd: t.monthlyCostUsd, provider: props.billing.provider });
    // us-east-1 holds Route 53's metrics as it holds billing's: the same topic carries both.
    const endpoint = r.endpointHealthCheckId
      ? new EndpointAlarm(this, 'endpoint', this.billingTopic, { healthCheckId: r.endpointHealthCheckId, provider: props.billing.provider })
      : undefined;

    this.errorAlarm = sync.errorAlarm;
    this.durationAlarm = sync.durationAlarm;
    this.freshnessAlarm = sync.freshnessAlarm;
    this.availabilityAlarm = serving.availabilityAlarm;
    this.costAlarm = cost.costAlarm;
    const regional = [...sync.alarms, ...serving.alarms, ...data.alarms, ...tasks.alarms];
    this.alarms = [...regional, this.costAlarm, ...(endpoint?.alarms ?? [])];
    this.dashboard = new MirrorDashboard(this, 'dashboard', {
      ...props.dashboard,
      subjects: r,
      alarms: regional,
      remoteAlarms: [
        { name: this.costAlarm.alarmNameInput!, arn: this.costAlarm.arn, region: BILLING_REGION },
        ...(endpoint?.alarms ?? []).map((alarm) => ({ name: alarm.alarmNameInput!, arn: alarm.arn, region: ROUTE53_METRICS_REGION })),
        ...(props.standby?.alarmNames ?? []).map((name) => ({ name, arn: ctx(this).arn('cloudwatch', `alarm:${name}`, { region: props.standby!.region }), region: props.standby!.region })),
      ],
      freshnessMaxAgeSeconds: t.freshnessMaxAgeSeconds,
    }).dashboard;
  }
}
