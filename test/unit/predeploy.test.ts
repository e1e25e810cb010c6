import { execFileSync } from 'child_process';
import * as path from 'path';
import { predeployProblems } from '../../scripts/predeploy';

const real = {
  HBS_PROD_DOMAIN_NAME: 'bottles.acme.dev',
  HBS_PROD_CERTIFICATE_ARN: 'arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
  HBS_PROD_ALARM_EMAIL: 'oncall@acme.dev',
  HBS_PROD_STATE_BUCKET: 'acme-tfstate',
};

describe('predeploy', () => {
  test('refuses example values, naming each variable to set', () => {
    const problems = predeployProblems(['prod'], {});
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/HBS_PROD_DOMAIN_NAME.*placeholder/);
    expect(problems.join('\n')).toMatch(/HBS_PROD_CERTIFICATE_ARN/);
    expect(problems.join('\n')).toMatch(/HBS_PROD_ALARM_EMAIL/);
    expect(problems.join('\n')).toMatch(/HBS_PROD_STATE_BUCKET is not set; a shared environment needs remote state/);
  });

  test('accepts a fully configured environment', () => {
    expect(predeployProblems(['prod'], real)).toEqual([]);
  });

  test('reports invalid values and unknown environments instead of crashing', () => {
    expect(predeployProblems(['prod', 'qa'], { ...real, HBS_PROD_ALARM_EMAIL: 'nope' })).toEqual([
      'prod: HBS_PROD_ALARM_EMAIL="nope" is not a valid e-mail address',
      'unknown environment "qa" (expected one of dev, staging, prod)',
    ]);
  });

  test('the command exits 1 with the reasons on stderr', () => {
    const run = () =>
      execFileSync('npx', ['ts-node', '--transpile-only', path.resolve(__dirname, '../../scripts/predeploy.ts'), 'dev'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        stdio: 'pipe',
      });
    expect(run).toThrow(/refusing to deploy dev:[\s\S]*HBS_DEV_DOMAIN_NAME/);
  });
});
