import { Construct } from 'constructs';
import { Fn } from 'cdktf';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DefaultSecurityGroup } from '@cdktf/provider-aws/lib/default-security-group';
import { Eip } from '@cdktf/provider-aws/lib/eip';
import { FlowLog } from '@cdktf/provider-aws/lib/flow-log';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway';
import { Route } from '@cdktf/provider-aws/lib/route';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
import { ServiceRole } from './service-role';
import { ctx } from './environment-context';

export interface NetworkProps {
  readonly cidrBlock: string;
  /** Exactly three AZs: every tier spans all of them. */
  readonly availabilityZones: readonly string[];
  /** `one-per-az` (default) keeps egress alive through an AZ failure. */
  readonly natGateways?: 'one-per-az' | 'single';
}

/**
 * A three-AZ VPC: public subnets for the ALB and NAT gateways, private subnets
 * for everything else, gateway endpoints so S3 and DynamoDB traffic (the bulk
 * of bottle bytes) bypasses NAT, flow logs, and a default security group that
 * allows nothing (CKV2_AWS_12).
 */
export class Network extends Construct {
  public readonly vpc: Vpc;
  public readonly publicSubnetIds: string[];
  public readonly privateSubnetIds: string[];
  public readonly natGatewayCount: number;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const context = ctx(this);
    if (props.availabilityZones.length !== 3) {
      throw new Error(`Network needs exactly 3 availability zones, got ${props.availabilityZones.length}`);
    }
    const name = (suffix: string) => ({ Name: `${context.namePrefix}-${suffix}` });

    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: props.cidrBlock,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: name('vpc'),
    });

    // Adopt the default security group and strip every rule from it.
    new DefaultSecurityGroup(this, 'default-sg', { vpcId: this.vpc.id, ingress: [], egress: [], tags: name('default-deny') });

    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id, tags: name('igw') });
    const publicRoutes = new RouteTable(this, 'public-rt', { vpcId: this.vpc.id, tags: name('public') });
    new Route(this, 'public-default', {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: '0.0.0.0/0',
      gatewayId: igw.id,
    });

    // /20 per subnet: 3 public (index 0-2) and 3 private (index 8-10) leave room to grow.
    const publicSubnets = props.availabilityZones.map(
      (az, i) =>
        new Subnet(this, `public-${i}`, {
          vpcId: this.vpc.id,
          availabilityZone: az,
          cidrBlock: Fn.cidrsubnet(props.cidrBlock, 4, i),
          mapPublicIpOnLaunch: false, // nothing here gets a public IP unless it asks (CKV_AWS_130)
          tags: { ...name(`public-${az}`), Tier: 'public' },
        }),
    );
    publicSubnets.forEach(
      (subnet, i) => new RouteTableAssociation(this, `public-assoc-${i}`, { subnetId: subnet.id, routeTableId: publicRoutes.id }),
    );

    this.natGatewayCount = props.natGateways === 'single' ? 1 : props.availabilityZones.length;
    const natGateways = Array.from({ length: this.natGatewayCount }, (_, i) => {
      const eip = new Eip(this, `nat-eip-${i}`, { domain: 'vpc', tags: name(`nat-${i}`) });
      return new NatGateway(this, `nat-${i}`, {
        allocationId: eip.id,
        subnetId: publicSubnets[i].id,
        tags: name(`nat-${props.availabilityZones[i]}`),
        dependsOn: [igw],
      });
    });

    const privateRouteTables: RouteTable[] = [];
    const privateSubnets = props.availabilityZones.map((az, i) => {
      const subnet = new Subnet(this, `private-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az,
        cidrBlock: Fn.cidrsubnet(props.cidrBlock, 4, 8 + i),
        tags: { ...name(`private-${az}`), Tier: 'private' },
      });
      const table = new RouteTable(this, `private-rt-${i}`, { vpcId: this.vpc.id, tags: name(`private-${az}`) });
      new Route(this, `private-default-${i}`, {
        routeTableId: table.id,
        destinationCidrBlock: '0.0.0.0/0',
        natGatewayId: natGateways[Math.min(i, natGateways.length - 1)].id,
      });
      new RouteTableAssociation(this, `private-assoc-${i}`, { subnetId: subnet.id, routeTableId: table.id });
      privateRouteTables.push(table);
      return subnet;
    });

    for (const service of ['s3', 'dynamodb']) {
      new VpcEndpoint(this, `${service}-endpoint`, {
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${context.region}.${service}`,
        vpcEndpointType: 'Gateway',
        routeTableIds: privateRouteTables.map((t) => t.id),
        tags: name(`${service}-gateway`),
      });
    }

    const flowLogGroup = new CloudwatchLogGroup(this, 'flow-logs', {
      name: `/${context.namePrefix}/vpc/flow-logs`,
      retentionInDays: context.logRetentionDays,
      kmsKeyId: context.logsKeyArn,
    });
    const flowLogRole = new ServiceRole(this, 'flow-log-role', {
      name: `${context.namePrefix}-vpc-flow-logs`,
      description: 'Lets VPC Flow Logs write to its log group',
      servicePrincipal: 'vpc-flow-logs.amazonaws.com',
      accountId: context.accountId,
      statements: [
        {
          sid: 'WriteFlowLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [flowLogGroup.arn, `${flowLogGroup.arn}:*`],
        },
      ],
    });
    new FlowLog(this, 'flow-log', {
      vpcId: this.vpc.id,
      trafficType: 'ALL',
      logDestinationType: 'cloud-watch-logs',
      logDestination: flowLogGroup.arn,
      iamRoleArn: flowLogRole.role.arn,
      maxAggregationInterval: 60,
      tags: name('flow-log'),
    });

    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
  }
}
