import * as fs from 'fs';
import * as path from 'path';
import { EnvironmentName } from '../../config/environment-config';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { standbyStackName } from '../../stacks/standby-names';
import { CommandRunner } from './runner';

/**
 * The resources whose settings decide whether `terraform destroy` finishes:
 * a bucket with objects (`BucketNotEmpty`), a repository with images
 * (`RepositoryNotEmptyException`), deletion protection on the ALB and the
 * state table, recovery points in a backup vault. They are applied alone,
 * with the teardown settings, before the destroy.
 */
export const PROTECTED_TYPES = ['aws_s3_bucket', 'aws_ecr_repository', 'aws_lb', 'aws_dynamodb_table', 'aws_backup_vault'] as const;

/** Asked not to run: a usage error (exit 2). */
export class DestroyRefused extends Error {}
export class DestroyError extends Error {}

export interface DestroyDeps {
  readonly env: EnvironmentName;
  /** The environment named a second time (`--confirm <env>`); prod needs it. */
  readonly confirm?: string;
  /** The caller's environment (`HBS_<ENV>_*` settings); the teardown variables are added to it. */
  readonly variables: NodeJS.ProcessEnv;
  readonly run: CommandRunner;
  /** Synthesizes every stack with `variables`; returns the directory holding `stacks/<name>/cdk.tf.json`. */
  readonly synth: (variables: NodeJS.ProcessEnv) => Promise<string>;
  readonly log: (line: string) => void;
  /** Pass `-auto-approve` to the apply and the destroy. Default: Terraform asks, twice. */
  readonly autoApprove?: boolean;
}

/** What `npm run destroy` adds to the environment: the teardown flag, and for prod the second naming. */
export function teardownVariables(env: EnvironmentName): Record<string, string> {
  const prefix = `HBS_${env.toUpperCase()}_`;
  return { [`${prefix}TEARDOWN`]: 'true', ...(env === 'prod' ? { [`${prefix}TEARDOWN_CONFIRM`]: 'prod' } : {}) };
}

/**
 * `npm run destroy -- <env>`: one command that tears an environment down
 * completely (issue #36, fault 3). It synthesizes the stacks with
 * `HBS_<ENV>_TEARDOWN=true`, applies only the protected resources so their
 * state carries the settings destroy needs, and destroys; the standby first,
 * since it reads the primary's replicas. prod is refused unless named twice.
 */
export async function destroy(deps: DestroyDeps): Promise<void> {
  const { env, run, log } = deps;
  if (env === 'prod' && deps.confirm !== 'prod') {
    throw new DestroyRefused('prod keeps its protections: to destroy it anyway, name it twice (npm run destroy -- prod --confirm prod)');
  }
  if (deps.confirm !== undefined && deps.confirm !== env) throw new DestroyRefused(`--confirm names ${deps.confirm}, not ${env}`);
  const variables = { ...deps.variables, ...teardownVariables(env) };
  const config = loadEnvironmentConfig(env, variables);
  log(`== synthesize ${env} for teardown (${Object.keys(teardownVariables(env)).join(', ')})`);
  const outdir = await deps.synth(variables);
  const stacks = [...(config.standby ? [standbyStackName(env)] : []), env];
  const approve = deps.autoApprove ? ['-auto-approve'] : [];
  for (const stack of stacks) {
    const dir = path.join(outdir, 'stacks', stack);
    const terraform = async (...args: string[]) => {
      const result = await run('terraform', [`-chdir=${dir}`, ...args], { stream: true });
      if (result.code !== 0) throw new DestroyError(`terraform ${args[0]} of ${stack} failed (exit ${result.code}); rerun npm run destroy -- ${env} to go on from where it stopped`);
    };
    log(`== ${stack}: lift the protections`);
    await terraform('init', '-input=false');
    await terraform('apply', '-input=false', ...approve, ...protectedAddresses(dir).map((address) => `-target=${address}`));
    log(`== ${stack}: destroy`);
    await terraform('destroy', '-input=false', ...approve);
  }
  log(`${env} is destroyed. Left outside Terraform: the KMS keys' scheduled deletions (30 days, cancellable) and ECR's replicas in ${config.drRegion}, if any.`);
}

/** Every protected resource of a synthesized stack, as Terraform addresses, in a stable order. */
export function protectedAddresses(stackDir: string): string[] {
  const json = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8')) as { resource?: Record<string, Record<string, unknown>> };
  return PROTECTED_TYPES.flatMap((type) => Object.keys(json.resource?.[type] ?? {}).sort().map((name) => `${type}.${name}`));
}
