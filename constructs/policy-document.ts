import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument, DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';

export type Statement = DataAwsIamPolicyDocumentStatement;

/**
 * Actions that AWS does not let you scope to a resource, so a statement
 * granting them has to say `Resource: "*"`. The policy suite allows `*`
 * resources for these actions only (CKV_AWS_355 makes the same distinction).
 */
export const UNSCOPABLE_ACTIONS: readonly string[] = [
  // X-Ray trace upload has no resource-level permissions.
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  // Listing ENIs has no resource-level permissions (the other ENI actions are scoped, see SyncFunction).
  'ec2:DescribeNetworkInterfaces',
  // The ECR login token is account-wide.
  'ecr:GetAuthorizationToken',
];

/** Builds an `aws_iam_policy_document` data source from statements. */
export function policyDocument(scope: Construct, id: string, statements: Statement[]): DataAwsIamPolicyDocument {
  return new DataAwsIamPolicyDocument(scope, id, { statement: statements });
}
