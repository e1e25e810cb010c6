import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeRegistryCommand, ECRClient } from '@aws-sdk/client-ecr';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { EnvironmentConfig, RemoteStateConfig } from '../../config/environment-config';
import { placeholderProblems } from '../../config/load-environment';
import { BILLING_REGION } from '../../constructs/monitoring/cost-alarm';
import { CommandRunner } from './runner';

/** AWS keeps at least this much of an account's Lambda concurrency unreserved; a reservation that would leave less fails. */
export const LAMBDA_MIN_UNRESERVED = 100;

/** Structural subset of an SDK client, so tests record the exact requests. */
export interface Sender {
  send(command: object): Promise<unknown>;
}

export interface PreflightClients {
  readonly sts: Sender;
  readonly lambda: Sender;
  /** In us-east-1, where billing metrics live. */
  readonly billingCloudWatch: Sender;
  readonly acm: Sender;
  /** In the remote state's region. */
  readonly stateS3: Sender;
  /**
   * For an environment with a standby: its certificate and its state bucket
   * (in the DR region), and the registry whose replication it writes (ECR in
   * the primary region).
   */
  readonly standby?: { readonly acm: Sender; readonly stateS3: Sender; readonly registry: Sender };
}

export function awsPreflightClients(config: EnvironmentConfig): PreflightClients {
  return {
    sts: new STSClient({ region: config.region }),
    lambda: new LambdaClient({ region: config.region }),
    billingCloudWatch: new CloudWatchClient({ region: BILLING_REGION }),
    acm: new ACMClient({ region: config.region }),
    stateS3: new S3Client({ region: config.remoteState?.region ?? config.region }),
    standby: config.standby
      ? { acm: new ACMClient({ region: config.drRegion }), stateS3: new S3Client({ region: config.drRegion }), registry: new ECRClient({ region: config.region }) }
      : undefined,
  };
}

export interface PreflightResult {
  readonly accountId?: string;
  /** What is ready, one line each. */
  readonly ok: string[];
  /** What stops the deploy, each with what to do. */
  readonly problems: string[];
}

/**
 * Everything a first deploy needs that Terraform would only discover half-way
 * through an apply: the configuration (no example values), credentials, the
 * Lambda concurrency quota, billing metrics for the cost alarm, the
 * certificate, the remote state, and a Docker engine for the images. Checks
 * run in order; later checks still run after a failure so one pass lists
 * every problem, except that nothing calls AWS while the configuration still
 * has example values, and nothing runs without credentials.
 */
export async function preflight(config: EnvironmentConfig, clients: PreflightClients, run: CommandRunner): Promise<PreflightResult> {
  const ok: string[] = [];
  const problems = placeholderProblems(config);
  // Example values first: no AWS call is worth making for a configuration that cannot deploy.
  if (problems.length > 0) return { ok, problems };
  let accountId: string | undefined;
  try {
    const identity = (await clients.sts.send(new GetCallerIdentityCommand({}))) as { Account?: string; Arn?: string };
    accountId = identity.Account;
    ok.push(`credentials: ${identity.Arn} in account ${accountId}`);
  } catch (error) {
    problems.push(`credentials: ${(error as Error).message}; configure AWS credentials for the target account (AWS_PROFILE, or the deployer role)`);
    return { ok, problems };
  }
  await check(problems, ok, () => lambdaQuota(config, clients.lambda));
  await check(problems, ok, () => billingMetrics(clients.billingCloudWatch));
  const prefix = `HBS_${config.name.toUpperCase()}_`;
  await check(problems, ok, () => certificate(config, { arn: config.certificateArn, region: config.region, what: 'certificate' }, clients.acm));
  await check(problems, ok, () => remoteState(config.remoteState, { what: 'remote state', variable: `${prefix}STATE_BUCKET` }, clients.stateS3));
  if (config.standby) {
    const standby = clients.standby;
    if (!standby) throw new Error('preflight: an environment with a standby needs DR-region clients');
    await check(problems, ok, () => certificate(config, { arn: config.standby!.certificateArn, region: config.drRegion, what: 'standby certificate' }, standby.acm));
    await check(problems, ok, () => remoteState(config.standby!.remoteState, { what: 'standby state', variable: `${prefix}DR_STATE_BUCKET` }, standby.stateS3));
    await check(problems, ok, () => registryReplication(config, standby.registry));
  }
  await check(problems, ok, () => docker(run));
  return { accountId, ok, problems };
}

/**
 * ECR keeps one replication configuration per account and region, and
 * PutReplicationConfiguration replaces it whole: applying this environment's
 * rule would delete another environment's (and each apply would undo the
 * other's). So an environment with a standby must be the only one writing it.
 */
async function registryReplication(config: EnvironmentConfig, ecr: Sender): Promise<string> {
  const own = `${config.name}-brew/`;
  const registry = (await ecr.send(new DescribeRegistryCommand({}))) as {
    replicationConfiguration?: { rules?: { repositoryFilters?: { filter?: string }[] }[] };
  };
  const rules = registry.replicationConfiguration?.rules ?? [];
  const others = rules.flatMap((rule) => (rule.repositoryFilters?.length ? rule.repositoryFilters.map((f) => f.filter ?? '') : ['(every repository)'])).filter((f) => f !== own);
  if (others.length > 0) {
    throw new Error(
      `registry replication: ECR in ${config.region} already replicates ${[...new Set(others)].join(', ')}; this environment's apply would replace that whole configuration ` +
        `(one per account and region). Deploy one environment with a standby per account and region, or remove the other rule first`,
    );
  }
  return rules.length > 0 ? `registry replication: ECR in ${config.region} replicates only ${own}` : `registry replication: ECR in ${config.region} has no other rule`;
}

