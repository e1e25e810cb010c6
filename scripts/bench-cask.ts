/**
 * A big cask through the mirror (issue #33). Prints figures; asserts nothing.
 *
 *   npm run bench:cask [-- --cask-mib 2048]
 *
 * One cask file (default 2 GiB of incompressible bytes) served by a vendor on
 * loopback and named, with its sha256, by a signed fixture API. `bottles sync
 * --casks` copies it (streamed to a staging file and checked), then `bottles
 * serve` hands it to curl from /casks/<sha256>. Both run as shipped, from
 * dist/bottles.js, each in its own process; their peak RSS is printed beside
 * its budget: flat memory at any size.
 */
import { execFile, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { publishApi, testSigningKey } from '../test/fixtures/homebrew-api';
import { startFixtureUpstream } from '../test/fixtures/upstream-server';

const run = promisify(execFile);
const flag = process.argv.indexOf('--cask-mib');
const caskMiB = flag > 0 ? Number(process.argv[flag + 1]) : 2048;
const BUDGETS = { syncMiB: 200, serveMiB: 150 };
const bottles = path.resolve(__dirname, '..', 'dist', 'bottles.js');

async function main(): Promise<void> {
  if (!fs.existsSync(bottles)) throw new Error('dist/bottles.js is missing: npm run build');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-bench-cask-'));
  try {
    const file = path.join(work, 'Big-1.0.dmg');
    const hash = createHash('sha256');
    const fd = fs.openSync(file, 'w');
    const chunk = randomBytes(16 * 1024 * 1024);
    for (let written = 0; written < caskMiB * 1024 * 1024; written += chunk.length) {
      chunk[0] = (written / chunk.length) & 0xff; // vary the chunks a little
      hash.update(chunk);
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    const sha256 = hash.digest('hex');
    const size = fs.statSync(file).size;

    const vendor = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      fs.createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => vendor.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(vendor.address() as AddressInfo).port}/downloads/Big-1.0.dmg`;

    const upstream = await startFixtureUpstream();
    const key = testSigningKey();
    publishApi(upstream, [{ name: 'hello', version: '2.12', bottles: [{ tag: 'x86_64_linux', bytes: randomBytes(1000) }] }], key.privateKey, {
      casks: [{ token: 'big', version: '1.0', files: { x86_64_linux: { url, sha256 } } }],
    });
    const pem = path.join(work, 'key.pem');
    fs.writeFileSync(pem, key.publicKey.export({ type: 'spki', format: 'pem' }));
    const store = path.join(work, 'store');

    // GNU time's %M is the child's peak RSS in KiB.
    const started = Date.now();
    const sync = await run('/usr/bin/time', ['-f', '%M', process.execPath, bottles, 'sync', '--store', store, '--api-url', upstream.apiRoot, '--public-key', pem, '--tags', 'x86_64_linux', '--formulae', 'hello', '--casks', 'big', '--without-brew', '--json'], { maxBuffer: 1 << 20 });
    const syncSeconds = (Date.now() - started) / 1000;
    const summary = JSON.parse(sync.stdout) as { published: boolean; casks?: { files: number } };
    if (!summary.published || summary.casks?.files !== 1) throw new Error(`the sync did not mirror the cask: ${sync.stdout}`);
    const syncPeakMiB = Number(sync.stderr.trim().split('\n').pop()) / 1024;

    const port = await freePort();
    const server = spawn(process.execPath, [bottles, 'serve', '--store', store, '--port', String(port)], { stdio: 'ignore' });
    await waitFor(`http://127.0.0.1:${port}/health`);
    const served = Date.now();
    const download = await run('curl', ['-fsS', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:${port}/casks/${sha256}`]);
    const serveSeconds = (Date.now() - served) / 1000;
    const servePeakMiB = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024;
    server.kill('SIGTERM');
    await upstream.close();
    vendor.close();
    if (Number(download.stdout) !== size) throw new Error(`served ${download.stdout} bytes, not ${size}`);

    const mib = size / 1024 / 1024;
    console.log(`a ${mib.toFixed(0)} MiB cask, loopback, 2 cores shared by the vendor, the mirror and curl`);
    console.log(`sync  (download, sha256, store): ${syncSeconds.toFixed(1)} s, ${(mib / syncSeconds).toFixed(0)} MiB/s; peak RSS ${syncPeakMiB.toFixed(0)} MiB (budget ${BUDGETS.syncMiB} MiB)`);
    console.log(`serve (/casks/<sha256>, proxy mode): ${serveSeconds.toFixed(1)} s, ${(mib / serveSeconds).toFixed(0)} MiB/s; peak RSS ${servePeakMiB.toFixed(0)} MiB (budget ${BUDGETS.serveMiB} MiB)`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} never answered`);
}

main().catch((error) => {
  console.error(`bench:cask: ${(error as Error).message}`);
  process.exitCode = 1;
});
