import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { BatchedAccessLog, accessLogBacklogFromEnv } from '../../engine/serve/access-log';
import { FD_HEADROOM, defaultMaxConnections, serverLimitsFromEnv } from '../../engine/serve/connection-guard';
import { loggedPath } from '../../engine/serve/reply';
import { jsonLogger } from '../../engine/logger';
import { runSync } from '../../engine/sync/run-sync';
import { localSyncDeps } from '../../engine/wiring/local';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { startFixtureUpstream } from '../fixtures/upstream-server';
import { bundleCli } from '../fixtures/cli-bundle';

/**
 * Issue #12 items 1-3: clients that stop reading, hold connections open or
 * flood the log cost the server bounded memory and descriptors. The server
 * is the real `bottles serve` in a child process, so its RSS is its own.
 */

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-clients-'));
const binary = path.join(work, 'bottles.js');
bundleCli(binary);
const store = path.join(work, 'store');
const BOTTLE_BYTES = 8 * 1024 * 1024;
const bottlePath = '/bottles/wget-1.0.arm64_sequoia.bottle.tar.gz';

beforeAll(async () => {
  const upstream = await startFixtureUpstream();
  const key = testSigningKey();
  try {
    publishApi(upstream, [{ name: 'wget', version: '1.0', bottles: [{ tag: 'arm64_sequoia', bytes: randomBytes(BOTTLE_BYTES) }] }], key.privateKey);
    const summary = await runSync(localSyncDeps(store, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey });
    expect(summary.published).toBe(true);
  } finally {
    await upstream.close();
  }
}, 60_000);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface Served {
  readonly proc: ChildProcess;
  readonly port: number;
  stop(): Promise<void>;
}

async function serve(env: Record<string, string>, options: { drainStderr?: boolean } = {}): Promise<Served> {
  const proc = spawn(process.execPath, [binary, 'serve', '--store', store, '--port', '0', '--rate-limit', '100000', '--burst', '100000'], {
    env: { ...process.env, ...env },
  });
  if (options.drainStderr !== false) proc.stderr!.resume();
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    proc.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return {
    proc,
    port,
    stop: async () => {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Reads one figure from /metrics, from an address of its own (127.0.0.9), so the caps on the test's clients do not apply. */
async function metric(port: number, name: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', localAddress: '127.0.0.9', agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** A client that sends one request and never reads the answer. */
function stalledClient(port: number, requestPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.pause();
      socket.write(`GET ${requestPath} HTTP/1.1\r\nHost: mirror\r\n\r\n`);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('clients that stop reading', () => {
  test('300 stalled downloads of an 8 MiB bottle add well under 100 MB, and are cut at the write-stall timeout', async () => {
    const server = await serve({ HBS_WRITE_STALL_MS: '2000', HBS_MAX_CONNECTIONS_PER_CLIENT: '1000' });
    const clients: net.Socket[] = [];
    try {
      // Warm up: one whole download, so the baseline includes the code paths a download takes.
      expect((await (await fetch(`http://127.0.0.1:${server.port}${bottlePath}`)).arrayBuffer()).byteLength).toBe(BOTTLE_BYTES);
      const before = rssBytes(server.proc.pid!);
      for (let i = 0; i < 300; i++) clients.push(await stalledClient(server.port, bottlePath));
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the server fills every pipe it can
      const during = rssBytes(server.proc.pid!);
      expect(during - before).toBeLessThan(100 * 1024 * 1024);
      // Nobody reads: after the stall timeout every download is cut and its connection closed.
      await waitFor(async () => (await metric(server.port, 'mirror_downloads_stalled_total')) === 300);
      // Left open: the /metrics request itself and the warm-up download's idle keep-alive connection.
      expect(await metric(server.port, 'mirror_open_connections')).toBeLessThanOrEqual(2);
    } finally {
      clients.forEach((c) => c.destroy());
      await server.stop();
    }
  }, 60_000);

  test('a slow reader that keeps reading is not cut', async () => {
    const server = await serve({ HBS_WRITE_STALL_MS: '2500' });
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}${bottlePath}`);
      const reader = response.body!.getReader();
      let received = 0;
      const started = Date.now();
      // Read a chunk every 200 ms for 5 s: twice the 2.5 s timeout in all, but never that long without a read.
      while (Date.now() - started < 5000) {
        const { value, done } = await reader.read();
        if (done) break;
        received += value.length;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(received).toBeGreaterThan(0);
      expect(received).toBeLessThan(BOTTLE_BYTES); // still downloading when the test stopped reading
      await reader.cancel();
      expect(await metric(server.port, 'mirror_downloads_stalled_total')).toBe(0);
    } finally {
      await server.stop();
    }
  }, 30_000);
});

describe('connection caps', () => {
  const openIdle = (port: number, localAddress = '127.0.0.1') =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
      socket.once('error', reject);
    });
  const get = (socket: net.Socket, requestPath = '/health') =>
    new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => {
        text += d;
        if (text.includes('\r\n\r\n')) resolve(text.split('\r\n')[0]);
      });
      socket.once('close', () => resolve(text.split('\r\n')[0] ?? ''));
      socket.write(`GET ${requestPath} HTTP/1.1\r\nHost: mirror\r\n\r\n`);
    });

  test('past the per-client cap a client gets 503 with Retry-After; another client is still served', async () => {
    const server = await serve({ HBS_MAX_CONNECTIONS_PER_CLIENT: '20' });
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) sockets.push(await openIdle(server.port));
      const extra = await openIdle(server.port);
      sockets.push(extra);
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        extra.on('data', (d) => (text += d));
        extra.once('close', () => resolve(text));
        extra.write(`GET /health HTTP/1.1\r\nHost: mirror\r\n\r\n`);
      });
      expect(answer).toMatch(/^HTTP\/1.1 503 /);
      expect(answer).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
      expect(answer).toContain('too_many_connections');
      // 127.0.0.2 is another client address: its budget is its own.
      const other = await openIdle(server.port, '127.0.0.2');
      sockets.push(other);
      expect(await get(other)).toBe('HTTP/1.1 200 OK');
      // The capped client's first connections still work.
      expect(await get(sockets[0])).toBe('HTTP/1.1 200 OK');
      expect(await metric(server.port, 'mirror_connections_refused_total')).toBe(1);
    } finally {
      sockets.forEach((s) => s.destroy());
      await server.stop();
    }
  }, 30_000);

  test('past the total cap new clients get 503, silent ones are closed after a grace, and service resumes when the crowd leaves', async () => {
    const server = await serve({ HBS_MAX_CONNECTIONS: '30', HBS_MAX_CONNECTIONS_PER_CLIENT: '1000' });
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 30; i++) sockets.push(await openIdle(server.port));
      const over = await Promise.all(Array.from({ length: 10 }, () => openIdle(server.port)));
      sockets.push(...over);
      const answers = await Promise.all(over.map((s) => get(s)));
      expect(answers.every((a) => a.startsWith('HTTP/1.1 503'))).toBe(true);
      // Idle connections over the cap that send nothing are closed after a short grace.
      const silent = await openIdle(server.port);
      const closedAfter = await new Promise<number>((resolve) => {
        const t = Date.now();
        silent.resume();
        silent.once('close', () => resolve(Date.now() - t));
      });
      expect(closedAfter).toBeLessThan(5000);
      // Once the crowd leaves, new clients are served again.
      sockets.forEach((s) => s.destroy());
      await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/health`).then((r) => r.status).catch(() => 0)) === 200);
    } finally {
      sockets.forEach((s) => s.destroy());
      await server.stop();
    }
  }, 30_000);

  test('the default cap keeps file descriptors for the store', () => {
    expect(defaultMaxConnections(1024)).toBe(64);
    expect(defaultMaxConnections(20_000)).toBe(10_000);
    expect(defaultMaxConnections(4096)).toBe(4096 - FD_HEADROOM);
    expect(defaultMaxConnections(undefined)).toBe(10_000);
    expect(() => serverLimitsFromEnv({ HBS_MAX_CONNECTIONS: 'lots' })).toThrow(/HBS_MAX_CONNECTIONS must be a positive integer/);
  });
});

