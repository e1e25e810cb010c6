import { DEFAULT_HEAP_GROWING_PERCENT, NODE_MEMORY_FLAGS, limitHeapGrowth } from '../../engine/heap';
import { synthAll } from '../synth';
import * as fs from 'fs';
import * as path from 'path';

describe('heap growth limit', () => {
  test('defaults to 30 %, is read from HBS_HEAP_GROWING_PERCENT, and a malformed value names the variable', () => {
    expect(limitHeapGrowth({})).toBe(DEFAULT_HEAP_GROWING_PERCENT);
    expect(limitHeapGrowth({ HBS_HEAP_GROWING_PERCENT: '50' })).toBe(50);
    expect(() => limitHeapGrowth({ HBS_HEAP_GROWING_PERCENT: 'lots' })).toThrow(/HBS_HEAP_GROWING_PERCENT must be a positive integer/);
    limitHeapGrowth({}); // leave this worker at the default
  });

  test.each(['cli/bottles.ts', 'lambdas/orchestrator/index.ts', 'lambdas/sync-worker/index.ts', 'containers/sync-task/main.ts', 'containers/mirror-service/main.ts'])(
    'the %s entry point applies it at start',
    (entry) => {
      expect(fs.readFileSync(path.resolve(__dirname, '../..', entry), 'utf8')).toMatch(/^\s*limitHeapGrowth\(\);/m);
    },
  );

  test('every entry point starts with the memory flags: the CLI shebang, the Lambdas and the mirror container', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
    expect(pkg.scripts.build).toContain(`--banner:js='#!/usr/bin/env -S node ${NODE_MEMORY_FLAGS.join(' ')}'`);
    /* eslint-disable @typescript-eslint/no-explicit-any */
    const prod = synthAll().prod as any;
    for (const fn of ['orchestrator_function', 'sync_worker_function']) {
      expect(prod.resource.aws_lambda_function[fn].environment.variables.NODE_OPTIONS).toBe(NODE_MEMORY_FLAGS.join(' '));
    }
    const mirror = JSON.parse(prod.resource.aws_ecs_task_definition.mirror_task_task.container_definitions)[0];
    expect(mirror.command.slice(0, 1 + NODE_MEMORY_FLAGS.length)).toEqual(['node', ...NODE_MEMORY_FLAGS]);
  });
});
