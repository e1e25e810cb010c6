import { readFileSync } from 'fs';
import * as path from 'path';
import { sourceFiles } from '../source-files';
import { SERVE_DEFAULTS, SYNC_DEFAULTS } from '../../engine/defaults';
import { LIMITS } from '../../cli/options';
import { SYNC_HELP } from '../../cli/sync-command';
import { SERVE_HELP } from '../../cli/serve-command';

// One owner per default: engine/defaults.ts. A default spelled again beside
// its name (`concurrency ?? 4`, `port: { default: 8080`) is a second owner.
const ROOT = path.resolve(__dirname, '../..');
const FOLDERS = ['engine', 'cli', 'containers', 'lambdas', 'config', 'stacks', 'constructs'];
const OWNER = path.join(ROOT, 'engine/defaults.ts');

/** Code without comments, so documentation may quote a default. */
const code = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => [i + 1, line] as const)
    .filter(([, line]) => !/^\s*(\*|\/\*\*|\/\/)/.test(line));

/** The names a default goes by in code: its key, and the older constant names it replaced. */
const ALIASES: Record<string, string[]> = {
  concurrency: ['concurrency'],
  manifestConcurrency: ['concurrency'],
  largeSyncConcurrency: ['concurrency'],
  completenessConcurrency: ['concurrency'],
  maxMissingPercent: ['maxMissingPercent', 'MAX_MISSING'],
  maxDropPercent: ['maxDropPercent', 'MAX_DROP'],
  workerReserveMs: ['reserveMs', 'reserve'],
  port: ['port', 'PORT'],
  pollMs: ['pollMs', 'POLL'],
  presignExpirySeconds: ['presignExpirySeconds', 'expiresIn', 'PRESIGN'],
};

describe('one owner per default', () => {
  const defaults = { ...SYNC_DEFAULTS, ...SERVE_DEFAULTS };
  const files = FOLDERS.flatMap((f) => sourceFiles(path.join(ROOT, f))).filter((f) => f !== OWNER);

  test.each(Object.entries(defaults))('%s = %p is spelled only in engine/defaults.ts', (key, value) => {
    const offenders: string[] = [];
    if (typeof value === 'number') {
      const names = ALIASES[key] ?? [key];
      const spelled = new RegExp(`(${names.join('|')})\\w*\\b[^;\\n]*?(\\?\\?|:|=)\\s*(${value}|${value.toLocaleString('en').replace(/,/g, '_')})\\b`);
      for (const file of files) for (const [n, line] of code(file)) if (spelled.test(line)) offenders.push(`${path.relative(ROOT, file)}:${n}: ${line.trim()}`);
    } else {
      for (const file of files) for (const [n, line] of code(file)) if (line.includes(`'${value}'`) && !/wildcard/i.test(line)) offenders.push(`${path.relative(ROOT, file)}:${n}: ${line.trim()}`);
    }
    expect(offenders).toEqual([]);
  });

  test('the CLI’s option ranges and help quote the engine’s defaults', () => {
    expect(LIMITS.concurrency.default).toBe(SYNC_DEFAULTS.concurrency);
    expect(LIMITS.maxMissingPercent.default).toBe(SYNC_DEFAULTS.maxMissingPercent);
    expect(LIMITS.maxDropPercent.default).toBe(SYNC_DEFAULTS.maxDropPercent);
    expect(LIMITS.port.default).toBe(SERVE_DEFAULTS.port);
    expect(SYNC_HELP).toContain(`(default: ${SYNC_DEFAULTS.apiUrl})`);
    expect(SYNC_HELP).toContain(`(default: ${SYNC_DEFAULTS.concurrency})`);
    expect(SERVE_HELP).toContain(`(default: ${SERVE_DEFAULTS.port})`);
    expect(SERVE_HELP).toContain(`(default: ${SERVE_DEFAULTS.host};`);
  });

  test('one configuration error class', () => {
    const classes = files.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/class (\w*Config\w*Error)\b/g)].map((m) => `${path.relative(ROOT, file)}: ${m[1]}`));
    expect(classes).toEqual(['engine/errors.ts: ConfigurationError']);
  });
});
