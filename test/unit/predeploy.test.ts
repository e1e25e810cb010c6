import { spawnSync } from 'child_process';
import * as path from 'path';

// `npm run predeploy -- <env>` checks that one environment; npm also runs it, without arguments,
// before `npm run deploy -- <env>`, which runs the same preflight itself.
const main = path.resolve(__dirname, '../../scripts/deploy/main.ts');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', main, ...args], {
    encoding: 'utf8',
    // No AWS credentials and no metadata endpoint: a configuration with example values must stop before any AWS call.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true' },
  });

describe('npm run predeploy', () => {
  test('checks only the environment named, and stops at example values naming each variable (exit 1)', () => {
    const result = run('preflight', 'dev');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/HBS_DEV_DOMAIN_NAME is the placeholder/);
    expect(result.stderr).toMatch(/HBS_DEV_CERTIFICATE_ARN/);
    expect(result.stderr).toMatch(/HBS_DEV_ALARM_EMAIL/);
    expect(result.stderr).toMatch(/HBS_DEV_STATE_BUCKET is not set/);
    expect(result.stderr).not.toMatch(/HBS_(PROD|STAGING)_/);
    expect(result.stdout).toMatch(/preflight: 4 problem\(s\) to fix before deploying dev/);
  });

  test('as npm’s pre-hook of deploy (no arguments) it defers to the deploy’s own preflight', () => {
    const result = run('preflight');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/npm run deploy -- <env> runs the preflight itself/);
  });

  test('an unknown environment is a usage error (exit 2)', () => {
    const result = run('preflight', 'qa');
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('preflight: name the environment: one of dev, staging, prod\n');
  });
});
