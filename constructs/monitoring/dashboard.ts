import { Construct } from 'constructs';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { AddressGroup } from '../address-group';
import { ctx } from '../environment-context';

export interface MirrorDashboardProps {
  /** Alarms in the stack's region. */
  readonly alarms: CloudwatchMetricAlarm[];
  /** Alarms in other regions, with their region (the cost alarm lives in us-east-1). */
  readonly remoteAlarms?: { readonly alarm: CloudwatchMetricAlarm; readonly region: string }[];
}

/** The on-call dashboard: the status of every alarm, then one graph per alarm. */
export class MirrorDashboard extends AddressGroup {
  public readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: MirrorDashboardProps) {
    super(scope, id);
    const region = ctx(this).region;
    const graphs = [...props.alarms.map((alarm) => ({ alarm, region })), ...(props.remoteAlarms ?? [])];
    const widgets: Record<string, unknown>[] = [
      { type: 'alarm', x: 0, y: 0, width: 24, height: 6, properties: { title: 'All alarms', alarms: props.alarms.map((a) => a.arn) } },
      ...graphs.map(({ alarm, region: alarmRegion }, i) => ({
        type: 'metric',
        x: (i % 3) * 8,
        y: 6 + Math.floor(i / 3) * 6,
        width: 8,
        height: 6,
        properties: { title: alarm.alarmNameInput, region: alarmRegion, annotations: { alarms: [alarm.arn] }, view: 'timeSeries', stacked: false },
      })),
    ];
    this.dashboard = new CloudwatchDashboard(this, 'dashboard', {
      dashboardName: `${ctx(this).namePrefix}-homebrew-mirror`,
      dashboardBody: JSON.stringify({ widgets }),
    });
  }
}
