import { jsonLogger, logLevel } from '../../engine/logger';

describe('jsonLogger', () => {
  test('one JSON object per line with bound fields; call fields win without duplicate keys', () => {
    const lines: string[] = [];
    const log = jsonLogger({ service: 'mirror', runId: 'r1' }, (l) => lines.push(l)).child({ batch: 3 });
    log.info('transferred "x"\n', { bytes: 12, skipped: undefined });
    log.error('failed', { runId: 'r2' });
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => JSON.parse(l));
    expect(first).toEqual({ timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: 'INFO', message: 'transferred "x"\n', service: 'mirror', runId: 'r1', batch: 3, bytes: 12 });
    expect(second).toMatchObject({ level: 'ERROR', runId: 'r2' });
    expect(lines[1].match(/"runId"/g)).toHaveLength(1);
  });

  test('warn and debug levels; debug is off unless asked for, and children keep the level', () => {
    const lines: string[] = [];
    const info = jsonLogger({}, (l) => lines.push(l));
    info.debug('hidden');
    info.warn('another sync holds the run lease');
    expect(lines.map((l) => JSON.parse(l).level)).toEqual(['WARN']);
    lines.length = 0;
    const debug = jsonLogger({}, (l) => lines.push(l), 'DEBUG').child({ runId: 'r' });
    debug.debug('detail', { n: 1 });
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'DEBUG', message: 'detail', runId: 'r', n: 1 });
    lines.length = 0;
    const quiet = jsonLogger({}, (l) => lines.push(l), 'ERROR');
    quiet.warn('x');
    quiet.error('y');
    expect(lines.map((l) => JSON.parse(l).message)).toEqual(['y']);
  });

  test('LOG_LEVEL values map to a level; anything else is INFO', () => {
    expect(logLevel('debug')).toBe('DEBUG');
    expect(logLevel('WARN')).toBe('WARN');
    expect(logLevel('TRACE')).toBe('INFO');
    expect(logLevel(undefined)).toBe('INFO');
  });
});
