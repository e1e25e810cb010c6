import { Construct } from 'constructs';
import { CloudwatchMetricAlarm, CloudwatchMetricAlarmConfig } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { AddressGroup } from '../address-group';
import { ctx } from '../environment-context';

export type AlarmSpec = Omit<CloudwatchMetricAlarmConfig, 'alarmName' | 'alarmActions' | 'okActions' | 'insufficientDataActions'> & {
  /** Full alarm name, `<env>-brew-<what>`. */
  readonly name: string;
  /** What happened, ending with the runbook section (`Runbook: docs/operations.md#<section>`). */
  readonly description: string;
};

/**
 * A group of alarms that notify one topic on ALARM and on OK. Alarm ids drop
 * the environment prefix (`alarm-orchestrator-errors`), and the group adds
 * nothing to their Terraform addresses.
 */
export class AlarmSet extends AddressGroup {
  public readonly alarms: CloudwatchMetricAlarm[] = [];

  constructor(
    scope: Construct,
    id: string,
    private readonly topic: SnsTopic,
  ) {
    super(scope, id);
  }

  protected alarm(spec: AlarmSpec, topic: SnsTopic = this.topic): CloudwatchMetricAlarm {
    const { name, description, ...config } = spec;
    if (!/Runbook: docs\/operations\.md#[a-z0-9-]+$/.test(description)) throw new Error(`alarm ${name}: the description must end with its runbook section`);
    const alarm = new CloudwatchMetricAlarm(this, name.replace(`${ctx(this).namePrefix}-`, 'alarm-'), {
      ...config,
      alarmName: name,
      alarmDescription: description,
      alarmActions: [topic.arn],
      okActions: [topic.arn],
    });
    this.alarms.push(alarm);
    return alarm;
  }
}
