/**
 * Sync benchmarks (issue #3). Prints figures; asserts nothing.
 *
 *   npm run bench:sync [-- --bottle-mib 1024]
 *
 * 1. Throughput: one bottle (default 1 GiB) served on loopback, pulled through
 *    the real transfer path (Upstream → sha256 → DirectoryBlobStore), as a
 *    ratio to `curl -s URL | sha256sum` of the same bytes. Target ≥ 0.8.
 * 2. Memory: peak RSS of the process doing that transfer (the server runs in
 *    this parent process, so it is not counted). Target flat, < 300 MB.
 * 3. Planning: a synthetic 50,000-bottle API through wantedBottles → planSync
 *    → routePlan against a store holding half of it. Target < 2 s.
 */
import { exec, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { createReadStream, mkdtempSync, openSync, rmSync, statSync, writeSync, closeSync } from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { wantedBottles } from '../engine/homebrew/wanted-bottles';
import { planSync } from '../engine/sync/plan';
import { routePlan } from '../engine/sync/route';

const flag = process.argv.indexOf('--bottle-mib');
const bottleMiB = flag > 0 ? Number(process.argv[flag + 1]) : 1024;
const root = path.resolve(__dirname, '..');

async function transferBenchmarks(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'hbs-bench-'));
  const file = path.join(work, 'bottle.tar.gz');
  // Incompressible bytes, written in 16 MiB chunks so the generator itself stays small.
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  const chunk = randomBytes(16 * 1024 * 1024);
  for (let written = 0; written < bottleMiB * 1024 * 1024; written += chunk.length) {
    chunk[0] = written & 0xff; // vary the chunks a little
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  const sha256 = hash.digest('hex');
  const size = statSync(file).size;

  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/homebrew/core/bench/blobs/sha256:${sha256}`;

  // The transfer path in a child process, so its peak RSS is its own.
  const child = `
    const { DirectoryBlobStore } = require(${JSON.stringify(path.join(root, 'engine/adapters/local/directory-blob-store'))});
    const { transferBlob } = require(${JSON.stringify(path.join(root, 'engine/sync/transfer'))});
    const { Upstream } = require(${JSON.stringify(path.join(root, 'engine/upstream/client'))});
    (async () => {
      const started = process.hrtime.bigint();
      const outcome = await transferBlob(
        { sha256: ${JSON.stringify(sha256)}, size: ${size}, upstreamUrl: ${JSON.stringify(url)}, name: 'bench', tag: 'all' },
        { upstream: new Upstream(), store: new DirectoryBlobStore(${JSON.stringify(path.join(work, 'store'))}) },
      );
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      process.stdout.write(JSON.stringify({ outcome, ms, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
    })();
  `;

  const runs = 3;
  const ours: number[] = [];
  const raw: number[] = [];
  let rss = 0;
  for (let i = 0; i < runs; i++) {
    rmSync(path.join(work, 'store'), { recursive: true, force: true });
    const proc = await new Promise<{ stdout: string; stderr: string; status: number | null }>((resolve) => {
      const p = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', child], { cwd: root });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => resolve({ stdout, stderr, status }));
    });
    if (proc.status !== 0) throw new Error(proc.stderr);
    const result = JSON.parse(proc.stdout);
    if (result.outcome.status !== 'transferred') throw new Error(`transfer failed: ${JSON.stringify(result.outcome)}`);
    ours.push(result.ms);
    rss = Math.max(rss, result.maxRssBytes);

    const started = process.hrtime.bigint();
    const out = await new Promise<string>((resolve, reject) => {
      exec(`curl -s ${url} | sha256sum`, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
    raw.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (!out.startsWith(sha256)) throw new Error('curl | sha256sum saw different bytes');
  }
  server.close();
  rmSync(work, { recursive: true, force: true });

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const mibps = (ms: number) => (size / 1024 ** 2 / (ms / 1000)).toFixed(0);
  console.log(
    `throughput: transfer path ${mibps(median(ours))} MiB/s vs curl | sha256sum ${mibps(median(raw))} MiB/s ` +
      `→ ratio ${(median(raw) / median(ours)).toFixed(2)} (target ≥ 0.80; ${bottleMiB} MiB bottle, median of ${runs}, loopback, into the directory store)`,
  );
  console.log(`memory: peak RSS of the transferring process ${(rss / 1024 ** 2).toFixed(0)} MiB for a ${bottleMiB} MiB bottle (target < 300 MB, flat)`);
}

function planningBenchmark(): void {
  const BOTTLES = 50_000;
  const TAGS = ['arm64_tahoe', 'arm64_sequoia', 'arm64_sonoma', 'tahoe', 'sequoia', 'x86_64_linux', 'arm64_linux', 'all'];
  const sha = (n: number) => n.toString(16).padStart(64, '0');
  const formulae = Array.from({ length: Math.ceil(BOTTLES / TAGS.length) }, (_, i) => ({
    name: i % 7 === 0 ? `lib${i}@${i % 5}` : `formula-${i}`,
    versions: { stable: `${i % 13}.${i % 7}.${i % 3}` },
    revision: i % 4,
    bottle: {
      stable: {
        rebuild: i % 3,
        files: Object.fromEntries(
          TAGS.map((tag, t) => {
            const n = i * TAGS.length + t + 1;
            return [tag, { cellar: ':any', sha256: sha(n), url: `https://ghcr.io/v2/homebrew/core/formula-${i}/blobs/sha256:${sha(n)}` }];
          }),
        ),
      },
    },
  }));
  const payload = JSON.stringify(formulae);
  const runs: number[] = [];
  let summary = '';
  for (let run = 0; run < 5; run++) {
    const started = process.hrtime.bigint();
    const wanted = wantedBottles(JSON.parse(payload));
    const sizes = new Map(wanted.map((b, i) => [b.sha256, 1_000_000 + (i % 1000) * 10_000]));
    const stored = new Set(wanted.filter((_, i) => i % 2 === 0).map((b) => b.sha256));
    const plan = planSync(wanted, sizes, stored);
    const route = routePlan(plan);
    runs.push(Number(process.hrtime.bigint() - started) / 1e6);
    summary = `${wanted.length} bottles, ${plan.transfers.length} to transfer (${(plan.bytesToTransfer / 1024 ** 3).toFixed(1)} GiB), ${plan.skipped} skipped → ${route.kind}`;
  }
  runs.sort((a, b) => a - b);
  console.log(`planning: ${summary}; median of 5 ${runs[2].toFixed(0)} ms (target < 2000 ms), best ${runs[0].toFixed(0)} ms`);
}

transferBenchmarks()
  .then(planningBenchmark)
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
