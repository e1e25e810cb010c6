import * as path from 'path';
import { shellExports } from '../../engine/homebrew/client-settings';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeImagesCommand, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { EnvironmentConfig, EnvironmentName } from '../../config/environment-config';
import { standbyStackName } from '../../stacks/standby-names';
import { PreflightClients, Sender, preflight } from './preflight';
import { CommandRunner } from './runner';
import { HttpGet, smoke } from './smoke';

/** The two images, their ECR repositories (`<env>-brew/<service>`) and Terraform addresses. */
export const IMAGES = [
  { service: 'sync-task', repositoryAddress: 'aws_ecr_repository.sync_repo_repo' },
  { service: 'mirror-service', repositoryAddress: 'aws_ecr_repository.mirror_repo_repo' },
] as const;

/** The task definitions declare X86_64 on Linux. */
export const IMAGE_PLATFORM = 'linux/amd64';

export interface DeployClients extends PreflightClients {
  readonly ecr: Sender;
  readonly lambda: Sender;
  readonly ecs: Sender;
  /** In the DR region, for an environment with a standby: the replicated images and the standby's service. */
  readonly standbyRuntime?: { readonly ecr: Sender; readonly ecs: Sender };
}

/**
 * Applied with the repositories, before the images are pushed: ECR replicates
 * only pushes made after the rule exists, and the standby runs the replicas.
 */
export const IMAGE_REPLICATION_ADDRESS = 'aws_ecr_replication_configuration.image_replication';
/** The settings replication gives the repositories it creates in the DR region: it must exist before the first push too. */
export const REPLICA_TEMPLATE_ADDRESS = 'aws_ecr_repository_creation_template.replica_repository_template_template';

export interface DeployDeps {
  readonly config: EnvironmentConfig;
  readonly clients: DeployClients;
  readonly run: CommandRunner;
  /** Synthesizes the stack with the given image tag; returns its directory (`cdktf.out/stacks/<env>`). */
  readonly synth: (imageTag: string) => Promise<string>;
  readonly get: HttpGet;
  readonly log: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** Repository root (the Docker build context). */
  readonly root: string;
  /** Pass `-auto-approve` to both applies. Default: Terraform asks. */
  readonly autoApprove?: boolean;
  /** How long to wait for the mirror service to become healthy. Default: 20 minutes. */
  readonly healthTimeoutMs?: number;
  /** How long to wait for the images to replicate to the DR region. Default: 30 minutes. */
  readonly replicationTimeoutMs?: number;
}

export class DeployError extends Error {}

/**
 * `npm run deploy -- <env>`: one command from a fresh account to a serving
 * mirror, stopping with a clear message at the first problem.
 *
 * 1. preflight; 2. image tag from the commit (a dirty tree is refused: the tag
 *    is immutable); 3. synthesize with that tag; 4. apply the ECR repositories
 *    alone; 5. build and push both images (linux/amd64); 6. apply the rest (a
 *    missing image fails at plan time: the task definitions look it up);
 * 7. start the first sync; 8. wait until the mirror service is healthy;
 * 9. smoke check; 10. with a standby: wait for the images in the DR region,
 * apply the standby stack, wait until it is healthy; 11. print the brew settings.
 */
