import { Construct } from 'constructs';
import {
  DataAwsIamPolicyDocument,
  DataAwsIamPolicyDocumentStatement,
} from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';

/**
 * Actions that AWS does not let you scope to a resource, so a statement
 * granting them has to say `Resource: "*"`. The policy suite allows `*`
 * resources for these actions only (CKV_AWS_355 makes the same distinction).
 */
export const UNSCOPABLE_ACTIONS: readonly string[] = [
  // X-Ray trace upload has no resource-level permissions.
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  // Lambda's VPC ENI management happens before the function has an ENI to name.
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  // The ECR login token is account-wide.
  'ecr:GetAuthorizationToken',
];

/** Builds an `aws_iam_policy_document` data source from statements. */
export function policyDocument(
  scope: Construct,
  id: string,
  statements: DataAwsIamPolicyDocumentStatement[],
): DataAwsIamPolicyDocument {
  return new DataAwsIamPolicyDocument(scope, id, { statement: statements });
}

export interface ServiceRoleProps {
  /** Full role name; callers prefix it with the environment. */
  readonly name: string;
  /** Service principal allowed to assume the role, e.g. `lambda.amazonaws.com`. */
  readonly servicePrincipal: string;
  readonly description: string;
  /** Inline permissions. Each role gets only what its own workload needs. */
  readonly statements: DataAwsIamPolicyDocumentStatement[];
  /**
   * Restricts the trust policy to this account (confused-deputy protection).
   * Set it only for services documented to send `aws:SourceAccount` on AssumeRole.
   */
  readonly accountId?: string;
  /** AWS-managed policies to attach (only where AWS publishes the exact permission set). */
  readonly managedPolicyArns?: string[];
}

/**
 * One IAM role for one workload: a trust policy for a single service and one
 * inline policy. Shared roles are not offered on purpose.
 */
export class ServiceRole extends Construct {
  public readonly role: IamRole;
  /** The inline policy; workloads depend on it so they never start without their permissions. */
  public readonly policy?: IamRolePolicy;

  constructor(scope: Construct, id: string, props: ServiceRoleProps) {
    super(scope, id);
    const trust = policyDocument(this, 'trust', [
      {
        effect: 'Allow',
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'Service', identifiers: [props.servicePrincipal] }],
        condition: props.accountId
          ? [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [props.accountId] }]
          : undefined,
      },
    ]);
    this.role = new IamRole(this, 'role', {
      name: props.name,
      description: props.description,
      assumeRolePolicy: trust.json,
    });
    (props.managedPolicyArns ?? []).forEach((policyArn, index) => {
      new IamRolePolicyAttachment(this, `managed-${index}`, { role: this.role.name, policyArn });
    });
    if (props.statements.length > 0) {
      const permissions = policyDocument(this, 'permissions', props.statements);
      this.policy = new IamRolePolicy(this, 'policy', { name: `${props.name}-permissions`, role: this.role.id, policy: permissions.json });
    }
  }
}
