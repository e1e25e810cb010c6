import { readFileSync } from 'fs';
import * as path from 'path';
import { sourceFiles } from '../source-files';
import { SERVE_DEFAULTS, SYNC_DEFAULTS } from '../../engine/defaults';
import { DEFAULT_UPSTREAM_LIMITS, UPSTREAM_LIMIT_ENV } from '../../engine/upstream/client';
import { DEFAULT_SERVER_LIMITS, SERVER_LIMIT_ENV } from '../../engine/serve/connection-guard';
import { ACCESS_LOG_BACKLOG_ENV, DEFAULT_ACCESS_LOG_BACKLOG_BYTES } from '../../engine/serve/access-log';
import { DEFAULT_HEAP_GROWING_PERCENT, HEAP_GROWING_ENV } from '../../engine/heap';

// docs/configuration.md is the reference for every HBS_* variable, checked
// against the code the way terraform-docs checks a module's inputs.
const ROOT = path.resolve(__dirname, '../..');
const DOC = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
const RUNTIME_FOLDERS = ['engine', 'cli', 'containers', 'lambdas', 'stacks', 'constructs'];
const ENV_NAMES = ['DEV', 'STAGING', 'PROD'];

/** HBS_* names a text mentions, without the per-environment ones (`HBS_PROD_…`, `HBS_<ENV>_…`). */
const runtimeNames = (text: string) =>
  new Set([...text.matchAll(/\bHBS_[A-Z0-9_]+\b/g)].map((m) => m[0]).filter((name) => !ENV_NAMES.some((env) => name.startsWith(`HBS_${env}_`))));

/** The `HBS_<ENV>_<KEY>` keys config/load-environment.ts reads. */
const perEnvironmentKeys = () => new Set([...readFileSync(path.join(ROOT, 'config/load-environment.ts'), 'utf8').matchAll(/read\('([A-Z0-9_]+)'\)/g)].map((m) => m[1]));

/** The `HBS_<ENV>_<KEY>` keys the page documents (a row may list several). */
const documentedPerEnvironmentKeys = () => new Set([...DOC.matchAll(/`HBS_<ENV>_([A-Z0-9_]+)`/g)].map((m) => m[1]));

/** The Default column of the row whose first cell names `name`. */
function documentedDefault(name: string): string | undefined {
  const row = DOC.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
  return row?.split('|')[2]?.trim();
}

describe('docs/configuration.md is complete', () => {
  const code = RUNTIME_FOLDERS.flatMap((f) => sourceFiles(path.join(ROOT, f))).map((file) => readFileSync(file, 'utf8')).join('\n');

  test('every HBS_* variable the code reads is documented, and every documented one is read', () => {
    const read = runtimeNames(code);
    const documented = runtimeNames(DOC);
    expect(read.size).toBeGreaterThan(30);
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
    expect([...documented].filter((name) => !read.has(name)).sort()).toEqual([]);
  });

  test('every HBS_<ENV>_* override config/load-environment.ts reads is documented, and no other', () => {
    const read = perEnvironmentKeys();
    const documented = documentedPerEnvironmentKeys();
    expect(read.size).toBeGreaterThan(15);
    expect([...read].filter((key) => !documented.has(key)).sort()).toEqual([]);
    expect([...documented].filter((key) => !read.has(key)).sort()).toEqual([]);
  });

  test('the defaults table quotes engine/defaults.ts', () => {
    const defaults = [
      ...Object.entries(SYNC_DEFAULTS).map(([key, value]) => [`SYNC_DEFAULTS.${key}`, value] as const),
      ...Object.entries(SERVE_DEFAULTS).map(([key, value]) => [`SERVE_DEFAULTS.${key}`, value] as const),
    ];
    for (const [name, value] of defaults) expect([name, documentedDefault(name)]).toEqual([name, `\`${value}\``]);
  });

  test('the run-time limits table quotes each limit’s default', () => {
    const limits: [string, number][] = [
      ...Object.entries(UPSTREAM_LIMIT_ENV).map(([key, name]) => [name, DEFAULT_UPSTREAM_LIMITS[key as keyof typeof DEFAULT_UPSTREAM_LIMITS]] as [string, number]),
      [SERVER_LIMIT_ENV.maxConnectionsPerClient, DEFAULT_SERVER_LIMITS.maxConnectionsPerClient],
      [SERVER_LIMIT_ENV.writeStallMs, DEFAULT_SERVER_LIMITS.writeStallMs],
      [ACCESS_LOG_BACKLOG_ENV, DEFAULT_ACCESS_LOG_BACKLOG_BYTES],
      [HEAP_GROWING_ENV, DEFAULT_HEAP_GROWING_PERCENT],
    ];
    for (const [name, value] of limits) expect([name, documentedDefault(name)?.split(' ')[0]]).toEqual([name, String(value)]);
    // The connection cap depends on the machine's descriptor limit; the page says how.
    expect(documentedDefault(SERVER_LIMIT_ENV.maxConnections)).toMatch(/^10000, or the descriptor limit less 1024$/);
  });
});
