import { ErrorKind, UsageError, errorKind } from '../engine/errors';
import { limitHeapGrowth } from '../engine/heap';
import { version } from '../package.json';
import { Io, realIo } from './io';
import { SERVE_HELP, SERVE_USAGE, serveCommand } from './serve-command';
import { SYNC_HELP, SYNC_USAGE, syncCommand } from './sync-command';
import { GC_HELP, GC_USAGE, gcCommand } from './gc-command';

export { progressLine } from './progress';
export type { Io } from './io';

/**
 * `bottles`: the mirror on one machine, with a directory as its store.
 *
 * Exit codes: 0 success; 1 a sync ran but published nothing new (the previous
 * generation stays served); 2 usage, configuration or local-environment error.
 */

export const VERSION = version;
export const USAGE = `${SYNC_USAGE}\n${SERVE_USAGE.replace('usage:', '      ')}\n${GC_USAGE.replace('usage:', '      ')}`;

export const HELP = `bottles ${VERSION}: a Homebrew bottle mirror on one machine

${USAGE}

Commands:
  sync    mirror Homebrew's signed API and its bottles into a directory
  serve   serve that directory to brew (HOMEBREW_API_DOMAIN, HOMEBREW_BOTTLE_DOMAIN,
          HOMEBREW_ARTIFACT_DOMAIN)
  gc      housekeeping: keep the last generations, expire orphaned bottles and old runs

Run \`bottles <command> --help\` for every option and its default.
Options: --help, --version.`;

const COMMAND_USAGE: Record<string, string> = { sync: SYNC_USAGE, serve: SERVE_USAGE, gc: GC_USAGE };
export const COMMAND_HELP: Record<string, string> = { sync: SYNC_HELP, serve: SERVE_HELP, gc: GC_HELP };

export async function main(argv: string[], io: Io = realIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'sync') return await syncCommand(rest, io);
    if (command === 'serve') return await serveCommand(rest, io);
    if (command === 'gc') return await gcCommand(rest, io);
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout(`${rest[0] && COMMAND_HELP[rest[0]] ? COMMAND_HELP[rest[0]] : HELP}\n`);
      return 0;
    }
    if (command === '--version' || command === '-v' || command === 'version') {
      io.stdout(`${VERSION}\n`);
      return 0;
    }
    throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'no command given');
  } catch (error) {
    return reportError(error, command, io);
  }
}

/** One line on stderr, never a stack trace, and the exit code for its kind. */
function reportError(error: unknown, command: string | undefined, io: Io): number {
  const parseError = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  const kind: ErrorKind | undefined = parseError ? 'usage' : errorKind(error);
  const message = (error as Error).message.split('\n')[0];
  if (kind === 'usage') {
    io.stderr(`bottles: ${message}\n${(command && COMMAND_USAGE[command]) ?? USAGE}\n`);
    return 2;
  }
  if (kind === 'local-environment') {
    io.stderr(`bottles: ${message}\n`);
    return 2;
  }
  io.stderr(`bottles: unexpected error: ${message}\n`);
  if (process.env.BOTTLES_DEBUG) io.stderr(`${(error as Error).stack}\n`);
  return 1;
}

if (require.main === module) {
  limitHeapGrowth();
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
