import { execFile } from 'child_process';
import { MirrorError } from '../errors';
import { redactUrl, refuseTarget } from '../upstream/client';

/**
 * The `git` CLI, run with nothing of the machine's configuration: no system
 * or global config, no credential prompts, no hooks, and only the transport
 * the remote's URL names. brew.git is mirrored with real git (its pack
 * negotiation and `index-pack --fix-thin` are what keep a weekly fetch to
 * the week's objects), so it runs where git is installed: a workstation, CI,
 * and the sync task's image. Lambda has no git, and never runs this.
 */
export class GitError extends MirrorError {
  readonly kind = 'upstream-input';
}

/** git is not installed, or not runnable: a problem of the machine, not of upstream. */
export class GitMissingError extends MirrorError {
  readonly kind = 'local-environment';
}

export interface GitRunner {
  /** Runs `git <args>` in `cwd`; resolves with stdout, rejects with a `GitError` naming the command. */
  (args: readonly string[], options: { readonly cwd: string; readonly input?: string; readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<string>;
}

/** The remote's URL after the same checks as every upstream request (https, or http to loopback unless allowed). */
export function checkGitRemote(url: string, plainHttp: 'loopback' | 'any', what = 'brew.git'): string {
  const refused = refuseTarget(url, plainHttp);
  if (refused) throw new GitError(`${what} remote ${redactUrl(url)}: ${refused}`);
  return url;
}

/** `-c` settings that pin git's behaviour whatever the machine's config says. */
function pinnedConfig(remote: string | undefined): string[] {
  const scheme = remote ? new URL(remote).protocol.replace(':', '') : 'https';
  return [
    // Only the remote's own transport: no file://, ssh:// or ext:: through a crafted ref or submodule.
    'protocol.allow=never',
    `protocol.${scheme}.allow=always`,
    // A redirect would move the fetch to a host the upstream checks never saw.
    'http.followRedirects=false',
    // Every fetch keeps its pack as received (one new pack per week), never loose objects.
    'fetch.unpackLimit=1',
    'transfer.unpackLimit=1',
    'transfer.fsckObjects=true',
    'gc.auto=0',
    'pack.writeReverseIndex=false',
    'core.hooksPath=/dev/null',
    'credential.helper=',
    'advice.detachedHead=false',
  ].flatMap((setting) => ['-c', setting]);
}

/** A runner for the installed git, confined as described above. */
export function gitCli(remote?: string): GitRunner {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
  };
  return (args, options) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        [...pinnedConfig(remote), ...args],
        { cwd: options.cwd, env, timeout: options.timeoutMs, signal: options.signal, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') return reject(new GitMissingError('git is not installed: mirroring brew.git needs the git CLI (or run with --without-brew)'));
          const why = options.signal?.aborted ? 'interrupted' : error.killed ? `stopped after ${options.timeoutMs / 1000} s` : lastLine(stderr) || error.message;
          reject(new GitError(`git ${args[0]}: ${remote ? why.split(remote).join(redactUrl(remote)) : why}`));
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
    });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((l) => l.trim() !== '');
  return (lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[lines.length - 1] ?? '').trim();
}
