import { ITerraformDependable } from 'cdktf';

/**
 * Where a resource delivers its access logs, and what must exist first: S3
 * and the ALB check at create time that they may write there
 * (InvalidTargetBucketForLogging, "Access Denied for bucket"), and Terraform
 * orders only by references and `depends_on`.
 */
export interface AccessLogTarget {
  readonly bucket: string;
  readonly prefix: string;
  /** Resources the delivering resource must depend on: the target bucket's policy. */
  readonly readyAfter: ITerraformDependable[];
}
