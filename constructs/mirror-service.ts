import { Construct } from 'constructs';
import { ITerraformDependable } from 'cdktf';
import { AppautoscalingPolicy } from '@cdktf/provider-aws/lib/appautoscaling-policy';
import { AppautoscalingTarget } from '@cdktf/provider-aws/lib/appautoscaling-target';
import { EcsService } from '@cdktf/provider-aws/lib/ecs-service';
import { Lb } from '@cdktf/provider-aws/lib/lb';
import { LbTargetGroup } from '@cdktf/provider-aws/lib/lb-target-group';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { AppautoscalingScheduledAction } from '@cdktf/provider-aws/lib/appautoscaling-scheduled-action';
import { WorkingHours } from '../config/environment-config';
import { FargateTaskDefinition } from './fargate-task-definition';
import { ctx } from './environment-context';

export interface MirrorServiceProps {
  readonly clusterName: string;
  readonly clusterArn: string;
  readonly task: FargateTaskDefinition;
  readonly containerPort: number;
  /** Private subnets in every AZ; tasks spread across them. */
  readonly subnetIds: string[];
  readonly securityGroup: SecurityGroup;
  readonly alb: Lb;
  readonly targetGroup: LbTargetGroup;
  /** At least 2, so one AZ can fail. */
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly capacityProvider: 'FARGATE' | 'FARGATE_SPOT';
  /**
   * What must exist before the service is created, which Terraform cannot infer from references: the listener
   * that attaches the target group to the ALB ("target group does not have an associated load balancer"
   * otherwise) and the cluster's capacity-provider association.
   */
  readonly dependsOn: ITerraformDependable[];
  /**
   * Scale to zero outside this window and back to `minTasks` inside it (scheduled scaling).
   * Default: always on.
   */
  readonly workingHours?: WorkingHours;
  /** Target average CPU. Default: 60 %. */
  readonly targetCpuPercent?: number;
  /** Target requests per task per minute. Default: 1000. */
  readonly targetRequestsPerTask?: number;
}

/**
 * The Fargate service `brew` clients reach through the ALB: spread across
 * AZs, no public IPs, rolled back automatically when a deployment fails, and
 * scaled on CPU and on request count per target.
 */
export class MirrorService extends Construct {
  public readonly service: EcsService;

  get serviceName(): string {
    return this.service.name;
  }

  constructor(scope: Construct, id: string, props: MirrorServiceProps) {
    super(scope, id);
    const context = ctx(this);
    if (props.minTasks < 2) {
      throw new Error(`MirrorService needs at least 2 tasks to survive an AZ failure, got ${props.minTasks}`);
    }
    this.service = new EcsService(this, 'service', {
      name: `${context.namePrefix}-mirror`,
      cluster: props.clusterArn,
      taskDefinition: props.task.taskDefinition.arn,
      desiredCount: props.minTasks,
      capacityProviderStrategy: [{ capacityProvider: props.capacityProvider, weight: 1, base: 0 }],
      platformVersion: 'LATEST',
      networkConfiguration: {
        subnets: props.subnetIds,
        securityGroups: [props.securityGroup.id],
        assignPublicIp: false,
      },
      loadBalancer: [
        { targetGroupArn: props.targetGroup.arn, containerName: props.task.containerName, containerPort: props.containerPort },
      ],
      healthCheckGracePeriodSeconds: 30,
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      propagateTags: 'SERVICE',
      enableEcsManagedTags: true,
      // Autoscaling owns the count after creation.
      lifecycle: { ignoreChanges: ['desired_count'] },
      // Tasks must not start before their role has its permissions, as the Lambdas wait for theirs.
      dependsOn: [...props.dependsOn, ...(props.task.taskRole.policy ? [props.task.taskRole.policy] : [])],
    });

    const resourceId = `service/${props.clusterName}/${this.service.name}`;
    const target = new AppautoscalingTarget(this, 'scaling', {
      serviceNamespace: 'ecs',
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId,
      minCapacity: props.minTasks,
      maxCapacity: props.maxTasks,
    });
    const trackTarget = (id: string, targetValue: number, predefinedMetricSpecification: { predefinedMetricType: string; resourceLabel?: string }) =>
      new AppautoscalingPolicy(this, id, {
        name: `${context.namePrefix}-mirror-${id}`,
        policyType: 'TargetTrackingScaling',
        serviceNamespace: target.serviceNamespace,
        scalableDimension: target.scalableDimension,
        resourceId: target.resourceId,
        // Scale out fast, scale in slowly: a download in flight outlives a short lull.
        targetTrackingScalingPolicyConfiguration: { targetValue, predefinedMetricSpecification, scaleInCooldown: 300, scaleOutCooldown: 60 },
      });
    if (props.workingHours) this.scheduleWorkingHours(target, props.workingHours, props.minTasks, props.maxTasks);
    trackTarget('scale-on-cpu', props.targetCpuPercent ?? 60, { predefinedMetricType: 'ECSServiceAverageCPUUtilization' });
    trackTarget('scale-on-requests', props.targetRequestsPerTask ?? 1000, {
      predefinedMetricType: 'ALBRequestCountPerTarget',
      resourceLabel: `${props.alb.arnSuffix}/${props.targetGroup.arnSuffix}`,
    });
  }

  /** Auto-shutdown: zero tasks at the end of the working day, the minimum back at its start (the weekly sync is separate). */
  private scheduleWorkingHours(target: AppautoscalingTarget, hours: WorkingHours, minTasks: number, maxTasks: number): void {
    const p = ctx(this).namePrefix;
    const action = (id: string, hour: number, min: number, max: number) =>
      new AppautoscalingScheduledAction(this, id, {
        name: `${p}-mirror-${id}`,
        serviceNamespace: target.serviceNamespace,
        scalableDimension: target.scalableDimension,
        resourceId: target.resourceId,
        schedule: `cron(0 ${hour} ? * ${hours.days} *)`,
        timezone: hours.timezone,
        scalableTargetAction: { minCapacity: String(min), maxCapacity: String(max) },
      });
    action('start-of-day', hours.startHour, minTasks, maxTasks);
    action('end-of-day', hours.endHour, 0, 0);
  }
}
