/**
 * Running the bundled `bottles` as a user runs it and measuring its peak RSS,
 * for the benchmarks that print figures beside budgets.
 */
import { ChildProcess, ChildProcessWithoutNullStreams, spawn } from 'child_process';
import { buildSync } from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';

/** Extra Node.js flags for the measured processes (e.g. `--max-old-space-size=160`, `--cpu-prof`). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** Writes the bundle `npm run build` makes, shebang included, to `binary`. */
export function buildBottles(binary: string): void {
  const banner = /--banner:js='([^']+)'/.exec(JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')).scripts.build)![1];
  buildSync({ entryPoints: [path.resolve(__dirname, '../../cli/bottles.ts')], bundle: true, platform: 'node', target: 'node22', outfile: binary, logLevel: 'silent', banner: { js: banner } });
  fs.chmodSync(binary, 0o755);
}

/**
 * `bottles …` as a user runs it: the executable bundle through its shebang
 * (`#!/usr/bin/env -S node --max-semi-space-size=4`, the node on PATH, which
 * npm puts first: Node.js 22). With BENCH_NODE_ARGS, `node <flags> bundle` instead.
 */
export function launch(binary: string, args: string[]): ChildProcessWithoutNullStreams {
  return NODE_ARGS.length > 0 ? spawn(process.execPath, [...NODE_ARGS, binary, ...args]) : spawn(binary, args);
}

export interface Measured {
  code: number | null;
  seconds: number;
  peakMiB: number;
  /** The largest peak RSS of any process the command started (git, in the brew phase). */
  childPeakMiB: number;
  stdout: string;
  stderr: string;
}

/** Runs a process and samples its peak RSS (VmHWM) until it exits. */
export function measure(proc: ChildProcessWithoutNullStreams): Promise<Measured> {
  const started = process.hrtime.bigint();
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  let peak = 0;
  let childPeak = 0;
  const sample = setInterval(() => {
    peak = Math.max(peak, hwm(proc));
    for (const pid of descendants(proc.pid!)) childPeak = Math.max(childPeak, hwmOf(pid));
  }, 25);
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      clearInterval(sample);
      resolve({ code, seconds: Number(process.hrtime.bigint() - started) / 1e9, peakMiB: peak / 1048576, childPeakMiB: childPeak / 1048576, stdout, stderr });
    }),
  );
}

/** Every live process below `pid` (git and the helpers it starts). */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

export function hwm(proc: ChildProcess, field = 'VmHWM'): number {
  return hwmOf(proc.pid!, field);
}

function hwmOf(pid: number, field = 'VmHWM'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0; // exited between samples
  }
}


/** One figure, its measured value and its budget, in the benchmarks' table. */
export function line(figure: string, value: string, budget: string, ok?: boolean): void {
  console.log(`${figure.padEnd(44)}${value.padStart(16)}   ${budget.padEnd(12)}${ok === undefined ? '' : ok ? 'within' : 'OVER'}`);
}
