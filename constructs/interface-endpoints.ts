import { Construct } from 'constructs';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
import { allow, securityGroup } from './firewall';
import { ctx } from './environment-context';

/**
 * The AWS APIs a Fargate task needs before its code runs: pulling its image
 * (ECR's API and registry; the layers come from S3 through the gateway) and
 * shipping its logs (the awslogs driver). Secrets Manager and SSM would join
 * the list the day a task definition references either.
 */
export const TASK_BOOTSTRAP_SERVICES = ['ecr.api', 'ecr.dkr', 'logs'] as const;

export interface InterfaceEndpointsProps {
  readonly vpcId: string;
  /** Subnets that get an endpoint network interface: one per AZ that should survive the others' loss. */
  readonly subnetIds: readonly string[];
  /** CIDRs of the subnets whose workloads call the APIs; the only sources the endpoints accept. */
  readonly clientCidrs: readonly string[];
  /** @default TASK_BOOTSTRAP_SERVICES */
  readonly services?: readonly string[];
}

/**
 * Interface endpoints with private DNS, so the AWS APIs resolve to addresses
 * inside the VPC and a security group can name them. A workload whose egress
 * names `securityGroup` on 443 reaches these APIs and no other host: that is
 * what lets the mirror tasks run with no rule to 0.0.0.0/0 (issue #24).
 */
export class InterfaceEndpoints extends Construct {
  /** The endpoints' network interfaces: 443 in from the client subnets, nothing out. */
  public readonly securityGroup: SecurityGroup;
  /** For `dependsOn`: a task started before its endpoints exist cannot pull its image. */
  public readonly endpoints: VpcEndpoint[];

  constructor(scope: Construct, id: string, props: InterfaceEndpointsProps) {
    super(scope, id);
    const context = ctx(this);
    this.securityGroup = securityGroup(this, 'sg', context.name('aws-apis'), 'Interface endpoints of AWS APIs: HTTPS from the private subnets only', props.vpcId);
    props.clientCidrs.forEach((cidr, i) =>
      allow(this, `from-private-${i}`, { from: { cidr }, to: this.securityGroup, port: 443, description: `HTTPS from private subnet ${i}` }),
    );
    this.endpoints = (props.services ?? TASK_BOOTSTRAP_SERVICES).map(
      (service) =>
        new VpcEndpoint(this, service.replace('.', '-'), {
          vpcId: props.vpcId,
          serviceName: `com.amazonaws.${context.region}.${service}`,
          vpcEndpointType: 'Interface',
          privateDnsEnabled: true,
          subnetIds: [...props.subnetIds],
          securityGroupIds: [this.securityGroup.id],
          tags: { Name: context.name(`${service}-interface`) },
        }),
    );
  }
}
