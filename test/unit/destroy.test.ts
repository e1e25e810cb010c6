import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { buildApp } from '../../main';
import { DestroyRefused, destroy, protectedAddresses } from '../../scripts/deploy/destroy';
import { CommandResult, RunOptions } from '../../scripts/deploy/runner';
import { synthAll } from '../synth';

// `terraform destroy` of dev stopped halfway against an AWS emulator (#36 fault 3): ECR repositories
// holding images, a log bucket holding logs. Real AWS refuses the same, and deletion protection too.
type Resources = Record<string, Record<string, any>>;
const resources = (stack: Record<string, any>): Resources => stack.resource as Resources;

const shipped = synthAll();
const teardown = synthAll({ HBS_DEV_TEARDOWN: 'true', HBS_STAGING_TEARDOWN: 'true' });

/** Every setting that decides whether destroy can finish, by resource address. */
function protections(stack: Record<string, any>): Record<string, unknown> {
  const r = resources(stack);
  const out: Record<string, unknown> = {};
  for (const [name, b] of Object.entries(r.aws_s3_bucket ?? {})) out[`aws_s3_bucket.${name}`] = b.force_destroy;
  for (const [name, b] of Object.entries(r.aws_ecr_repository ?? {})) out[`aws_ecr_repository.${name}`] = b.force_delete;
  for (const [name, b] of Object.entries(r.aws_lb ?? {})) out[`aws_lb.${name}`] = !b.enable_deletion_protection;
  for (const [name, b] of Object.entries(r.aws_dynamodb_table ?? {})) out[`aws_dynamodb_table.${name}`] = !b.deletion_protection_enabled;
  for (const [name, b] of Object.entries(r.aws_backup_vault ?? {})) out[`aws_backup_vault.${name}`] = b.force_destroy;
  return out;
}

describe('a stack synthesized for npm run destroy', () => {
  test.each(['dev', 'staging'])('%s: every bucket, repository, ALB, table and vault lets destroy finish, and no image is looked up', (env) => {
    const lifted = protections(teardown[env]);
    expect(Object.keys(lifted).filter((a) => a.startsWith('aws_ecr_repository.')).sort()).toEqual(['aws_ecr_repository.mirror_repo_repo', 'aws_ecr_repository.sync_repo_repo']);
    expect(Object.keys(lifted)).toEqual(expect.arrayContaining(['aws_lb.load_balancer_alb', 'aws_dynamodb_table.state_table_table']));
    expect(Object.entries(lifted).filter(([, ok]) => ok !== true)).toEqual([]);
    expect((teardown[env] as any).data?.aws_ecr_image).toBeUndefined();
  });

  test.each(['dev', 'staging', 'prod', 'prod-standby'])('%s as shipped keeps every protection', (stack) => {
    const kept = protections(shipped[stack]);
    // The standby has an ALB and a log bucket of its own; the primaries have buckets, repositories, a table and vaults too.
    expect(Object.keys(kept).length).toBeGreaterThanOrEqual(stack === 'prod-standby' ? 2 : 8);
    expect(Object.entries(kept).filter(([, lifted]) => lifted === true)).toEqual([]);
  });

  test('prod is lifted only when named twice', () => {
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_TEARDOWN: 'true' })).toThrow(/name prod twice to mean it \(HBS_PROD_TEARDOWN_CONFIRM=prod/);
    expect(loadEnvironmentConfig('prod', { HBS_PROD_TEARDOWN: 'true', HBS_PROD_TEARDOWN_CONFIRM: 'prod' }).teardown).toBe(true);
    expect(loadEnvironmentConfig('dev', {}).teardown).toBe(false);
  });
});

describe('npm run destroy -- ENV', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-destroy-'));
  const synthesized: NodeJS.ProcessEnv[] = [];
  const synth = async (variables: NodeJS.ProcessEnv) => {
    synthesized.push(variables);
    buildApp(outdir, variables).synth();
    return outdir;
  };

  function recorder(failOn?: string) {
    const commands: { command: string; args: readonly string[]; options?: RunOptions }[] = [];
    const run = async (command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult> => {
      commands.push({ command, args, options });
      return { code: failOn && args.includes(failOn) ? 1 : 0, stdout: '', stderr: '' };
    };
    return { commands, run };
  }

  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test('dev: synthesize with the teardown flag, apply the protected resources alone, then destroy', async () => {
    const { commands, run } = recorder();
    const lines: string[] = [];
    await destroy({ env: 'dev', variables: {}, run, synth, log: (l) => lines.push(l), autoApprove: true });
    expect(synthesized.at(-1)).toEqual({ HBS_DEV_TEARDOWN: 'true' });
    const dir = path.join(outdir, 'stacks', 'dev');
    const targets = protectedAddresses(dir);
    expect(targets).toEqual(expect.arrayContaining(['aws_ecr_repository.mirror_repo_repo', 'aws_ecr_repository.sync_repo_repo', 'aws_lb.load_balancer_alb', 'aws_dynamodb_table.state_table_table']));
    expect(targets.filter((t) => t.startsWith('aws_s3_bucket.')).length).toBeGreaterThanOrEqual(4);
    expect(commands.map((c) => [c.command, ...c.args])).toEqual([
      ['terraform', `-chdir=${dir}`, 'init', '-input=false'],
      ['terraform', `-chdir=${dir}`, 'apply', '-input=false', '-auto-approve', ...targets.map((t) => `-target=${t}`)],
      ['terraform', `-chdir=${dir}`, 'destroy', '-input=false', '-auto-approve'],
    ]);
    expect(lines.at(-1)).toMatch(/^dev is destroyed\./);
  });

  test('prod without being named twice: refused before anything runs', async () => {
    const { commands, run } = recorder();
    const before = synthesized.length;
    await expect(destroy({ env: 'prod', variables: {}, run, synth, log: () => undefined })).rejects.toThrow(
      new DestroyRefused('prod keeps its protections: to destroy it anyway, name it twice (npm run destroy -- prod --confirm prod)'),
    );
    await expect(destroy({ env: 'staging', confirm: 'dev', variables: {}, run, synth, log: () => undefined })).rejects.toThrow(/--confirm names dev, not staging/);
    expect(commands).toEqual([]);
    expect(synthesized.length).toBe(before);
  });

  test('prod named twice: its standby first, then prod, each lifted and destroyed; Terraform asks without --yes', async () => {
    const { commands, run } = recorder();
    await destroy({ env: 'prod', confirm: 'prod', variables: {}, run, synth, log: () => undefined });
    expect(synthesized.at(-1)).toEqual({ HBS_PROD_TEARDOWN: 'true', HBS_PROD_TEARDOWN_CONFIRM: 'prod' });
    const steps = commands.map((c) => `${path.basename(c.args[0].replace('-chdir=', ''))} ${c.args[1]}`);
    expect(steps).toEqual(['prod-standby init', 'prod-standby apply', 'prod-standby destroy', 'prod init', 'prod apply', 'prod destroy']);
    expect(commands.some((c) => c.args.includes('-auto-approve'))).toBe(false);
  });

  test('a failed step stops there and says how to go on', async () => {
    const { commands, run } = recorder('apply');
    await expect(destroy({ env: 'staging', variables: {}, run, synth, log: () => undefined })).rejects.toThrow(
      'terraform apply of staging failed (exit 1); rerun npm run destroy -- staging to go on from where it stopped',
    );
    expect(commands.map((c) => c.args[1])).toEqual(['init', 'apply']);
  });
});
