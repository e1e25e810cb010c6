import { spawnSync } from 'child_process';
import * as path from 'path';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { USAGE_ASSUMPTIONS, estimate } from '../../scripts/cost';
import { synthAll } from '../synth';

// The estimate reads the synthesized stacks: what the stack creates is what it prices.
const stacks = synthAll();
type Stack = 'dev' | 'staging' | 'prod' | 'prod-standby';
const total = (env: Stack) => estimate(stacks[env], USAGE_ASSUMPTIONS[env]).reduce((sum, l) => sum + l.monthlyUsd, 0);
const line = (env: Stack, item: string) => estimate(stacks[env], USAGE_ASSUMPTIONS[env]).find((l) => l.item.startsWith(item));

describe('npm run cost', () => {
  test('prices what each stack synthesizes: NAT per AZ in prod, Spot outside prod, three large cache nodes, a backup copy in the DR region', () => {
    expect(line('prod', 'NAT gateways')).toMatchObject({ quantity: '3 × 730 h', monthlyUsd: 3 * 730 * 0.045 });
    expect(line('dev', 'NAT gateways')!.quantity).toBe('1 × 730 h');
    // The mirror tasks' way to ECR and CloudWatch Logs without a route out (issue #24): in as many AZs as NAT gateways.
    expect(line('prod', 'VPC interface endpoints')).toMatchObject({ quantity: '3 × 3 AZ × 730 h', monthlyUsd: expect.closeTo(3 * 3 * 730 * 0.01, 2) });
    expect(line('dev', 'VPC interface endpoints')!.quantity).toBe('3 × 1 AZ × 730 h');
    expect(line('prod', 'Fargate mirror tasks')!.item).toBe('Fargate mirror tasks');
    expect(line('staging', 'Fargate mirror tasks')!.item).toBe('Fargate mirror tasks (Spot)');
    expect(line('prod', 'Valkey nodes')).toMatchObject({ item: 'Valkey nodes (cache.r7g.large)', quantity: '3 × 730 h' });
    expect(line('prod', 'AWS Backup')!.quantity).toBe('2 copies × 1 GB');
    expect(line('dev', 'AWS Backup')!.quantity).toBe('1 copy × 1 GB');
    expect(line('prod', 'Bottle store replica')!.quantity).toBe('1000 GB + 100 GB/month');
    expect(line('prod', 'Bottle store replica')!.monthlyUsd).toBeCloseTo(1000 * 0.023 + 100 * (0.02 + 0.015), 2);
    expect(total('prod')).toBeGreaterThan(total('staging'));
    expect(total('staging')).toBeGreaterThan(total('dev'));
  });

  test.each(['dev', 'staging', 'prod'] as const)('%s: the cost alarm’s budget sits above the environment’s own estimate, so it does not fire from day one', (env) => {
    expect(loadEnvironmentConfig(env, {}).alarms.monthlyCostUsd).toBeGreaterThan(total(env) * 1.1);
  });

  test("prod's standby: two warm tasks, one NAT gateway, an ALB and WAF, and nothing stored of its own (the replica is prod's line)", () => {
    expect(line('prod-standby', 'Fargate mirror tasks')!.quantity).toBe('2 × 1 vCPU / 2 GB × 730 h');
    expect(line('prod-standby', 'NAT gateways')!.quantity).toBe('1 × 730 h');
    expect(line('prod-standby', 'Application Load Balancer')).toBeDefined();
    for (const item of ['S3 bottle store', 'Valkey', 'AWS Backup', 'DynamoDB PITR', 'Bottle store replica']) expect([item, line('prod-standby', item)]).toEqual([item, undefined]);
    expect(total('prod-standby')).toBeGreaterThan(100);
    expect(total('prod-standby')).toBeLessThan(total('prod') / 4);
  });

  test('the failover health checks are priced when the domain has a zone: HTTPS and the 10 s interval are features', () => {
    const zoned = synthAll({ HBS_PROD_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ' });
    const checks = (env: Stack) => estimate(zoned[env], USAGE_ASSUMPTIONS[env]).find((l) => l.item.startsWith('Route 53'));
    expect(checks('prod')).toEqual({ item: 'Route 53 failover health checks', quantity: '1 (2 features)', monthlyUsd: 2.5 });
    expect(checks('prod-standby')).toEqual({ item: 'Route 53 failover health checks', quantity: '1 (2 features)', monthlyUsd: 2.5 });
  });

  test("prod's cost alarm sees the account's bill: its budget covers prod and its standby", () => {
    expect(loadEnvironmentConfig('prod', {}).alarms.monthlyCostUsd).toBeGreaterThan((total('prod') + total('prod-standby')) * 1.1);
  });

  test('the command prints the table with its assumptions; a missing environment is exit 2', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.resolve(__dirname, '../../scripts/cost.ts'), ...args], { encoding: 'utf8' });
    const missing = run();
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('cost: name the environment: one of prod, staging, dev, prod-standby\n');
    expect(run('prod', '--stored-gb', 'lots').status).toBe(2);
  });
});
