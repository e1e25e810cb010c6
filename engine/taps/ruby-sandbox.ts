import { spawn } from 'child_process';
import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import { MirrorError } from '../errors';

/**
 * Ruby 4.0 on WASI, inside Node: the npm package `@ruby/4.0-wasm-wasi` run by
 * Node's `node:wasi`, one child process per evaluation. Ruby there has no
 * sockets (the WASI build has none) and sees only the one directory it is
 * given, a throw-away copy, at `/tap`. The child is killed past its deadline
 * or its memory budget (resident set, polled), so a tap that loops or grows
 * costs one evaluation, never the sync.
 */
export interface RubySandboxLimits {
  /** Wall-clock deadline of one evaluation. */
  readonly timeoutMs: number;
  /** Resident memory of the child (Ruby's wasm heap included): killed past it. */
  readonly memoryBytes: number;
}

/** The evaluation could not run, or ran past a limit: every file it was to read is not mirrored. */
export class RubySandboxError extends MirrorError {
  readonly kind = 'upstream-input';
}

/** Ruby on WASI is not installed (`@ruby/4.0-wasm-wasi`): a problem of this machine. */
export class RubyMissingError extends MirrorError {
  readonly kind = 'local-environment';
}

/** How often the child's resident set is read (Linux `/proc`). */
const MEMORY_POLL_MS = 100;

/**
 * Where the shipped Ruby files are: `engine/taps/ruby/` in the source tree,
 * `ruby/` beside the bundle (`dist/`, and `/app` in the sync task's image).
 */
export function rubyFile(name: string): string {
  const file = path.join(__dirname, 'ruby', name);
  if (!existsSync(file)) throw new RubyMissingError(`${name} is not shipped beside ${__dirname} (in ruby/, from engine/taps/ruby/)`);
  return file;
}

function rubyRuntime(): { entry: string; wasm: string } {
  const paths = [__dirname, process.cwd()];
  try {
    return {
      entry: require.resolve('@ruby/wasm-wasi', { paths }),
      wasm: require.resolve('@ruby/4.0-wasm-wasi/dist/ruby+stdlib.wasm', { paths }),
    };
  } catch {
    throw new RubyMissingError('evaluating taps and Brewfiles needs Ruby on WASI: npm install @ruby/4.0-wasm-wasi @ruby/wasm-wasi');
  }
}

/**
 * Runs `script` (a Ruby file) with `env` (SHIM_* names only) and `dir` at
 * `/tap`; resolves with its stdout. Rejects with `RubySandboxError` naming the
 * limit it passed or Ruby's own last error line.
 */
export async function runRuby(script: string, env: Readonly<Record<string, string>>, dir: string | undefined, limits: RubySandboxLimits, signal?: AbortSignal): Promise<string> {
  const { entry, wasm } = rubyRuntime();
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SHIM_')) throw new Error(`sandbox variables are SHIM_* only: ${name}`);
    childEnv[name] = value;
  }
  const args = ['--no-warnings', rubyFile('sandbox.js'), entry, wasm, script, ...(dir ? [dir] : [])];
  const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  let stderr = '';
  let stopped: string | undefined;
  const stop = (why: string) => {
    stopped ??= why;
    child.kill('SIGKILL');
  };
  const deadline = setTimeout(() => stop(`stopped after ${limits.timeoutMs / 1000} s (HBS_TAP_EVAL_SECONDS)`), limits.timeoutMs);
  const poll = setInterval(() => {
    void residentBytes(child.pid).then((rss) => {
      if (rss !== undefined && rss > limits.memoryBytes) stop(`stopped at ${Math.round(rss / 1048576)} MiB, over the ${Math.round(limits.memoryBytes / 1048576)} MiB limit (HBS_TAP_EVAL_MEMORY_MB)`);
    });
  }, MEMORY_POLL_MS);
  const onAbort = () => stop('interrupted');
  signal?.addEventListener('abort', onAbort, { once: true });
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4096)));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (stopped) throw new RubySandboxError(`Ruby ${stopped}`);
    if (code !== 0) throw new RubySandboxError(`Ruby failed: ${stderr.trim().split('\n').pop() || `exit ${code}`}`);
    return Buffer.concat(stdout).toString('utf8');
  } finally {
    clearTimeout(deadline);
    clearInterval(poll);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** `VmRSS` of a running process, or undefined (gone, or not Linux). */
async function residentBytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}
