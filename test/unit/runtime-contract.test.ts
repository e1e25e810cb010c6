import { MIRROR_SERVICE_ENV, ORCHESTRATOR_ENV, PROMOTED_SYNC_TASK_ENV, STANDBY_MIRROR_SERVICE_ENV, SYNC_TASK_ENV, WORKER_ENV } from '../../engine/runtime-config';
import { synthAll } from '../synth';
import { NODE_OPTIONS_ENV } from '../../engine/heap';

/* eslint-disable @typescript-eslint/no-explicit-any */
const stacks = synthAll() as Record<string, any>;
const prod = stacks.prod;
const lambdaEnv = (name: string): Record<string, string> => prod.resource.aws_lambda_function[name].environment.variables;
const containerEnv = (name: string, stack = prod): Record<string, string> =>
  Object.fromEntries(
    JSON.parse(stack.resource.aws_ecs_task_definition[name].container_definitions)[0].environment.map((e: any) => [e.name, e.value]),
  );

describe('runtime contract: the stack sets every variable each workload reads', () => {
  test.each([
    ['orchestrator Lambda', () => lambdaEnv('orchestrator_function'), ORCHESTRATOR_ENV],
    ['sync worker Lambda', () => lambdaEnv('sync_worker_function'), WORKER_ENV],
    ['Fargate sync task', () => containerEnv('sync_task_task'), SYNC_TASK_ENV],
    ['mirror service', () => containerEnv('mirror_task_task'), MIRROR_SERVICE_ENV],
    ['standby mirror service (prod-standby)', () => containerEnv('mirror_task_task', stacks['prod-standby']), STANDBY_MIRROR_SERVICE_ENV],
    [
      'promoted sync task (prod-standby as writer)',
      () => containerEnv('promoted_sync_task_task', (synthAll({ HBS_PROD_STANDBY_WRITER: 'true' }) as Record<string, any>)['prod-standby']),
      PROMOTED_SYNC_TASK_ENV,
    ],
  ])('%s', (_name, read, contract) => {
    const env = read();
    const missing = Object.values(contract).filter((variable) => !env[variable]);
    expect(missing).toEqual([]);
    // …and nothing the workload does not read: a variable set but never read is a stale promise.
    // NODE_OPTIONS is read by Node.js itself: the Lambdas' memory flags (engine/heap.ts).
    const unread = Object.keys(env).filter((variable) => !(Object.values(contract) as string[]).includes(variable) && variable !== 'NODE_OPTIONS');
    expect(unread).toEqual([]);
    if (env.NODE_OPTIONS !== undefined) expect(env.NODE_OPTIONS).toBe(NODE_OPTIONS_ENV.NODE_OPTIONS);
  });

  test('values point at this environment’s resources', () => {
    const env = lambdaEnv('orchestrator_function');
    expect(env.HBS_ENVIRONMENT).toBe('prod');
    expect(env.HBS_STATE_TABLE).toBe('${aws_dynamodb_table.state_table_table.name}');
    expect(env.HBS_WORKER_FUNCTION_NAME).toBe('${aws_lambda_function.sync_worker_function.function_name}');
    expect(env.HBS_LAMBDA_THRESHOLD_BYTES).toBe(String(20 * 1024 ** 3));
    expect(env.HBS_SYNC_CAPACITY_PROVIDER).toBe('FARGATE');
    expect(containerEnv('mirror_task_task').HBS_SERVE_MODE).toBe('redirect');
    // The stack's own sync writes unless the writer pin names another region.
    expect([env.HBS_WRITER_ROLE, lambdaEnv('sync_worker_function').HBS_WRITER_ROLE, containerEnv('sync_task_task').HBS_WRITER_ROLE]).toEqual(['primary', 'primary', 'primary']);
  });

  test('brew is mirrored by default, in the primary and in a promoted DR region alike; HBS_<ENV>_MIRROR_BREW=false turns it off', () => {
    const promoted = (env: Record<string, string> = {}) =>
      containerEnv('promoted_sync_task_task', (synthAll({ HBS_PROD_STANDBY_WRITER: 'true', ...env }) as Record<string, any>)['prod-standby']);
    expect([lambdaEnv('orchestrator_function').HBS_MIRROR_BREW, lambdaEnv('orchestrator_function').HBS_BREW_RELEASES]).toEqual(['true', '3']);
    expect(promoted().HBS_MIRROR_BREW).toBe('true');
    const off = synthAll({ HBS_PROD_MIRROR_BREW: 'false' }) as Record<string, any>;
    expect(off.prod.resource.aws_lambda_function.orchestrator_function.environment.variables.HBS_MIRROR_BREW).toBe('false');
    expect(promoted({ HBS_PROD_MIRROR_BREW: 'false' }).HBS_MIRROR_BREW).toBe('false');
    expect(() => synthAll({ HBS_PROD_MIRROR_BREW: 'no' })).toThrow(/HBS_PROD_MIRROR_BREW="no" must be true or false/);
  });
});
