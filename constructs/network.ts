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
import { InterfaceEndpoints } from './interface-endpoints';
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
 * of bottle bytes) bypasses NAT, interface endpoints for what a Fargate task
 * needs to start (ECR, CloudWatch Logs), flow logs, and a default security
 * group that allows nothing (CKV2_AWS_12).
 */
export class Network extends Construct {
  public readonly vpc: Vpc;
  public readonly publicSubnetIds: string[];
  public readonly privateSubnetIds: string[];
  public readonly natGatewayCount: number;
  /** The S3 and DynamoDB gateway endpoints' prefix lists: a security group that may reach only those AWS APIs names them. */
  public readonly gatewayPrefixListIds: { readonly s3: string; readonly dynamodb: string };
  /** ECR's and CloudWatch Logs' interface endpoints: a task whose 443 egress names their group needs no route out. */
  public readonly awsApis: InterfaceEndpoints;
  /**
   * What anything internet-facing in the public subnets must wait for: AWS
   * refuses an internet-facing load balancer in a VPC whose gateway is not
   * attached yet (`InvalidSubnet: VPC … has no internet gateway`).
   */
  public readonly internetGateway: InternetGateway;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.availabilityZones.length !== 3) {
      throw new Error(`Network needs exactly 3 availability zones, got ${props.availabilityZones.length}`);
    }
    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: props.cidrBlock,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: this.nameTag('vpc'),
    });
    // Adopt the default security group and strip every rule from it.
    new DefaultSecurityGroup(this, 'default-sg', { vpcId: this.vpc.id, ingress: [], egress: [], tags: this.nameTag('default-deny') });

    const { subnets: publicSubnets, internetGateway } = this.publicSubnets(props);
    this.internetGateway = internetGateway;
    this.natGatewayCount = props.natGateways === 'single' ? 1 : props.availabilityZones.length;
    const natGateways = Array.from({ length: this.natGatewayCount }, (_, i) => {
      // The provider's own advice for an EIP in a VPC: depend on the gateway explicitly.
      const eip = new Eip(this, `nat-eip-${i}`, { domain: 'vpc', tags: this.nameTag(`nat-${i}`), dependsOn: [internetGateway] });
      return new NatGateway(this, `nat-${i}`, {
        allocationId: eip.id,
        subnetId: publicSubnets[i].id,
        tags: this.nameTag(`nat-${props.availabilityZones[i]}`),
        dependsOn: [internetGateway],
      });
    });
    const { subnets: privateSubnets, routeTables } = this.privateSubnets(props, natGateways);
    this.gatewayPrefixListIds = this.gatewayEndpoints(routeTables);
    // As many AZs as NAT gateways, for the same reason: one per AZ survives an AZ's loss; one in all is cheaper.
    this.awsApis = new InterfaceEndpoints(this, 'aws-apis', {
      vpcId: this.vpc.id,
      subnetIds: privateSubnets.slice(0, this.natGatewayCount).map((s) => s.id),
      clientCidrs: privateSubnets.map((s) => s.cidrBlock),
    });
    this.flowLogs();
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
  }

  private nameTag(suffix: string): { Name: string } {
    return { Name: ctx(this).name(suffix) };
  }

  /** /20 per subnet: 3 public (index 0-2) and 3 private (index 8-10) leave room to grow. */
  private publicSubnets(props: NetworkProps): { subnets: Subnet[]; internetGateway: InternetGateway } {
    const internetGateway = new InternetGateway(this, 'igw', { vpcId: this.vpc.id, tags: this.nameTag('igw') });
    const routes = new RouteTable(this, 'public-rt', { vpcId: this.vpc.id, tags: this.nameTag('public') });
    new Route(this, 'public-default', { routeTableId: routes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: internetGateway.id });
    const subnets = props.availabilityZones.map(
      (az, i) =>
        new Subnet(this, `public-${i}`, {
          vpcId: this.vpc.id,
          availabilityZone: az,
          cidrBlock: Fn.cidrsubnet(props.cidrBlock, 4, i),
          mapPublicIpOnLaunch: false, // nothing here gets a public IP unless it asks (CKV_AWS_130)
          tags: { ...this.nameTag(`public-${az}`), Tier: 'public' },
        }),
    );
    subnets.forEach((subnet, i) => new RouteTableAssociation(this, `public-assoc-${i}`, { subnetId: subnet.id, routeTableId: routes.id }));
    return { subnets, internetGateway };
  }

  /** One route table per AZ, each to its own NAT gateway (or the single one). */
  private privateSubnets(props: NetworkProps, natGateways: NatGateway[]): { subnets: Subnet[]; routeTables: RouteTable[] } {
    const routeTables: RouteTable[] = [];
    const subnets = props.availabilityZones.map((az, i) => {
      const subnet = new Subnet(this, `private-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az,
        cidrBlock: Fn.cidrsubnet(props.cidrBlock, 4, 8 + i),
        tags: { ...this.nameTag(`private-${az}`), Tier: 'private' },
      });
      const table = new RouteTable(this, `private-rt-${i}`, { vpcId: this.vpc.id, tags: this.nameTag(`private-${az}`) });
      new Route(this, `private-default-${i}`, {
        routeTableId: table.id,
        destinationCidrBlock: '0.0.0.0/0',
        natGatewayId: natGateways[Math.min(i, natGateways.length - 1)].id,
      });
      new RouteTableAssociation(this, `private-assoc-${i}`, { subnetId: subnet.id, routeTableId: table.id });
      routeTables.push(table);
      return subnet;
    });
    return { subnets, routeTables };
  }

  /** S3 and DynamoDB traffic (the bulk of bottle bytes) bypasses NAT. */
  private gatewayEndpoints(routeTables: RouteTable[]): { s3: string; dynamodb: string } {
    const [s3, dynamodb] = (['s3', 'dynamodb'] as const).map((service) =>
      new VpcEndpoint(this, `${service}-endpoint`, {
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${ctx(this).region}.${service}`,
        vpcEndpointType: 'Gateway',
        routeTableIds: routeTables.map((t) => t.id),
        tags: this.nameTag(`${service}-gateway`),
      }).prefixListId,
    );
    return { s3, dynamodb };
  }

  private flowLogs(): void {
    const context = ctx(this);
    const flowLogGroup = new CloudwatchLogGroup(this, 'flow-logs', {
      name: `/${context.namePrefix}/vpc/flow-logs`,
      retentionInDays: context.securityLogRetentionDays,
      kmsKeyId: context.logsKeyArn,
    });
    const flowLogRole = new ServiceRole(this, 'flow-log-role', {
      name: context.name('vpc-flow-logs'),
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
      tags: this.nameTag('flow-log'),
      // Created before the role may write, the flow log starts in a delivery-permission error.
      dependsOn: flowLogRole.policy ? [flowLogRole.policy] : [],
    });
  }
}
