/**
 * Synthesis benchmark: wall time and peak memory of synthesizing all three
 * stacks in a fresh process, as `cdktf synth` does, repeated a few times.
 *
 *   npm run bench:synth [-- --runs N]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 3;
const root = path.resolve(__dirname, '..');

const child = `
  const start = process.hrtime.bigint();
  const { buildApp } = require(${JSON.stringify(path.join(root, 'main'))});
  buildApp(process.argv[1]).synth();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stdout.write(JSON.stringify({ ms, maxRssBytes: require('process').resourceUsage().maxRSS * 1024 }));
`;

let stackCount = 0;
const results: { ms: number; maxRssBytes: number }[] = [];
for (let i = 0; i < runs; i++) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'hbs-bench-'));
  const started = Date.now();
  const proc = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', child, outdir], {
    cwd: root,
    encoding: 'utf8',
  });
  const wallMs = Date.now() - started;
  if (proc.status !== 0) {
    console.error(proc.stderr);
    process.exit(1);
  }
  const stacks = fs.readdirSync(path.join(outdir, 'stacks')).sort();
  stackCount = stacks.length;
  const measured = JSON.parse(proc.stdout);
  results.push(measured);
  console.log(
    `run ${i + 1}: stacks=${stacks.join(',')} synth=${measured.ms.toFixed(0)} ms process=${wallMs} ms peakRSS=${(measured.maxRssBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  fs.rmSync(outdir, { recursive: true, force: true });
}
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];
console.log(
  `median synth time (${stackCount} stacks): ${median(results.map((r) => r.ms)).toFixed(0)} ms; peak RSS: ${(Math.max(...results.map((r) => r.maxRssBytes)) / 2 ** 20).toFixed(0)} MiB`,
);
