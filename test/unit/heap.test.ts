import { DEFAULT_HEAP_GROWING_PERCENT, limitHeapGrowth } from '../../engine/heap';
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
});
