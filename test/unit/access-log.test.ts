import { AccessRecord, BatchedAccessLog } from '../../engine/serve/access-log';
import { jsonLogger } from '../../engine/logger';

const record: AccessRecord = {
  requestId: 'f426abc7-6538-4c0b-8b5e-e58c77f743df',
  method: 'GET',
  path: '/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz',
  route: 'bottle',
  status: 302,
  bytes: 0,
  durationMs: 2,
  ip: '203.0.113.9',
  generation: '20261123T001122Z-c5e0ad',
};

/** A log whose every line is handed out at once, as text. */
function capture(bound: Record<string, unknown> = { service: 'mirror-service' }, now = () => Date.parse('2026-11-23T01:40:39.007Z')) {
  const chunks: Buffer[] = [];
  const access = new BatchedAccessLog(bound, (chunk) => chunks.push(Buffer.from(chunk)), { now });
  return {
    line(r: AccessRecord): string {
      access.log(r);
      access.flush();
      const text = Buffer.concat(chunks.splice(0)).toString('utf8');
      expect(text.endsWith('\n')).toBe(true);
      expect(text.indexOf('\n')).toBe(text.length - 1); // exactly one line
      return text.slice(0, -1);
    },
  };
}

describe('BatchedAccessLog', () => {
  test('writes byte for byte the line jsonLogger writes for the same record', () => {
    const bound = { service: 'mirror-service', environment: 'prod' };
    const generic: string[] = [];
    jsonLogger(bound, (l) => generic.push(l)).info('request', { ...record });
    const expected = generic[0].replace(/"timestamp":"[^"]+"/, '"timestamp":"2026-11-23T01:40:39.007Z"');
    expect(capture(bound).line(record)).toBe(expected);
  });

  test('stays one valid JSON line for hostile and non-ASCII values, which come back unchanged', () => {
    const log = capture();
    const hostile = ['a"b\\c\n{"injected":true}', '\u0000\u001f\u007f', 'é€😀', '\ud800 lone surrogate', '\u2028\u2029', ''];
    for (const value of hostile) {
      const parsed = JSON.parse(log.line({ ...record, path: value, ip: value, requestId: value }));
      const roundTripped = JSON.parse(JSON.stringify(value)); // what any JSON reader gets back
      expect([parsed.path, parsed.ip, parsed.requestId]).toEqual([roundTripped, roundTripped, roundTripped]);
    }
    const absent = JSON.parse(log.line({ ...record, method: undefined, path: undefined, generation: undefined }));
    expect([absent.method, absent.path, absent.generation]).toEqual([null, null, null]);
  });

  test('quotes every UTF-16 code unit as JSON.stringify does', () => {
    const log = capture();
    for (let code = 0; code <= 0xffff; code += code < 0x800 ? 1 : 97) {
      const value = `/bottles/a${String.fromCharCode(code)}b`;
      const line = log.line({ ...record, path: value });
      const quoted = /"path":(".*?[^\\]"|""),"route"/.exec(line)?.[1];
      if (quoted !== JSON.stringify(value)) throw new Error(`U+${code.toString(16)}: ${quoted} is not ${JSON.stringify(value)}`);
    }
  });

  test('formats timestamps to the millisecond across second boundaries', () => {
    let now = Date.parse('2026-11-23T23:59:59.998Z');
    const log = capture({}, () => now);
    const stamps = [];
    for (let i = 0; i < 4; i++, now++) stamps.push(JSON.parse(log.line(record)).timestamp);
    expect(stamps).toEqual(['2026-11-23T23:59:59.998Z', '2026-11-23T23:59:59.999Z', '2026-11-24T00:00:00.000Z', '2026-11-24T00:00:00.001Z']);
    expect(JSON.parse(log.line({ ...record, bytes: 10 * 1024 ** 3, durationMs: 61_000 }))).toMatchObject({ bytes: 10 * 1024 ** 3, durationMs: 61_000 });
  });

  test('writes when the next line might not fit, after flushMs and on flush(); a line larger than the buffer goes out alone', async () => {
    const writes: string[] = [];
    const access = new BatchedAccessLog({}, (chunk) => writes.push(chunk.toString()), { maxBytes: 2048, flushMs: 30 });
    const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l).requestId);
    for (let i = 0; i < 5; i++) access.log({ ...record, requestId: `r${i}` });
    expect(writes).toEqual([]); // five short lines fit; the worst case of a sixth does not
    access.log({ ...record, requestId: 'r5' });
    expect(writes.map(lines)).toEqual([['r0', 'r1', 'r2', 'r3', 'r4']]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(writes.map(lines)).toEqual([['r0', 'r1', 'r2', 'r3', 'r4'], ['r5']]);
    access.log({ ...record, requestId: 'r6' });
    access.log({ ...record, requestId: 'huge', path: `/${'x'.repeat(4000)}` });
    expect(writes.slice(2).map(lines)).toEqual([['r6'], ['huge']]);
    expect(JSON.parse(writes[3]).path).toHaveLength(4001);
    access.log({ ...record, requestId: 'last' });
    access.flush();
    access.flush();
    expect(writes.slice(4).map(lines)).toEqual([['last']]);
  });
});
