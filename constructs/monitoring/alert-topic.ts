import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
import { AddressGroup } from '../address-group';

export interface AlertTopicProps {
  readonly name: string;
  readonly email: string;
  /** CMK for the topic; its policy must let CloudWatch use it. */
  readonly kmsKeyArn: string;
  /** For a topic outside the stack's region (billing alarms live in us-east-1). */
  readonly provider?: TerraformProvider;
}

/** An encrypted SNS topic with the on-call e-mail subscribed (the subscription must be confirmed once). */
export class AlertTopic extends AddressGroup {
  public readonly topic: SnsTopic;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    // Ids keep the addresses the topics had before they had a construct of their own.
    this.topic = new SnsTopic(this, id, { name: props.name, kmsMasterKeyId: props.kmsKeyArn, provider: props.provider });
    new SnsTopicSubscription(this, `${id}-email`, { topicArn: this.topic.arn, protocol: 'email', endpoint: props.email, provider: props.provider });
  }
}
