import { Construct } from 'constructs';
import { EnvironmentConfig } from '../../config/environment-config';
import { Route53HealthCheck } from '@cdktf/provider-aws/lib/route53-health-check';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { AddressGroup } from '../../constructs/address-group';
import { ContainerCluster } from '../../constructs/container-cluster';
import { ctx } from '../../constructs/environment-context';
import { FargateTaskDefinition, ImageRepository } from '../../constructs/fargate-task-definition';
import { Peer, allow, securityGroup } from '../../constructs/firewall';
import { LoadBalancer } from '../../constructs/load-balancer';
import { LOG_PREFIXES, LogArchive } from '../../constructs/log-archive';
import { Network } from '../../constructs/network';
import { Grantable } from '../../constructs/service-role';
import { DnsAlias, EndpointHealthCheck, ManagedCertificate } from '../../constructs/mirror-domain';
import { MirrorService } from '../../constructs/mirror-service';
import { BYTE_BUDGET_ENV, METRICS_NAMESPACE, MIRROR_SERVICE_ENV, MIRROR_SERVICE_NODE_FLAGS, PULL_THROUGH_ENV, TOKEN_ENV, policyEnvironment } from '../../engine/runtime-config';
import { SERVE_DEFAULTS, SYNC_DEFAULTS } from '../../engine/defaults';
import { NODE_MEMORY_FLAGS } from '../../engine/heap';

/** Port the mirror container listens on behind the ALB. */
export const MIRROR_PORT = SERVE_DEFAULTS.port;

/** What the mirror tier runs on: the network, the container cluster, the bucket for ALB logs, the image. */
export interface MirrorPlatform {
  readonly network: Network;
  readonly cluster: ContainerCluster;
  readonly logArchive: LogArchive;
  readonly mirrorImages: ImageRepository;
}

/** What the mirror serves from: the primary's data tier, or the replicas in the DR region (`ReplicaData`). */
export interface MirrorData {
  /** The variables naming the store and the table (the workload's `*_ENV` contract). */
  readonly mirrorEnvironment: Record<string, string>;
  /**
   * Grants the task role what serving needs, and lets the tasks' security group reach the data;
   * with `pullThrough`, also what keeping pulled objects needs (the primary's data only).
   */
  grantMirror(scope: Construct, role: Grantable, securityGroup: SecurityGroup, options?: { readonly pullThrough?: boolean; readonly tokens?: boolean }): void;
}

export interface MirrorTierProps {
  readonly config: EnvironmentConfig;
  readonly platform: MirrorPlatform;
  readonly data: MirrorData;
  /**
   * `standby`: the warm copy in the DR region (its certificate, its size, the
   * secondary failover record). @default 'primary'
   */
  readonly role?: 'primary' | 'standby';
}

/** What `brew` clients reach: WAF and the ALB in front of the mirror service's Fargate tasks. */
export class MirrorTier extends AddressGroup {
  public readonly loadBalancer: LoadBalancer;
  public readonly task: FargateTaskDefinition;
  public readonly service: MirrorService;
  /** Route 53's check of this region's `/health`: the primary's whenever a standby exists, the standby's when the domain fails over. */
  public readonly healthCheck?: Route53HealthCheck;