export async function deploy(deps: DeployDeps): Promise<{ imageTag: string; mirrorUrl: string }> {
  const { config, clients, run, log } = deps;
  const env = config.name as EnvironmentName;

  log(`== preflight (${env})`);
  const checked = await preflight(config, clients, run);
  checked.ok.forEach((line) => log(`  ok  ${line}`));
  if (checked.problems.length > 0) throw new DeployError(`preflight found ${checked.problems.length} problem(s):\n${checked.problems.map((p) => `  - ${p}`).join('\n')}`);

  const imageTag = await commitTag(run, deps.root);
  log(`== synthesize (image tag ${imageTag})`);
  const stackDir = await deps.synth(imageTag);
  const terraform = (...args: string[]) => must(run, 'terraform', [`-chdir=${stackDir}`, ...args], { stream: true });
  const approve = deps.autoApprove ? ['-auto-approve'] : [];
  await terraform('init', '-input=false');

  log('== apply the image repositories');
  // Only an environment with a standby replicates its images to the DR region.
  const replication = config.standby ? [`-target=${IMAGE_REPLICATION_ADDRESS}`, `-target=${REPLICA_TEMPLATE_ADDRESS}`] : [];
  await terraform('apply', '-input=false', ...approve, ...IMAGES.map((i) => `-target=${i.repositoryAddress}`), ...replication);

  log('== build and push the images');
  const registry = `${checked.accountId}.dkr.ecr.${config.region}.amazonaws.com`;
  await dockerLogin(clients.ecr, run, registry);
  for (const { service } of IMAGES) {
    const image = `${registry}/${env}-brew/${service}:${imageTag}`;
    await must(run, 'docker', ['build', '--platform', IMAGE_PLATFORM, '-f', 'containers/Dockerfile', '--build-arg', `SERVICE=${service}`, '-t', image, '.'], {
      cwd: deps.root,
      stream: true,
    });
    await must(run, 'docker', ['push', image], { stream: true });
  }

  log('== apply the stack');
  await terraform('apply', '-input=false', ...approve);
  const outputs = JSON.parse((await must(run, 'terraform', [`-chdir=${stackDir}`, 'output', '-json'])).stdout) as Record<string, { value: unknown }>;
  const mirrorUrl = outputs.mirror_url.value as string;
  const summary = outputs.environment_config.value as { ecs_cluster: string; mirror_service: string };

  log('== start the first sync');
  const invoked = (await clients.lambda.send(
    new InvokeCommand({ FunctionName: `${env}-brew-orchestrator`, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ source: 'deploy', trigger: imageTag })) }),
  )) as { StatusCode?: number };
  if (invoked.StatusCode !== 202) throw new DeployError(`the orchestrator did not accept the first sync (status ${invoked.StatusCode})`);

  log('== wait for the mirror service');
  await waitHealthy(deps, deps.clients.ecs, summary.ecs_cluster, summary.mirror_service);

  log('== smoke check');
  const checkedUrl = await smoke(mirrorUrl, deps.get, { requireGeneration: false });
  checkedUrl.ok.forEach((line) => log(`  ok  ${line}`));
  if (checkedUrl.problems.length > 0) {
    throw new DeployError(
      `the stack is deployed but the mirror does not answer as it should:\n${checkedUrl.problems.map((p) => `  - ${p}`).join('\n')}\n` +
        `(is ${config.domainName} pointing at ${outputs.alb_dns_name?.value}?)`,
    );
  }
  if (config.standby) await deployStandby(deps, stackDir, imageTag);
  log('');
  log(`${env} is deployed (images ${imageTag}). Point brew at it:`);
  for (const line of shellExports({ publicUrl: mirrorUrl })) log(`  ${line}`);
  log(`or ship ${mirrorUrl}/brew.env to every machine as /etc/homebrew/brew.env.`);
  log(`The first sync is running; \`npm run smoke -- ${env}\` passes once it has published.`);
  return { imageTag, mirrorUrl };
}

