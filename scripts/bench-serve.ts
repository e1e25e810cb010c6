/**
 * Mirror-server benchmark (issue #4). Prints figures; asserts nothing.
 *
 *   npm run bench:serve [-- --seconds 5 --connections 32]
 *
 * Needs Debian's `wrk` and `nginx` (`apt-get install wrk nginx`). Fills a
 * store with a real sync of an in-process fixture upstream, then load-tests on
 * loopback, each route next to nginx serving the same bytes statically:
 *   - the manifest route (small JSON);
 *   - the bottle route in redirect mode (302 to a presigned URL);
 *   - the bottle route in proxy mode with a 10 MB bottle.
 * Targets: at least half of nginx's request rate on the small routes, p99 < 10 ms.
 */
import { execFileSync, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DirectoryBlobStore } from '../engine/adapters/local/directory-blob-store';
import { DirectoryObjectStore } from '../engine/adapters/local/directory-object-store';
import { FileStateStore } from '../engine/adapters/local/file-state-store';
import { jsonLogger } from '../engine/logger';
import { MemoryRateLimiter } from '../engine/serve/rate-limit';
import { MirrorServer } from '../engine/serve/server';
import { runSync } from '../engine/sync/run-sync';
import { Upstream } from '../engine/sync/upstream';
import { publishApi, testSigningKey } from '../test/fixtures/homebrew-api';
import { startFixtureUpstream } from '../test/fixtures/upstream-server';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seconds = arg('seconds', 5);
const connections = arg('connections', 32);

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

async function wrk(url: string): Promise<WrkResult> {
  const output = await new Promise<string>((resolve, reject) => {
    const proc = spawn('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', url]);
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
  const deps = { objects: new DirectoryObjectStore(store), blobs: new DirectoryBlobStore(store), state: new FileStateStore(store) };
  const summary = await runSync({ ...deps, upstream: new Upstream(), log: jsonLogger({}, () => undefined) }, { apiUrl: upstream.apiRoot, publicKey: key.publicKey });
  await upstream.close();
  if (!summary.published) throw new Error(`sync failed: ${summary.error}`);

  const quiet = jsonLogger({}, () => undefined);
  const limiter = new MemoryRateLimiter({ ratePerSecond: 1e9, burst: 1e9 });
  const proxy = new MirrorServer({ ...deps, log: quiet, limiter, mode: 'proxy', pollMs: 3_600_000 });
  const redirect = new MirrorServer({
    ...deps,
    log: quiet,
    limiter,
    mode: 'redirect',
    presign: async (sha) => `https://bucket.s3.amazonaws.com/blobs/sha256/${sha}?X-Amz-Expires=300`,
    pollMs: 3_600_000,
  });
  const proxyPort = await proxy.listen(0, '127.0.0.1');
  const redirectPort = await redirect.listen(0, '127.0.0.1');

  // nginx serves the same bytes from a plain directory.
  const www = path.join(work, 'www');
  fs.mkdirSync(www);
  // nginx workers run as an unprivileged user: the directory must be world-readable.
  fs.chmodSync(work, 0o755);
  fs.chmodSync(www, 0o755);
  fs.copyFileSync(path.join(store, 'manifests', 'openssl', '3', '3.2.0_1'), path.join(www, 'manifest.json'));
  fs.copyFileSync(path.join(store, 'blobs', 'sha256', createHash('sha256').update(big).digest('hex')), path.join(www, 'bottle.tar.gz'));
  const nginxPort = 20000 + Math.floor(Math.random() * 20000);
  const conf = path.join(work, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${work}/nginx.pid; error_log ${work}/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; keepalive_requests 100000;
  server { listen 127.0.0.1:${nginxPort}; root ${www};
    location = /redirect { return 302 https://bucket.s3.amazonaws.com/blobs/sha256/x?X-Amz-Expires=300; } } }`,
  );
  for (const f of fs.readdirSync(www)) fs.chmodSync(path.join(www, f), 0o644);
  const nginx = spawn('nginx', ['-c', conf, '-p', work], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 500));

  const routes: [string, string, string][] = [
    ['manifest route', `http://127.0.0.1:${proxyPort}/bottles/openssl/3/manifests/3.2.0_1`, `http://127.0.0.1:${nginxPort}/manifest.json`],
    ['bottle route, redirect mode', `http://127.0.0.1:${redirectPort}/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz`, `http://127.0.0.1:${nginxPort}/redirect`],
    ['bottle route, proxy mode, 10 MB', `http://127.0.0.1:${proxyPort}/bottles/openssl%403-3.2.0_1.arm64_sonoma.bottle.tar.gz`, `http://127.0.0.1:${nginxPort}/bottle.tar.gz`],
  ];
  console.log(`wrk -t2 -c${connections} -d${seconds}s on loopback, ${os.cpus().length} cores shared by wrk, nginx (1 worker) and the mirror (1 Node process)`);
  try {
    for (const [name, ours, theirs] of routes) {
      const a = await wrk(ours);
      const b = await wrk(theirs);
      if (a.non2xx > 0 || b.non2xx > 0) throw new Error(`${name}: errors under load (mirror ${a.non2xx}, nginx ${b.non2xx} non-2xx/3xx); figures would be meaningless`);
      console.log(
        `${name.padEnd(32)} mirror ${a.rps.toFixed(0).padStart(7)} req/s p99 ${a.p99ms.toFixed(2).padStart(6)} ms | ` +
          `nginx ${b.rps.toFixed(0).padStart(7)} req/s p99 ${b.p99ms.toFixed(2).padStart(6)} ms | ratio ${(a.rps / b.rps).toFixed(2)}`,
      );
    }
    console.log('targets: ratio ≥ 0.5 on the small routes (manifest, redirect), p99 < 10 ms');
  } finally {
    nginx.kill('SIGTERM');
    await proxy.stop();
    await redirect.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