  // long: a tier's composition root, one construct per step in dependency order
  constructor(scope: Construct, id: string, props: MirrorTierProps) {
    super(scope, id);
    const { config, platform, data } = props;
    const { network, cluster } = platform;
    const standby = props.role === 'standby' ? config.standby : undefined;
    if (props.role === 'standby' && !standby) throw new Error(`${config.name} has no standby configured`);

    const service = config.mirrorService;
    // The standby serves the DR replica, which only replication writes: it never pulls through.
    const pullThrough = service.pullThrough === true && !standby;
    const mirrorSg = this.mirrorSecurityGroup(network, pullThrough);
    // No certificate given but a hosted zone: ACM issues one, validated through DNS in that zone.
    const givenCertificate = standby ? standby.certificateArn : config.certificateArn;
    const certificateArn =
      givenCertificate ??
      // The primary owns the domain's one validation record; the standby's certificate is issued by it too.
      new ManagedCertificate(this, 'certificate', { domainName: config.domainName, hostedZoneId: config.hostedZoneId!, ownsValidationRecord: !standby }).certificateArn;
    // Route 53 checks this region's /health (it reaches only an internet-facing ALB): the primary's whenever
    // there is a standby (the endpoint alarm, constructs/monitoring/endpoint-alarm.ts), the standby's only
    // when the domain fails over to it.
    const checked = (standby ? config.hostedZoneId !== undefined : config.standby !== undefined) && service.albScheme === 'internet-facing';
    this.loadBalancer = new LoadBalancer(this, 'load-balancer', {
      vpcId: network.vpc.id,
      subnetIds: service.albScheme === 'internet-facing' ? network.publicSubnetIds : network.privateSubnetIds,
      scheme: service.albScheme,
      internetGateway: network.internetGateway,
      allowedCidrs: service.allowedCidrs,
      certificateArn,
      targetPort: MIRROR_PORT,
      accessLogs: platform.logArchive.target(LOG_PREFIXES.alb),
      rateLimitPer5Min: service.wafRateLimitPer5Min,
      admitHealthCheckers: checked,
    });
    allow(this, 'alb-to-mirror', { from: this.loadBalancer.securityGroup, to: mirrorSg, port: MIRROR_PORT, description: 'ALB to mirror tasks' });

    this.task = new FargateTaskDefinition(this, 'mirror-task', {
      name: 'mirror',
      cpu: service.cpu,
      memoryMiB: service.memoryMiB,
      repository: platform.mirrorImages,
      imageTag: config.imageTag,
      containerPort: MIRROR_PORT,
      command: ['node', ...NODE_MEMORY_FLAGS, ...MIRROR_SERVICE_NODE_FLAGS, 'main.js'],
      environment: {
        ...data.mirrorEnvironment,
        [MIRROR_SERVICE_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [MIRROR_SERVICE_ENV.port]: String(MIRROR_PORT),
        [MIRROR_SERVICE_ENV.mode]: 'redirect',
        // The standby answers under the same name after a failover.
        [MIRROR_SERVICE_ENV.publicUrl]: `https://${config.domainName}`,
        // One budget per client for every task: shared through Valkey (the standby's, per task).
        [BYTE_BUDGET_ENV]: String(service.byteBudgetPerHour ?? SERVE_DEFAULTS.byteBudgetPerHour),
        ...(pullThrough ? { [PULL_THROUGH_ENV.enabled]: 'true', [PULL_THROUGH_ENV.registryUrl]: SYNC_DEFAULTS.registryUrl } : {}),
        // The standby reads the same tokens from the table's replica: a failover keeps every team's key.
        ...(service.requireToken ? { [TOKEN_ENV.requireToken]: 'true' } : {}),
        // The fleet's policy, handed to every machine in /brew.env.
        ...policyEnvironment(config.policy),
      },
    });
    data.grantMirror(this, this.task.taskRole, mirrorSg, { pullThrough, tokens: service.requireToken === true });

    if (checked) {
      this.healthCheck = new EndpointHealthCheck(this, 'endpoint-health', {
        alb: this.loadBalancer.alb,
        label: `${config.domainName} ${standby ? 'standby' : 'primary'} (${ctx(this).region})`,
      }).healthCheck;
    }
    if (config.hostedZoneId) {
      new DnsAlias(this, 'dns', {
        domainName: config.domainName,
        hostedZoneId: config.hostedZoneId,
        alb: this.loadBalancer.alb,
        // With a standby, the name fails over: the primary while its /health answers, else the standby.
        failover: this.healthCheck ? { role: standby ? 'SECONDARY' : 'PRIMARY', healthCheck: this.healthCheck } : undefined,
      });
    }

    this.service = new MirrorService(this, 'mirror-service', {
      clusterName: cluster.clusterName,
      clusterArn: cluster.clusterArn,
      task: this.task,
      containerPort: MIRROR_PORT,
      subnetIds: network.privateSubnetIds,
      securityGroup: mirrorSg,
      alb: this.loadBalancer.alb,
      targetGroup: this.loadBalancer.targetGroup,
      minTasks: standby ? standby.minTasks : service.minTasks,
      maxTasks: service.maxTasks,
      capacityProvider: cluster.capacityProvider,
      workingHours: standby ? undefined : config.workingHours,
      dependsOn: [this.loadBalancer.httpsListener, cluster.capacityProviders, ...network.awsApis.endpoints],
    });
  }

  /**
   * The tasks reach AWS through its endpoints only (issue #24): with pull-through off, nothing
   * they run can open a connection to the internet. Pull-through adds the one route it needs;
   * the registry's hosts (ghcr.io redirects blobs to a CDN) have no fixed addresses to name, so
   * the upstream checks at start (https only, never link-local or metadata) narrow it instead.
   */
  private mirrorSecurityGroup(network: Network, pullThrough: boolean): SecurityGroup {
    const mirrorSg = securityGroup(this, 'mirror-sg', `${ctx(this).namePrefix}-mirror-sg`, 'Mirror tasks: traffic from the ALB only', network.vpc.id);
    const https = (id: string, to: Peer, description: string) =>
      allow(this, id, { from: mirrorSg, to, port: 443, description });
    https('mirror-to-aws-apis', { securityGroupId: network.awsApis.securityGroup.id }, 'ECR and CloudWatch Logs through their interface endpoints');
    https('mirror-to-s3', { prefixListId: network.gatewayPrefixListIds.s3 }, "S3 gateway endpoint: the store, and ECR's image layers");
    https('mirror-to-dynamodb', { prefixListId: network.gatewayPrefixListIds.dynamodb }, 'DynamoDB gateway endpoint: the state table');
    if (pullThrough) https('mirror-to-registry', { cidr: '0.0.0.0/0' }, 'Registry over HTTPS (pull-through on)');
    return mirrorSg;
  }
}
