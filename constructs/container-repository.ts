import { Construct } from 'constructs';
import { EcrLifecyclePolicy } from '@cdktf/provider-aws/lib/ecr-lifecycle-policy';
import { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository';
import { ctx } from './environment-context';

export interface ContainerRepositoryProps {
  /** Full repository name; callers prefix it with the environment. */
  readonly name: string;
  readonly kmsKeyArn: string;
  /** Images kept; older ones expire. Default: 30. */
  readonly keepImages?: number;
}

/** An ECR repository: immutable tags, scan on push, CMK encryption, bounded history. */
export class ContainerRepository extends Construct {
  public readonly repository: EcrRepository;

  constructor(scope: Construct, id: string, props: ContainerRepositoryProps) {
    super(scope, id);
    this.repository = new EcrRepository(this, 'repo', {
      name: props.name,
      imageTagMutability: 'IMMUTABLE',
      // Only `npm run destroy` deletes a repository that holds images (RepositoryNotEmptyException otherwise).
      forceDelete: ctx(this).teardown,
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: [{ encryptionType: 'KMS', kmsKey: props.kmsKeyArn }],
    });
    new EcrLifecyclePolicy(this, 'lifecycle', { repository: this.repository.name, policy: imageLifecyclePolicy(props.keepImages) });
  }
}

/** Keeps the newest `keepImages` images (default 30); the same rule for a repository and for its DR replicas. */
export function imageLifecyclePolicy(keepImages = 30): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `Keep the newest ${keepImages} images`,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: keepImages },
        action: { type: 'expire' },
      },
    ],
  });
}
