import { batchedLines, jsonAccessLog, jsonLogger } from '../../engine/logger';

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

describe('jsonAccessLog', () => {
  const record = {
    requestId: 'req-1',
    method: 'GET',
    path: '/bottles/a"b\\c\n{"injected":true}',
    route: 'bottle',
    status: 404,
    bytes: 0,
    durationMs: 2,
    ip: '203.0.113.9',
    generation: undefined,
  };

  test('writes the fields jsonLogger would, as valid JSON even for hostile paths', () => {
    const fast: string[] = [];
    const generic: string[] = [];
    jsonAccessLog({ service: 'mirror-service' }, (l) => fast.push(l))(record);
    jsonLogger({ service: 'mirror-service' }, (l) => generic.push(l)).info('request', { ...record });
    expect(fast).toHaveLength(1);
    expect(fast[0]).not.toContain('\n');
    const parsed = JSON.parse(fast[0]);
    const { timestamp, generation, ...rest } = parsed;
    const { timestamp: genericTimestamp, ...genericRest } = JSON.parse(generic[0]);
    expect(rest).toEqual(genericRest);
    expect(generation).toBeNull(); // absent in jsonLogger's line; explicit here
    expect(Date.parse(timestamp)).toBeGreaterThanOrEqual(Date.parse(genericTimestamp) - 1000);
    expect(parsed.path).toBe(record.path);
  });
});

describe('batchedLines', () => {
  test('gathers lines into one write when the next might not fit, after flushMs, or on flush(); long lines go straight out', async () => {
    const writes: string[] = [];
    const sink = batchedLines((chunk) => writes.push(chunk.toString()), 40, 30);
    sink.write('aaaaaaaa');
    sink.write('bbbbbbbb');
    sink.write('cccc');
    expect(writes).toEqual([]);
    sink.write('dddddddd'); // 23 bytes held; up to 25 more might not fit in 40
    expect(writes).toEqual(['aaaaaaaa\nbbbbbbbb\ncccc\n']);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(writes).toEqual(['aaaaaaaa\nbbbbbbbb\ncccc\n', 'dddddddd\n']);
    sink.write('é€'); // multi-byte characters are encoded, not truncated
    sink.write('x'.repeat(20)); // could need 61 bytes: flushes what is held, then goes out alone
    expect(writes.slice(2)).toEqual(['é€\n', `${'x'.repeat(20)}\n`]);
    sink.write('last');
    sink.flush();
    sink.flush();
    expect(writes.slice(4)).toEqual(['last\n']);
  });
});
