import { readFileSync } from 'fs';
import * as path from 'path';
import { sourceFiles } from '../source-files';
import { synthAll } from '../synth';

// Ordering AWS checks at create time, which a mock provider never sees
// (issue #25). Terraform orders only by references and `depends_on`: a
// resource that writes into a bucket, or signs an object, must name what
// makes that allowed, or it races it on a first apply.
const stacks = synthAll();
const ROOT = path.resolve(__dirname, '../..');

type Resources = Record<string, Record<string, any>>;
const resourcesOf = (name: string): Resources => stacks[name].resource as Resources;

/** `${aws_s3_bucket.X.bucket}` or `.id` → `X`. */
const bucketAddress = (reference: string) => /^\$\{aws_s3_bucket\.([a-z0-9_]+)\.(?:bucket|id)\}$/.exec(reference)?.[1];

/** The `depends_on` entry of the policy of bucket `X`, as cdktf writes it. */
function policyOf(resources: Resources, bucket: string): string {
  const [name] = Object.entries(resources.aws_s3_bucket_policy ?? {}).find(([, p]) => bucketAddress(p.bucket) === bucket) ?? [];
  if (!name) throw new Error(`no bucket policy for aws_s3_bucket.${bucket}`);
  return `aws_s3_bucket_policy.${name}`;
}

describe.each(Object.keys(stacks))('%s: a first apply creates things in the order AWS checks', (stack) => {
  const resources = resourcesOf(stack);

  test('every ALB waits for the policy of the bucket it writes access logs to (else "Access Denied for bucket")', () => {
    const albs = Object.entries(resources.aws_lb ?? {});
    expect(albs.length).toBeGreaterThan(0);
    for (const [name, alb] of albs) {
      const bucket = bucketAddress(alb.access_logs.bucket)!;
      expect([name, alb.depends_on ?? []]).toEqual([name, expect.arrayContaining([policyOf(resources, bucket)])]);
    }
  });

  test('everything internet-facing waits for the internet gateway (else InvalidSubnet: VPC … has no internet gateway)', () => {
    const gateways = Object.keys(resources.aws_internet_gateway ?? {}).map((name) => `aws_internet_gateway.${name}`);
    expect(gateways).toHaveLength(1);
    const internetFacing = [
      ...Object.entries(resources.aws_lb ?? {}).filter(([, alb]) => alb.internal === false).map(([name, alb]) => [`aws_lb.${name}`, alb] as const),
      ...Object.entries(resources.aws_eip ?? {}).map(([name, eip]) => [`aws_eip.${name}`, eip] as const),
      ...Object.entries(resources.aws_nat_gateway ?? {}).map(([name, nat]) => [`aws_nat_gateway.${name}`, nat] as const),
    ];
    // dev's ALB is internal; every other stack's faces the internet.
    expect(internetFacing.some(([address]) => address.startsWith('aws_lb.'))).toBe(stack !== 'dev');
    for (const [address, resource] of internetFacing) expect([address, resource.depends_on ?? []]).toEqual([address, expect.arrayContaining(gateways)]);
  });

  test("the mirror service waits for the interface endpoints its tasks pull their image through (else CannotPullContainerError: its security group has no route out)", () => {
    const endpoints = Object.entries(resources.aws_vpc_endpoint ?? {}).filter(([, e]) => e.vpc_endpoint_type === 'Interface').map(([name]) => `aws_vpc_endpoint.${name}`);
    expect(endpoints).toHaveLength(3);
    const services = Object.entries(resources.aws_ecs_service ?? {});
    expect(services.length).toBeGreaterThan(0);
    for (const [name, service] of services) expect([name, service.depends_on ?? []]).toEqual([name, expect.arrayContaining(endpoints)]);
  });

  test('every S3 access-logging setting waits for the target bucket’s policy (else InvalidTargetBucketForLogging)', () => {
    const loggings = Object.entries(resources.aws_s3_bucket_logging ?? {});
    if (stack !== 'prod-standby') expect(loggings.map(([name]) => name).sort()).toEqual(['audit_trail_bucket_logging', 'bottle_store_store_logging', 'code_signing_artifacts_logging']);
    for (const [name, logging] of loggings) {
      const target = bucketAddress(logging.target_bucket)!;
      expect([name, logging.depends_on ?? []]).toEqual([name, expect.arrayContaining([policyOf(resources, target)])]);
    }
  });

  test('CloudTrail waits for its bucket’s policy and for the permissions of the role it delivers to CloudWatch Logs with', () => {
    for (const [name, trail] of Object.entries(resources.aws_cloudtrail ?? {})) {
      const role = /^\$\{aws_iam_role\.([a-z0-9_]+)\.arn\}$/.exec(trail.cloud_watch_logs_role_arn)![1];
      const [rolePolicy] = Object.entries(resources.aws_iam_role_policy).find(([, p]) => p.role === `\${aws_iam_role.${role}.id}`)!;
      expect([name, trail.depends_on]).toEqual([name, expect.arrayContaining([policyOf(resources, bucketAddress(trail.s3_bucket_name)!), `aws_iam_role_policy.${rolePolicy}`])]);
    }
  });

  test('VPC flow logs wait for the permissions of the role that delivers them', () => {
    for (const [name, flowLog] of Object.entries(resources.aws_flow_log ?? {})) {
      const role = /^\$\{aws_iam_role\.([a-z0-9_]+)\.arn\}$/.exec(flowLog.iam_role_arn)![1];
      const [rolePolicy] = Object.entries(resources.aws_iam_role_policy).find(([, p]) => p.role === `\${aws_iam_role.${role}.id}`)!;
      expect([name, flowLog.depends_on]).toEqual([name, expect.arrayContaining([`aws_iam_role_policy.${rolePolicy}`])]);
    }
  });

  test('an unsigned Lambda bundle is uploaded only once versioning is on (StartSigningJob needs a version id)', () => {
    const unsigned = Object.entries(resources.aws_s3_object ?? {}).filter(([name]) => name.endsWith('_code_unsigned'));
    if (stack !== 'prod-standby') expect(unsigned.map(([name]) => name).sort()).toEqual(['orchestrator_code_unsigned', 'sync_worker_code_unsigned']);
    for (const [name, object] of unsigned) {
      const bucket = bucketAddress(object.bucket)!;
      const [versioning] = Object.entries(resources.aws_s3_bucket_versioning).find(([, v]) => bucketAddress(v.bucket) === bucket)!;
      expect([name, object.depends_on ?? []]).toEqual([name, expect.arrayContaining([`aws_s3_bucket_versioning.${versioning}`])]);
    }
  });
});

test('no construct-level dependency is left: cdktf writes only `dependsOn` into depends_on, and node.addDependency is a no-op', () => {
  const offenders = ['constructs', 'stacks']
    .flatMap((folder) => sourceFiles(path.join(ROOT, folder)))
    .flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => [i + 1, line] as const)
        .filter(([, line]) => /\.node\.addDependency\(/.test(line))
        .map(([n]) => `${path.relative(ROOT, file)}:${n}`),
    );
  expect(offenders).toEqual([]);
});