/** An immutable tag per commit; uncommitted changes would give two different images one tag. */
async function commitTag(run: CommandRunner, root: string): Promise<string> {
  const dirty = await must(run, 'git', ['status', '--porcelain'], { cwd: root });
  if (dirty.stdout.trim() !== '') throw new DeployError('the working tree has uncommitted changes; commit them first (image tags are immutable and name the commit)');
  const sha = (await must(run, 'git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root })).stdout.trim();
  return `git-${sha}`;
}

async function dockerLogin(ecr: Sender, run: CommandRunner, registry: string): Promise<void> {
  const token = (await ecr.send(new GetAuthorizationTokenCommand({}))) as { authorizationData?: { authorizationToken?: string }[] };
  const encoded = token.authorizationData?.[0]?.authorizationToken;
  if (!encoded) throw new DeployError('ECR returned no authorization token');
  const [user, password] = Buffer.from(encoded, 'base64').toString('utf8').split(':');
  await must(run, 'docker', ['login', '--username', user, '--password-stdin', registry], { input: password });
}

/**
 * The standby in the DR region (its own stack, `<env>-standby`), once the
 * primary has written the handoff parameter: wait until ECR has replicated
 * the mirror image there, apply, and wait until the standby's tasks are healthy.
 */
async function deployStandby(deps: DeployDeps, stackDir: string, imageTag: string): Promise<void> {
  const { config, run, log } = deps;
  const runtime = deps.clients.standbyRuntime;
  if (!runtime) throw new DeployError('an environment with a standby needs DR-region clients');
  log(`== wait for the images in ${config.drRegion}`);
  await waitReplicated(deps, runtime.ecr, `${config.name}-brew/mirror-service`, imageTag);
  log(`== apply the standby (${standbyStackName(config.name)}, ${config.drRegion})`);
  const dir = path.join(path.dirname(stackDir), standbyStackName(config.name));
  await must(run, 'terraform', [`-chdir=${dir}`, 'init', '-input=false'], { stream: true });
  await must(run, 'terraform', [`-chdir=${dir}`, 'apply', '-input=false', ...(deps.autoApprove ? ['-auto-approve'] : [])], { stream: true });
  const outputs = JSON.parse((await must(run, 'terraform', [`-chdir=${dir}`, 'output', '-json'])).stdout) as Record<string, { value: unknown }>;
  const summary = outputs.environment_config.value as { ecs_cluster: string; mirror_service: string };
  log('== wait for the standby mirror service');
  await waitHealthy(deps, runtime.ecs, summary.ecs_cluster, summary.mirror_service);
  log(`  ok  standby ALB ${outputs.alb_dns_name?.value}`);
}

/** ECR replicates a push within minutes; until then DescribeImages answers ImageNotFound (or RepositoryNotFound, before the first). */
async function waitReplicated(deps: DeployDeps, ecr: Sender, repositoryName: string, imageTag: string): Promise<void> {
  const deadline = Date.now() + (deps.replicationTimeoutMs ?? 30 * 60_000);
  for (;;) {
    try {
      await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag }] }));
      deps.log(`  ok  ${repositoryName}:${imageTag} is in ${deps.config.drRegion}`);
      return;
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'ImageNotFoundException' && name !== 'RepositoryNotFoundException') throw error;
      if (Date.now() > deadline) {
        throw new DeployError(`${repositoryName}:${imageTag} has not replicated to ${deps.config.drRegion}; check the registry's replication rule (${IMAGE_REPLICATION_ADDRESS}) and rerun the deploy`);
      }
    }
    await deps.sleep(15_000);
  }
}

async function waitHealthy(deps: DeployDeps, ecs: Sender, cluster: string, service: string): Promise<void> {
  const deadline = Date.now() + (deps.healthTimeoutMs ?? 20 * 60_000);
  for (;;) {
    const described = (await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }))) as {
      services?: { runningCount?: number; desiredCount?: number; deployments?: { rolloutState?: string; rolloutStateReason?: string }[] }[];
    };
    const current = described.services?.[0];
    const rollout = current?.deployments?.[0];
    if (rollout?.rolloutState === 'FAILED') throw new DeployError(`the mirror service deployment failed: ${rollout.rolloutStateReason ?? 'no reason given'} (see the ECS service events)`);
    if (rollout?.rolloutState === 'COMPLETED' && (current?.runningCount ?? 0) >= (current?.desiredCount ?? 1)) {
      deps.log(`  ok  ${service}: ${current?.runningCount} task(s) running`);
      return;
    }
    if (Date.now() > deadline) throw new DeployError(`the mirror service is not healthy after waiting (${rollout?.rolloutState ?? 'no deployment'}); see the ECS service events`);
    await deps.sleep(15_000);
  }
}

/** Runs a command and fails the deploy, with its output, when it fails. */
async function must(run: CommandRunner, command: string, args: string[], options?: Parameters<CommandRunner>[2]) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const detail = result.stderr.trim().split('\n').slice(-5).join('\n    ');
    throw new DeployError(`${command} ${args[0].startsWith('-chdir') ? args[1] : args[0]} failed (exit ${result.code})${detail ? `:\n    ${detail}` : ''}`);
  }
  return result;
}

export const stackDirectory = (root: string, env: string): string => path.join(root, 'cdktf.out', 'stacks', env);
