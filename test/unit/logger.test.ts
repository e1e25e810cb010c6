import { jsonLogger } from '../../engine/logger';

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
});
