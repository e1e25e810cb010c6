import { Construct } from 'constructs';
import { EcsCluster } from '@cdktf/provider-aws/lib/ecs-cluster';
import { EcsClusterCapacityProviders } from '@cdktf/provider-aws/lib/ecs-cluster-capacity-providers';
import { ctx } from './environment-context';

export interface ContainerClusterProps {
  /** Allow and prefer FARGATE_SPOT. Default: false, on-demand only (prod). */
  readonly fargateSpot?: boolean;
}

/** The ECS cluster for the sync task and the mirror service, with Container Insights. */
export class ContainerCluster extends Construct {
  public readonly cluster: EcsCluster;
  /** Capacity provider new tasks should use. */
  public readonly capacityProvider: 'FARGATE' | 'FARGATE_SPOT';
  /** The cluster's capacity-provider association; services using a strategy depend on it. */
  public readonly capacityProviders: EcsClusterCapacityProviders;

  get clusterName(): string {
    return this.cluster.name;
  }

  get clusterArn(): string {
    return this.cluster.arn;
  }

  constructor(scope: Construct, id: string, props: ContainerClusterProps) {
    super(scope, id);
    const context = ctx(this);
    this.capacityProvider = props.fargateSpot ? 'FARGATE_SPOT' : 'FARGATE';
    this.cluster = new EcsCluster(this, 'cluster', {
      name: `${context.namePrefix}-cluster`,
      setting: [{ name: 'containerInsights', value: 'enhanced' }],
    });
    this.capacityProviders = new EcsClusterCapacityProviders(this, 'capacity', {
      clusterName: this.cluster.name,
      capacityProviders: props.fargateSpot ? ['FARGATE', 'FARGATE_SPOT'] : ['FARGATE'],
      defaultCapacityProviderStrategy: [{ capacityProvider: this.capacityProvider, weight: 1, base: 0 }],
    });
  }
}
