import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { EcrRepositoryCreationTemplate } from '@cdktf/provider-aws/lib/ecr-repository-creation-template';
import { imageLifecyclePolicy } from './container-repository';
import { CustomerManagedKey } from './customer-managed-key';
import { ctx } from './environment-context';
import { ServiceRole } from './service-role';

export interface ReplicaRepositoryTemplateProps {
  /** The DR region's provider: the template lives where replication creates the repositories. */
  readonly provider: TerraformProvider;
  readonly region: string;
  /** Repository namespace the environment's images live under (`<env>-brew`: `<env>-brew/sync-task`, …). */
  readonly prefix: string;
  /** The DR region's data key: replicas are encrypted with a customer-managed key, as the sources are. */
  readonly key: CustomerManagedKey;
  /** Images kept. @default 30, as `ContainerRepository` */
  readonly keepImages?: number;
}

/**
 * Settings for the repositories that ECR replication creates in the DR
 * region (issue #25, fault 5). Without a creation template they get AWS's
 * defaults: mutable tags, AES256, no lifecycle policy. This gives them the
 * sources' settings: immutable tags, the DR data key, the same lifecycle.
 * A template that names a KMS key needs a role ECR assumes to create the
 * repository and grant itself the key (AWS: "repository creation templates").
 */
export class ReplicaRepositoryTemplate extends Construct {
  public readonly template: EcrRepositoryCreationTemplate;
  public readonly role: ServiceRole;

  constructor(scope: Construct, id: string, props: ReplicaRepositoryTemplateProps) {
    super(scope, id);
    const context = ctx(this);
    this.role = new ServiceRole(this, 'role', {
      name: context.name('ecr-replica-creation'),
      servicePrincipal: 'ecr.amazonaws.com',
      description: `ECR creates ${props.prefix}/* replicas in ${props.region} with the sources' settings`,
    });
    this.role.addToPolicy({
      sid: 'CreateReplicaRepositories',
      actions: ['ecr:CreateRepository', 'ecr:ReplicateImage', 'ecr:TagResource'],
      resources: [context.arn('ecr', `repository/${props.prefix}/*`, { region: props.region })],
    });
    this.role.addKeyActions(props.key.arn, 'DrData', ['kms:CreateGrant', 'kms:RetireGrant', 'kms:DescribeKey']);
    this.template = new EcrRepositoryCreationTemplate(this, 'template', {
      provider: props.provider,
      // ECR reads the prefix as `<prefix>/`.
      prefix: props.prefix,
      appliedFor: ['REPLICATION'],
      description: `Replicas of ${props.prefix}/* keep the sources' settings`,
      imageTagMutability: 'IMMUTABLE',
      encryptionConfiguration: [{ encryptionType: 'KMS', kmsKey: props.key.arn }],
      lifecyclePolicy: imageLifecyclePolicy(props.keepImages),
      customRoleArn: this.role.role.arn,
    });
  }
}
