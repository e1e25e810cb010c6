import { spawnSync } from 'child_process';
import * as path from 'path';
import { loadEnvironmentConfig } from '../../config/environments';
import { USAGE_ASSUMPTIONS, estimate } from '../../scripts/cost';
import { synthAll } from '../synth';

// The estimate reads the synthesized stacks: what the stack creates is what it prices.
const stacks = synthAll();
const total = (env: 'dev' | 'staging' | 'prod') => estimate(stacks[env], USAGE_ASSUMPTIONS[env]).reduce((sum, l) => sum + l.monthlyUsd, 0);
const line = (env: 'dev' | 'staging' | 'prod', item: string) => estimate(stacks[env], USAGE_ASSUMPTIONS[env]).find((l) => l.item.startsWith(item));

describe('npm run cost', () => {
  test('prices what each stack synthesizes: NAT per AZ in prod, Spot outside prod, three large cache nodes, a backup copy in the DR region', () => {
    expect(line('prod', 'NAT gateways')).toMatchObject({ quantity: '3 × 730 h', monthlyUsd: 3 * 730 * 0.045 });
    expect(line('dev', 'NAT gateways')!.quantity).toBe('1 × 730 h');
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

  test('the command prints the table with its assumptions; a missing environment is exit 2', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.resolve(__dirname, '../../scripts/cost.ts'), ...args], { encoding: 'utf8' });
    const missing = run();
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('cost: name the environment: one of prod, staging, dev\n');
    expect(run('prod', '--stored-gb', 'lots').status).toBe(2);
  });
});