/** Runs one check: a string is fine, a thrown error is a problem. */
async function check(problems: string[], ok: string[], run: () => Promise<string>): Promise<void> {
  try {
    ok.push(await run());
  } catch (error) {
    problems.push((error as Error).message);
  }
}

async function lambdaQuota(config: EnvironmentConfig, lambda: Sender): Promise<string> {
  const settings = (await lambda.send(new GetAccountSettingsCommand({}))) as { AccountLimit?: { ConcurrentExecutions?: number } };
  const limit = settings.AccountLimit?.ConcurrentExecutions ?? 0;
  const reserved = config.sync.workerReservedConcurrency + config.sync.orchestratorReservedConcurrency;
  const needed = reserved + LAMBDA_MIN_UNRESERVED;
  if (limit < needed) {
    throw new Error(
      `lambda concurrency: the account allows ${limit} concurrent executions; this environment reserves ${reserved} and AWS keeps ${LAMBDA_MIN_UNRESERVED} unreserved, ` +
        `so it needs at least ${needed}. Request an increase of "Concurrent executions" (Service Quotas, AWS Lambda, L-B99A9384) to ${needed} or more, ` +
        `or lower the reserved concurrency in config/environments.ts`,
    );
  }
  return `lambda concurrency: ${limit} available, ${needed} needed`;
}

async function billingMetrics(cloudwatch: Sender): Promise<string> {
  const metrics = (await cloudwatch.send(new ListMetricsCommand({ Namespace: 'AWS/Billing', MetricName: 'EstimatedCharges' }))) as { Metrics?: unknown[] };
  if ((metrics.Metrics ?? []).length === 0) {
    throw new Error(
      'billing metrics: no AWS/Billing EstimatedCharges metric in us-east-1, so the cost alarm would have no data. ' +
        'Enable "Receive Billing Alerts" (Billing and Cost Management console, Billing preferences, as the root user or a user with billing access); metrics appear within hours',
    );
  }
  return 'billing metrics: EstimatedCharges present in us-east-1';
}

/** The ALB's certificate (the primary's, or the standby's in the DR region): issued, in the ALB's region, for the domain. */
async function certificate(config: EnvironmentConfig, given: { arn?: string; region: string; what: string }, acm: Sender): Promise<string> {
  const { arn, what, region } = given;
  if (!arn) return `${what}: the stack requests one for ${config.domainName} in ${region} (DNS validation in zone ${config.hostedZoneId})`;
  const arnRegion = arn.split(':')[3];
  if (arnRegion !== region) throw new Error(`${what}: ${arn} is in ${arnRegion}; the ALB in ${region} needs one from ${region}`);
  let described: { Certificate?: { Status?: string; DomainName?: string; SubjectAlternativeNames?: string[] } };
  try {
    described = (await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))) as typeof described;
  } catch (error) {
    throw new Error(`${what}: cannot read ${arn} (${(error as Error).message})`);
  }
  const status = described.Certificate?.Status;
  if (status !== 'ISSUED') throw new Error(`${what}: ${arn} is ${status ?? 'in an unknown state'}, not ISSUED; finish its validation first`);
  const names = [described.Certificate?.DomainName, ...(described.Certificate?.SubjectAlternativeNames ?? [])].filter((n): n is string => Boolean(n));
  if (!names.some((name) => coversDomain(name, config.domainName))) {
    throw new Error(`${what}: ${arn} covers ${names.join(', ')}, not ${config.domainName}`);
  }
  return `${what}: issued, covers ${config.domainName}`;
}

/** `*.acme.dev` covers `bottles.acme.dev` (one label), an exact name covers itself. */
export function coversDomain(certificateName: string, domain: string): boolean {
  const name = certificateName.toLowerCase();
  const host = domain.toLowerCase();
  if (name.startsWith('*.')) return host.endsWith(name.slice(1)) && !host.slice(0, -name.length + 1).includes('.');
  return name === host;
}

async function remoteState(state: RemoteStateConfig | undefined, names: { what: string; variable: string }, s3: Sender): Promise<string> {
  if (!state) throw new Error(`${names.what}: not configured (${names.variable})`);
  try {
    await s3.send(new HeadBucketCommand({ Bucket: state.bucket }));
  } catch (error) {
    throw new Error(`${names.what}: cannot reach bucket ${state.bucket} in ${state.region} (${(error as Error).name}); create it (versioned, encrypted) or fix ${names.variable}`);
  }
  return `${names.what}: s3://${state.bucket}/${state.key}`;
}

async function docker(run: CommandRunner): Promise<string> {
  const result = await run('docker', ['version', '--format', '{{.Server.Version}}']);
  if (result.code !== 0) {
    throw new Error(`docker: no Docker engine answers (${result.stderr.trim().split('\n')[0] || `exit ${result.code}`}); the image step builds and pushes both images with it`);
  }
  return `docker: engine ${result.stdout.trim()}`;
}