describe('the access log', () => {
  test('with stderr not drained, a flood of long-path requests costs bounded memory; dropped lines are counted', async () => {
    // A 256 KiB bound (the default is 8 MiB), so the drop shows however fast this machine serves.
    const server = await serve({ HBS_ACCESS_LOG_BACKLOG_BYTES: String(256 * 1024) }, { drainStderr: false });
    try {
      const before = rssBytes(server.proc.pid!);
      const longPath = `/api/${'a'.repeat(8000)}`;
      const started = Date.now();
      let sent = 0;
      // 4 s of requests, and at least 1,000 (far over 256 KiB of lines) on a slow machine.
      while (Date.now() - started < 4000 || sent < 1000) {
        await Promise.all(Array.from({ length: 50 }, () => fetch(`http://127.0.0.1:${server.port}${longPath}`).then((r) => r.arrayBuffer())));
        sent += 50;
      }
      const after = rssBytes(server.proc.pid!);
      expect(sent).toBeGreaterThan(500);
      expect(after - before).toBeLessThan(100 * 1024 * 1024);
      expect(await metric(server.port, 'mirror_access_log_dropped_lines_total')).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  }, 30_000);

  test('paths are truncated in the log, and a full backlog drops whole batches', () => {
    expect(accessLogBacklogFromEnv({})).toBeUndefined();
    expect(accessLogBacklogFromEnv({ HBS_ACCESS_LOG_BACKLOG_BYTES: '1048576' })).toBe(1048576);
    expect(() => accessLogBacklogFromEnv({ HBS_ACCESS_LOG_BACKLOG_BYTES: '1MB' })).toThrow(/HBS_ACCESS_LOG_BACKLOG_BYTES must be a positive integer/);
    expect(loggedPath('/x'.repeat(10))).toBe('/x'.repeat(10));
    expect(loggedPath(`/${'p'.repeat(5000)}`)).toBe(`/${'p'.repeat(1023)}…(5001 chars)`);
    const written: Buffer[] = [];
    let backlog = 0;
    const access = new BatchedAccessLog({}, (chunk) => written.push(chunk), { maxBytes: 4096, backlog: () => backlog, maxBacklogBytes: 10_000 });
    const line = { requestId: 'r', method: 'GET', path: '/health', route: 'health', status: 200, bytes: 2, durationMs: 0, ip: '127.0.0.1', generation: undefined };
    for (let i = 0; i < 10; i++) access.log(line);
    access.flush();
    expect(written).toHaveLength(1);
    backlog = 9_900; // the reader fell behind
    for (let i = 0; i < 10; i++) access.log(line);
    access.flush();
    expect(written).toHaveLength(1);
    expect(access.droppedLines).toBe(10);
    backlog = 0; // it caught up
    access.log(line);
    access.flush();
    expect(written).toHaveLength(2);
    expect(written[1].toString().split('\n').filter(Boolean)).toHaveLength(1);
  });
});
