import { setFlagsFromString } from 'v8';
import { positiveInteger } from './runtime-config';

/**
 * How far V8 lets the heap grow past what survived the last full collection,
 * in percent. V8's own choice is dynamic and up to 300 % under a high
 * allocation rate, which a sync has (tens of thousands of downloads): on a
 * Homebrew-size catalogue the process went to 411 MB with about 60 MB live.
 * At 30 % the same run peaks at 266 MB for about the same time
 * (`npm run bench:scale`). Set `HBS_HEAP_GROWING_PERCENT` to change it.
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 30;
export const HEAP_GROWING_ENV = 'HBS_HEAP_GROWING_PERCENT';

/**
 * Applies the heap growing factor to this process. V8 reads the flag each
 * time it sizes the heap after a collection, so setting it at start-up, before
 * the heap has grown, takes effect (unlike the heap size limits, which are
 * fixed when the isolate is created). Entry points call this first.
 */
export function limitHeapGrowth(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const value = env[HEAP_GROWING_ENV];
  const percent = value === undefined || value === '' ? DEFAULT_HEAP_GROWING_PERCENT : positiveInteger(value, HEAP_GROWING_ENV);
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}

/**
 * Node.js flags every entry point is started with (the CLI's shebang, the
 * Lambdas' NODE_OPTIONS, the mirror container's command). A 4 MiB young
 * generation instead of V8's default 16 MiB semi-spaces: on a Homebrew-size
 * catalogue planning peaked at 224 MiB with the default and 188 MiB with this,
 * for about the same run time (`npm run bench:scale`). Unlike the growing
 * factor, the young generation is sized when the process starts, so it must
 * be a command-line flag.
 */
export const NODE_MEMORY_FLAGS = ['--max-semi-space-size=4'] as const;

/** NODE_OPTIONS for the Lambdas (which have no command line); Node accepts this V8 flag there. */
export const NODE_OPTIONS_ENV = { NODE_OPTIONS: NODE_MEMORY_FLAGS.join(' ') } as const;
