/**
 * Deployment commands (see docs/deploying.md):
 *
 *   npm run deploy -- <env> [--yes]   preflight, staged apply, images, first sync, health, smoke
 *   npm run predeploy -- <env>        the preflight alone
 *   npm run smoke -- <env>            /health, /status with a published generation, one bottle
 *   npm run destroy -- <env> [--yes] [--confirm <env>]
 *                                     tears the environment down (prod only when named twice)
 *
 * Exit codes: 0 done; 1 a check or step failed (the message says what to do);
 * 2 usage (no or an unknown environment).
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as path from 'path';
import { ENVIRONMENT_NAMES, EnvironmentName } from '../../config/environment-config';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { errorKind } from '../../engine/errors';
import { buildApp } from '../../main';
import { DeployError, deploy, stackDirectory } from './deploy';
import { DestroyError, DestroyRefused, destroy } from './destroy';
import { awsPreflightClients, preflight } from './preflight';
import { spawnRunner } from './runner';
import { fetchGet, smoke } from './smoke';

const ROOT = path.resolve(__dirname, '../..');

async function main(argv: string[]): Promise<number> {
  const [command, name, ...flags] = argv;
  if (!name && command === 'preflight') {
    // npm runs `predeploy` before `deploy` without the deploy's arguments; the deploy runs its own preflight.
    console.log('predeploy: name an environment to check one (npm run predeploy -- <env>); npm run deploy -- <env> runs the preflight itself');
    return 0;
  }
  if (!name || !(ENVIRONMENT_NAMES as readonly string[]).includes(name)) {
    console.error(`${command}: name the environment: one of ${ENVIRONMENT_NAMES.join(', ')}`);
    return 2;
  }
  const env = name as EnvironmentName;
  if (command === 'destroy') {
    const confirmAt = flags.indexOf('--confirm');
    await destroy({
      env,
      confirm: confirmAt >= 0 ? (flags[confirmAt + 1] ?? '') : undefined,
      variables: process.env,
      run: spawnRunner,
      synth: async (variables) => {
        buildApp(path.join(ROOT, 'cdktf.out'), variables).synth();
        return path.join(ROOT, 'cdktf.out');
      },
      log: (line) => console.log(line),
      autoApprove: flags.includes('--yes'),
    });
    return 0;
  }
  const config = loadEnvironmentConfig(env, process.env);
  if (config.teardown) {
    console.error(`${command}: HBS_${env.toUpperCase()}_TEARDOWN is set, which synthesizes ${env} for npm run destroy (protections lifted); unset it`);
    return 2;
  }
  if (command === 'preflight') {
    const result = await preflight(config, awsPreflightClients(config), spawnRunner);
    result.ok.forEach((line) => console.log(`  ok  ${line}`));
    result.problems.forEach((line) => console.error(`  -   ${line}`));
    console.log(result.problems.length === 0 ? `preflight: ${env} ready to deploy` : `preflight: ${result.problems.length} problem(s) to fix before deploying ${env}`);
    return result.problems.length === 0 ? 0 : 1;
  }
  if (command === 'smoke') {
    const result = await smoke(`https://${config.domainName}`, fetchGet);
    result.ok.forEach((line) => console.log(`  ok  ${line}`));
    result.problems.forEach((line) => console.error(`  -   ${line}`));
    return result.problems.length === 0 ? 0 : 1;
  }
  if (command === 'deploy') {
    const variable = `HBS_${env.toUpperCase()}_IMAGE_TAG`;
    await deploy({
      config,
      clients: {
        ...awsPreflightClients(config),
        ecr: new ECRClient({ region: config.region }),
        lambda: new LambdaClient({ region: config.region }),
        ecs: new ECSClient({ region: config.region }),
        standbyRuntime: config.standby ? { ecr: new ECRClient({ region: config.drRegion }), ecs: new ECSClient({ region: config.drRegion }) } : undefined,
      },
      run: spawnRunner,
      synth: async (imageTag) => {
        buildApp(path.join(ROOT, 'cdktf.out'), { ...process.env, [variable]: imageTag }).synth();
        return stackDirectory(ROOT, env);
      },
      get: fetchGet,
      log: (line) => console.log(line),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      root: ROOT,
      autoApprove: flags.includes('--yes'),
    });
    return 0;
  }
  console.error(`unknown command ${command}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error) => {
    const label = error instanceof DeployError ? 'deploy' : error instanceof DestroyRefused || error instanceof DestroyError ? 'destroy' : 'error';
    console.error(`${label}: ${(error as Error).message}`);
    process.exitCode = errorKind(error) === 'usage' || error instanceof DestroyRefused ? 2 : 1;
  },
);
