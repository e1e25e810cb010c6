/**
 * Mirror-server benchmark (issue #4). Prints figures; asserts nothing.
 *
 *   npm run bench:serve [-- --seconds 5 --connections 32 --rounds 3]
 *
 * Needs Debian's `wrk` and `nginx` (`apt-get install wrk nginx`). Fills a
 * store with a real sync of an in-process fixture upstream, then load-tests on
 * loopback, each route next to nginx serving the same bytes statically. The
 * mirror runs as shipped, from an esbuild bundle in its own process: proxy mode
 * is `dist/bottles.js serve`, redirect mode is bench-serve-redirect.ts (the same
 * server with the S3 presigner, run with the mirror container's Node.js flags). Neither runs under ts-node, whose REPL loads
 * `domain` and slows every EventEmitter in the process.
 *   - the manifest route (small JSON);
 *   - the bottle route in redirect mode (302 to a presigned URL);
 *   - the bottle route in proxy mode with a 10 MB bottle.
 * Targets: at least half of nginx's request rate on the small routes, p99 < 10 ms.
 *
 * Environment: BENCH_ONLY=<route name prefix> runs one route; BENCH_NODE_ARGS
 * (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to the server
 * processes; BENCH_SHOW_HEADERS=1 prints both sides' responses first.
 */
import { execFileSync, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { jsonLogger } from '../engine/logger';
import { MIRROR_SERVICE_NODE_FLAGS } from '../engine/runtime-config';
import { SECURITY_HEADERS } from '../engine/serve/reply';
import { OCI_INDEX_MEDIA_TYPE } from '../engine/store-layout';
import { runSync } from '../engine/sync/run-sync';
import { localSyncDeps } from '../engine/wiring/local';
import { publishApi, testSigningKey } from '../test/fixtures/homebrew-api';
import { startFixtureUpstream } from '../test/fixtures/upstream-server';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seconds = arg('seconds', 5);
const connections = arg('connections', 32);
// Shared and virtual machines are noisy: each pair is measured several times,
// mirror and nginx alternating, and the medians are compared.
const rounds = arg('rounds', 3);
const securityHeaderPairs = SECURITY_HEADERS.flatMap((name, i) => (i % 2 === 0 ? [[name, SECURITY_HEADERS[i + 1]]] : []));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

for (const tool of ['wrk', 'nginx']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`]);
  } catch {
    console.error(`bench:serve needs ${tool} (apt-get install wrk nginx)`);
    process.exit(2);
  }
}

interface WrkResult {
  rps: number;
  p99ms: number;
  non2xx: number;
}

async function wrk(url: string, duration = seconds): Promise<WrkResult> {
  const output = await new Promise<string>((resolve, reject) => {
    const proc = spawn('wrk', ['-t2', `-c${connections}`, `-d${duration}s`, '--latency', url]);
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}`))));
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(output);
  const p99ms = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : NaN;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  return { rps, p99ms, non2xx };
}

