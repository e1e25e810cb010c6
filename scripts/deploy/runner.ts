import { spawn } from 'child_process';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin (e.g. a registry password for `docker login --password-stdin`). */
  readonly input?: string;
  readonly cwd?: string;
  /** Added to the environment. */
  readonly env?: Record<string, string>;
  /** Show the command's output as it runs (terraform apply, docker build). */
  readonly stream?: boolean;
}

/** Runs a command; tests pass a recorder and assert the exact argument lists. */
export type CommandRunner = (command: string, args: readonly string[], options?: RunOptions) => Promise<CommandResult>;

export const spawnRunner: CommandRunner = (command, args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (options.stream) process.stdout.write(d);
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (options.stream) process.stderr.write(d);
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    child.on('error', (error) => resolve({ code: 127, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
