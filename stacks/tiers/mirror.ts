import { Construct } from 'constructs';
import { EnvironmentConfig } from '../../config/environments';
import { AddressGroup } from '../../constructs/address-group';
import { CACHE_PORT } from '../../constructs/cache';
import { ctx } from '../../constructs/environment-context';
import { FargateTaskDefinition } from '../../constructs/fargate-task-definition';
import { allow, securityGroup } from '../../constructs/firewall';
import { LoadBalancer } from '../../constructs/load-balancer';
import { LOG_PREFIXES } from '../../constructs/log-archive';
import { DnsAlias, ManagedCertificate } from '../../constructs/mirror-domain';
import { MirrorService } from '../../constructs/mirror-service';
import { METRICS_NAMESPACE, MIRROR_SERVICE_ENV, MIRROR_SERVICE_NODE_FLAGS } from '../../engine/runtime-config';
import { NODE_MEMORY_FLAGS } from '../../engine/heap';
import { DataTier } from './data';
import { Foundation } from './foundation';

/** Port the mirror container listens on behind the ALB. */
export const MIRROR_PORT = 8080;

/** What `brew` clients reach: WAF and the ALB in front of the mirror service's Fargate tasks. */
export class MirrorTier extends AddressGroup {
  public readonly loadBalancer: LoadBalancer;
  public readonly task: FargateTaskDefinition;
  public readonly service: MirrorService;

  constructor(scope: Construct, id: string, props: { readonly config: EnvironmentConfig; readonly foundation: Foundation; readonly data: DataTier }) {
    super(scope, id);
    const { config, foundation, data } = props;
    const { network, cluster } = foundation;
    const p = ctx(this).namePrefix;

    const mirrorSg = securityGroup(this, 'mirror-sg', `${p}-mirror-sg`, 'Mirror tasks: traffic from the ALB only', network.vpc.id);
    allow(this, 'mirror-to-cache', { from: mirrorSg, to: data.cache.securityGroup, port: CACHE_PORT, description: 'Mirror to Valkey (TLS)' });
    allow(this, 'mirror-to-https', { from: mirrorSg, to: { cidr: '0.0.0.0/0' }, port: 443, description: 'AWS APIs over HTTPS' });

    const service = config.mirrorService;
    // No certificate given but a hosted zone: ACM issues one, validated through DNS in that zone.
    const certificateArn =
      config.certificateArn ?? new ManagedCertificate(this, 'certificate', { domainName: config.domainName, hostedZoneId: config.hostedZoneId! }).certificateArn;
    this.loadBalancer = new LoadBalancer(this, 'load-balancer', {
      vpcId: network.vpc.id,
      subnetIds: service.albScheme === 'internet-facing' ? network.publicSubnetIds : network.privateSubnetIds,
      scheme: service.albScheme,
      allowedCidrs: service.allowedCidrs,
      certificateArn,
      targetPort: MIRROR_PORT,
      accessLogBucket: foundation.logArchive.bucket.bucket.id,
      accessLogPrefix: LOG_PREFIXES.alb,
      rateLimitPer5Min: service.wafRateLimitPer5Min,
    });
    // The ALB checks at creation that it may write its access logs.
    this.loadBalancer.alb.node.addDependency(foundation.logArchive.bucket.policy);
    allow(this, 'alb-to-mirror', { from: this.loadBalancer.securityGroup, to: mirrorSg, port: MIRROR_PORT, description: 'ALB to mirror tasks' });

    this.task = new FargateTaskDefinition(this, 'mirror-task', {
      name: 'mirror',
      cpu: service.cpu,
      memoryMiB: service.memoryMiB,
      repository: foundation.mirrorRepository.repository,
      imageTag: config.imageTag,
      containerPort: MIRROR_PORT,
      command: ['node', ...NODE_MEMORY_FLAGS, ...MIRROR_SERVICE_NODE_FLAGS, 'main.js'],
      environment: {
        ...data.runtimeEnvironment('mirror'),
        [MIRROR_SERVICE_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [MIRROR_SERVICE_ENV.port]: String(MIRROR_PORT),
        [MIRROR_SERVICE_ENV.mode]: 'redirect',
      },
    });
    data.store.grantServe(this.task.taskRole);
    data.state.grantReadState(this.task.taskRole);
    data.cache.grantConnect(this.task.taskRole, 'mirror');

    if (config.hostedZoneId) {
      new DnsAlias(this, 'dns', { domainName: config.domainName, hostedZoneId: config.hostedZoneId, alb: this.loadBalancer.alb });
    }

    this.service = new MirrorService(this, 'mirror-service', {
      clusterName: cluster.cluster.name,
      clusterArn: cluster.cluster.arn,
      task: this.task,
      containerPort: MIRROR_PORT,
      subnetIds: network.privateSubnetIds,
      securityGroup: mirrorSg,
      alb: this.loadBalancer.alb,
      targetGroup: this.loadBalancer.targetGroup,
      minTasks: service.minTasks,
      maxTasks: service.maxTasks,
      capacityProvider: cluster.capacityProvider,
      workingHours: config.workingHours,
      dependsOn: [this.loadBalancer.httpsListener, cluster.capacityProviders],
    });
  }
}
