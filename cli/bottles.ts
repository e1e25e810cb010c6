import { ErrorKind, UsageError, errorKind, isRejectedInput } from '../engine/errors';
import { limitHeapGrowth } from '../engine/heap';
import { version } from '../package.json';
import { Io, realIo } from './io';
import { SERVE_HELP, SERVE_USAGE, serveCommand } from './serve-command';
import { SYNC_HELP, SYNC_USAGE, syncCommand } from './sync-command';
import { GC_HELP, GC_USAGE, gcCommand } from './gc-command';
import { EXPORT_HELP, EXPORT_USAGE, exportCommand } from './export-command';
import { IMPORT_HELP, IMPORT_USAGE, importCommand } from './import-command';
import { TOKEN_HELP, TOKEN_USAGE, tokenCommand } from './token-command';

export { progressLine } from './progress';
export type { Io } from './io';

/**
 * `bottles`: the mirror on one machine, with a directory as its store.
 *
 * Exit codes: 0 success; 1 a sync ran but published nothing new (the previous
 * generation stays served); 2 usage, configuration or local-environment error.
 */

export const VERSION = version;
export const USAGE = [SYNC_USAGE, SERVE_USAGE, GC_USAGE, EXPORT_USAGE, IMPORT_USAGE, TOKEN_USAGE].map((u, i) => (i === 0 ? u : u.replace('usage:', '      '))).join('\n');

export const HELP = `bottles ${VERSION}: a Homebrew bottle mirror on one machine

${USAGE}

Commands:
  sync    mirror Homebrew's signed API and its bottles into a directory
  serve   serve that directory to brew (HOMEBREW_API_DOMAIN, HOMEBREW_BOTTLE_DOMAIN,
          HOMEBREW_ARTIFACT_DOMAIN)
  gc      housekeeping: keep the last generations, expire orphaned bottles and old runs
  export  write the published generation as a bundle for a network with no way out
  import  check a bundle and publish its generation
  token   team tokens for token mode: create, list, revoke

Run \`bottles <command> --help\` for every option and its default.
Options: --help, --version.`;

const COMMAND_USAGE: Record<string, string> = { sync: SYNC_USAGE, serve: SERVE_USAGE, gc: GC_USAGE, export: EXPORT_USAGE, import: IMPORT_USAGE, token: TOKEN_USAGE };
export const COMMAND_HELP: Record<string, string> = { sync: SYNC_HELP, serve: SERVE_HELP, gc: GC_HELP, export: EXPORT_HELP, import: IMPORT_HELP, token: TOKEN_HELP };

export async function main(argv: string[], io: Io = realIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'sync') return await syncCommand(rest, io);
    if (command === 'serve') return await serveCommand(rest, io);
    if (command === 'gc') return await gcCommand(rest, io);
    if (command === 'export') return await exportCommand(rest, io);
    if (command === 'import') return await importCommand(rest, io);
    if (command === 'token') return await tokenCommand(rest, io);
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
  // A refused input (a bundle that fails a check): one line saying why, nothing changed.
  if (isRejectedInput(error)) {
    io.stderr(`bottles: ${command ?? 'bottles'} refused: ${message}\n`);
    return 1;
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