/** Starts a server process (access log to /dev/null) and reads its port from the first `http://host:port` or `listening N` line. */
async function startServer(command: string, args: string[]): Promise<{ process: ReturnType<typeof spawn>; port: number }> {
  const proc = spawn(command, [...(process.env.BENCH_NODE_ARGS?.split(' ') ?? []), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const match = /127\.0\.0\.1:(\d+)|listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1] ?? match[2]));
    });
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited ${code} before listening: ${out}`)));
  });
  return { process: proc, port };
}

/** Stops a server process and waits for it to be gone. */
async function stopServer(proc: ReturnType<typeof spawn>): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

// long: the benchmark's procedure (fill a store, start both servers, alternate rounds, print) reads best top to bottom.
async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-bench-serve-'));
  const store = path.join(work, 'store');
  const key = testSigningKey();
  const upstream = await startFixtureUpstream();
  const big = randomBytes(10 * 1024 * 1024);
  publishApi(
    upstream,
    [
      { name: 'openssl@3', version: '3.2.0', revision: 1, bottles: [{ tag: 'arm64_sonoma', bytes: big }] },
      { name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(2000) }] },
    ],
    key.privateKey,
  );
  const summary = await runSync(localSyncDeps(store, { log: jsonLogger({}, () => undefined) }), { apiUrl: upstream.apiRoot, publicKey: key.publicKey });
  await upstream.close();
  if (!summary.published) throw new Error(`sync failed: ${summary.error}`);

  // The servers under test, bundled as they ship and started in their own processes.
  const bottlesCli = path.join(work, 'bottles.js');
  const redirectServer = path.join(work, 'redirect.js');
  const esbuild = path.join(__dirname, '..', 'node_modules', '.bin', 'esbuild');
  for (const [entry, out] of [['cli/bottles.ts', bottlesCli], ['scripts/bench-serve-redirect.ts', redirectServer]]) {
    execFileSync(esbuild, [entry, '--bundle', '--platform=node', '--target=node22', `--outfile=${out}`, '--log-level=warning'], { cwd: path.join(__dirname, '..') });
  }
  const startProxy = () => startServer('node', [bottlesCli, 'serve', '--store', store, '--port', '0', '--rate-limit', '1000000000', '--burst', '1000000000']);
  // The redirect server stands in for the mirror container, so it runs with the container's Node.js flags.
  const startRedirect = () => startServer('node', [...MIRROR_SERVICE_NODE_FLAGS, redirectServer, store, '0']);
  // Started here only to learn its presigned URL and headers; each route below gets fresh server processes.
  const proxy = await startProxy();
  const redirect = await startRedirect();
  const proxyPort = proxy.port;
  const redirectPort = redirect.port;

  // nginx serves the same bytes from a plain directory, and redirects to the very URL the mirror hands out.
  const bottlePath = '/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz';
  const presignedUrl = await new Promise<string>((resolve, reject) =>
    http.get({ host: '127.0.0.1', port: redirectPort, path: bottlePath }, (res) => {
      res.resume();
      if (res.statusCode === 302 && res.headers.location && !/["$\\]/.test(res.headers.location)) resolve(res.headers.location);
      else reject(new Error(`redirect mode answered ${res.statusCode} ${res.headers.location}`));
    }),
  );
  const www = path.join(work, 'www');
  fs.mkdirSync(www);
  // nginx workers run as an unprivileged user: the directory must be world-readable.
  fs.chmodSync(work, 0o755);
  fs.chmodSync(www, 0o755);
  fs.copyFileSync(path.join(store, 'manifests', 'openssl', '3', '3.2.0_1'), path.join(www, 'manifest.json'));
  const manifestDigest = `sha256:${createHash('sha256').update(fs.readFileSync(path.join(www, 'manifest.json'))).digest('hex')}`;
  fs.copyFileSync(path.join(store, 'blobs', 'sha256', createHash('sha256').update(big).digest('hex')), path.join(www, 'bottle.tar.gz'));
  const nginxPort = 20000 + Math.floor(Math.random() * 20000);
  const conf = path.join(work, 'nginx.conf');
  const sameHeaders = [...securityHeaderPairs, ['x-request-id', '$request_id']].map(([name, value]) => `      add_header ${name} "${value}" always;`).join('\n');
  fs.writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${work}/nginx.pid; error_log ${work}/error.log;
events { worker_connections 1024; }
http {
  sendfile on; keepalive_requests 100000; keepalive_timeout 65s;
  # The same job as the mirror: its security headers, a request id, and a buffered JSON access log.
  log_format mirror escape=json '{"timestamp":"$time_iso8601","level":"INFO","message":"request","requestId":"$request_id",'
    '"method":"$request_method","path":"$request_uri","status":$status,"bytes":$body_bytes_sent,"durationMs":$request_time,"ip":"$remote_addr"}';
  access_log /dev/null mirror buffer=64k flush=1s;
  server { listen 127.0.0.1:${nginxPort}; root ${www};
    # add_header in a location replaces the inherited ones, so each location lists all of its headers.
    location = /manifest.json { default_type ${OCI_INDEX_MEDIA_TYPE};
      add_header docker-content-digest "${manifestDigest}"; add_header cache-control "public, max-age=31536000, immutable";
${sameHeaders} }
    location = /redirect { add_header cache-control no-store always;
${sameHeaders}
      return 302 "${presignedUrl}"; }
    location = /bottle.tar.gz { add_header cache-control "public, max-age=31536000, immutable";
${sameHeaders} } } }`,
  );
  for (const f of fs.readdirSync(www)) fs.chmodSync(path.join(www, f), 0o644);
  const nginx = spawn('nginx', ['-c', conf, '-p', work], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (process.env.BENCH_SHOW_HEADERS) {
    // Shows that both sides answer alike: same status, headers and Location.
    for (const url of [`http://127.0.0.1:${proxyPort}/bottles/openssl/3/manifests/3.2.0_1`, `http://127.0.0.1:${nginxPort}/manifest.json`, `http://127.0.0.1:${redirectPort}${bottlePath}`, `http://127.0.0.1:${nginxPort}/redirect`]) {
      const res = await fetch(url, { redirect: 'manual' });
      console.log(url, res.status, Object.fromEntries(res.headers));
    }
  }

  // The floor: a bare Node.js server that only writes the mirror's prepared 302 (same headers, a fresh request id).
  const sample = await fetch(`http://127.0.0.1:${redirectPort}${bottlePath}`, { redirect: 'manual' });
  const floorHeaders = [...sample.headers].filter(([name]) => !['date', 'connection', 'keep-alive', 'x-request-id'].includes(name)).flat();
  const floorScript = path.join(work, 'floor.js');
  fs.writeFileSync(
    floorScript,
    `const { randomUUID } = require('crypto');
const headers = ${JSON.stringify(floorHeaders)};
const server = require('http').createServer((req, res) => { const list = headers.slice(); list.push('x-request-id', randomUUID()); res.writeHead(302, list).end(); });
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
process.once('SIGTERM', () => process.exit(0));`,
  );
  proxy.process.kill('SIGTERM');
  redirect.process.kill('SIGTERM');

  // Each route gets a fresh mirror process that is stopped afterwards: a server idling after its own run
  // (V8 shrinking its heap) would otherwise take CPU from the next route's measurement on this small machine.
  const routes: { name: string; start: () => ReturnType<typeof startServer>; path: string; nginx: string }[] = [
    { name: 'manifest route', start: startProxy, path: '/bottles/openssl/3/manifests/3.2.0_1', nginx: '/manifest.json' },
    { name: 'bottle route, redirect mode', start: startRedirect, path: bottlePath, nginx: '/redirect' },
    { name: 'bottle route, proxy mode, 10 MB', start: startProxy, path: bottlePath, nginx: '/bottle.tar.gz' },
    { name: '(floor: bare Node.js, same 302)', start: () => startServer('node', [floorScript]), path: bottlePath, nginx: '/redirect' },
  ];
  console.log(
    `wrk -t2 -c${connections} -d${seconds}s on loopback, median of ${rounds} alternating rounds; ${os.cpus().length} cores shared by wrk, ` +
      `nginx (1 worker) and the mirror (1 Node process; redirect mode with the container's ${MIRROR_SERVICE_NODE_FLAGS.join(' ')}), ` +
      'both sending the security headers and a request id and writing a buffered JSON access log to /dev/null',
  );
  try {
    for (const { name, start, path: route, nginx: nginxPath } of routes.filter((r) => r.name.startsWith(process.env.BENCH_ONLY ?? ''))) {
      const server = await start();
      const ours = `http://127.0.0.1:${server.port}${route}`;
      const theirs = `http://127.0.0.1:${nginxPort}${nginxPath}`;
      const mirror: WrkResult[] = [];
      const reference: WrkResult[] = [];
      try {
        // The same warm-up for both (the mirror's JIT, both sides' connections), not counted.
        await wrk(ours, 1);
        await wrk(theirs, 1);
        for (let round = 0; round < rounds; round++) {
          mirror.push(await wrk(ours));
          reference.push(await wrk(theirs));
        }
      } finally {
        await stopServer(server.process);
      }
      const errors = (results: WrkResult[]) => results.reduce((sum, r) => sum + r.non2xx, 0);
      if (errors(mirror) > 0 || errors(reference) > 0) {
        throw new Error(`${name}: errors under load (mirror ${errors(mirror)}, nginx ${errors(reference)} non-2xx/3xx); figures would be meaningless`);
      }
      const a = { rps: median(mirror.map((r) => r.rps)), p99ms: median(mirror.map((r) => r.p99ms)) };
      const b = { rps: median(reference.map((r) => r.rps)), p99ms: median(reference.map((r) => r.p99ms)) };
      console.log(
        `${name.padEnd(32)} mirror ${a.rps.toFixed(0).padStart(7)} req/s p99 ${a.p99ms.toFixed(2).padStart(6)} ms | ` +
          `nginx ${b.rps.toFixed(0).padStart(7)} req/s p99 ${b.p99ms.toFixed(2).padStart(6)} ms | ratio ${(a.rps / b.rps).toFixed(2)}`,
      );
    }
    console.log('targets: ratio ≥ 0.5 on the small routes (manifest, redirect), p99 < 10 ms; the floor line is for reference');
  } finally {
    nginx.kill('SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
