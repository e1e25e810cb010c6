import { statSync } from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { LocalEnvironmentError, UsageError } from '../engine/errors';
import { jsonLogger } from '../engine/logger';
import { SERVE_DEFAULTS, SYNC_DEFAULTS } from '../engine/defaults';
import { formatByteSize } from '../engine/byte-size';
import { DEFAULT_RATE_LIMIT } from '../engine/ports';
import { ACCESS_LOG_BACKLOG_ENV, BatchedAccessLog, DEFAULT_ACCESS_LOG_BACKLOG_BYTES, accessLogBacklogFromEnv } from '../engine/serve/access-log';
import { DEFAULT_SERVER_LIMITS, SERVER_LIMIT_ENV, defaultMaxConnections, serverLimitsFromEnv } from '../engine/serve/connection-guard';
import { MirrorServer } from '../engine/serve/server';
import { clientSettings, parsePublicUrl } from '../engine/homebrew/client-settings';
import { LocalServeOptions, localServerDeps, localStores } from '../engine/wiring/local';
import { Upstream, refuseTarget } from '../engine/upstream/client';
import type { Io } from './io';
import { TokenVerifier } from '../engine/keys/token-verifier';
import { FileTokenStore } from '../engine/adapters/local/file-token-store';
import { policyOption } from './policy-option';
import { LIMITS, glueNegativeValues, integerOption, positiveOption, sizeOption } from './options';

export const SERVE_USAGE = `usage: bottles serve --store DIR [--host ${SERVE_DEFAULTS.host}] [--port ${SERVE_DEFAULTS.port}|0] [--rate-limit PER_SECOND] [--burst N] [--byte-budget SIZE] [--public-url URL]
                   [--pull-through [--registry-url URL] [--max-pulls N] [--max-pull-bytes SIZE]] [--require-token] [--policy FILE]`;

export const SERVE_HELP = `${SERVE_USAGE}

Serves a mirror made by \`bottles sync\` to brew clients (proxy mode: the
bottles stream from DIR).

  --store DIR             the mirror directory; it must exist
  --host ADDRESS          address to listen on (default: ${SERVE_DEFAULTS.host}; 0.0.0.0 for every interface)
  --port N                ${LIMITS.port.min}-${LIMITS.port.max}, 0 picks a free port (default: ${LIMITS.port.default})
  --rate-limit PER_SECOND requests per second per client address (default: ${DEFAULT_RATE_LIMIT.ratePerSecond})
  --burst N               requests a client may make at once before the rate applies (default: ${DEFAULT_RATE_LIMIT.burst})
  --byte-budget SIZE      bytes of bottles a client address may download per hour, all at once or spread;
                          past it, 429 with Retry-After (default: ${formatByteSize(SERVE_DEFAULTS.byteBudgetPerHour).replace(' ', '')}; sizes like 512M, 20G)
  --public-url URL        the URL clients reach this mirror by, handed out in /brew.env and the printed
                          settings (default: http://HOST:PORT as listened on; 127.0.0.1 for 0.0.0.0)
  --require-token         token mode: bottles, image indexes, portable Ruby, cask and tap files and the
                          git repositories need a team token (\`bottles token create\`), and the rate limit
                          and byte budget count per token; the API, /install, /brew.env and the page stay open
  --policy FILE           the fleet's policy in brew.env's syntax (HOMEBREW_FORBIDDEN_*, HOMEBREW_ALLOWED_TAPS):
                          /brew.env and /install hand it to every machine, where brew enforces it
  --pull-through          a partial mirror (\`sync --formulae\`) fetches a bottle or image index the signed
                          API names but the store lacks on its first request, checks it against the signed
                          digest, keeps it and serves it; nothing else is ever fetched (default: off, 404)
  --registry-url URL      where pull-through fetches (default: ${SYNC_DEFAULTS.registryUrl}; https, or http to loopback)
  --max-pulls N           upstream fetches at once, ${LIMITS.maxPulls.min}-${LIMITS.maxPulls.max}; one more gets 503 (default: ${LIMITS.maxPulls.default})
  --max-pull-bytes SIZE   largest blob pull-through fetches (default: ${formatByteSize(SERVE_DEFAULTS.maxPullBytes).replace(' ', '')})

Limits, set in the environment (default):
  ${SERVER_LIMIT_ENV.maxConnections} (${defaultMaxConnections()} here: 10000, less the file-descriptor headroom)
  ${SERVER_LIMIT_ENV.maxConnectionsPerClient} (${DEFAULT_SERVER_LIMITS.maxConnectionsPerClient})
  ${SERVER_LIMIT_ENV.writeStallMs} (${DEFAULT_SERVER_LIMITS.writeStallMs}: a download the client stops reading is cut)
  ${ACCESS_LOG_BACKLOG_ENV} (${DEFAULT_ACCESS_LOG_BACKLOG_BYTES}: access-log bytes stderr may hold before lines are dropped and counted)
A connection over a cap gets 503 with Retry-After and is closed.

The first line on stdout names the URL and the HOMEBREW_* settings for brew;
GET /brew.env serves them as a file for /etc/homebrew/brew.env.
The JSON access log goes to stderr. SIGTERM or Ctrl-C stops after downloads
in flight finish. Exit codes: 0 stopped; 2 usage or local error (no such
store, port in use, address not available).`;

const VALUE_OPTIONS = ['store', 'host', 'port', 'mode', 'rate-limit', 'burst', 'byte-budget', 'public-url', 'registry-url', 'max-pulls', 'max-pull-bytes'];

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: glueNegativeValues(args, VALUE_OPTIONS),
    strict: true,
    options: {
      store: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      mode: { type: 'string' },
      'rate-limit': { type: 'string' },
      burst: { type: 'string' },
      'byte-budget': { type: 'string' },
      'public-url': { type: 'string' },
      'pull-through': { type: 'boolean' },
      'require-token': { type: 'boolean' },
      policy: { type: 'string' },
      'registry-url': { type: 'string' },
      'max-pulls': { type: 'string' },
      'max-pull-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(`${SERVE_HELP}\n`);
    return 0;
  }
  if (!values.store) throw new UsageError('--store DIR is required');
  // Kept for scripts that pass it: a directory store can only proxy (redirect mode needs S3 presigned URLs).
  if (values.mode !== undefined && values.mode !== 'proxy') {
    throw new UsageError(`--mode ${values.mode}: a directory store serves in proxy mode only (redirect mode is the AWS deployment's)`);
  }
  const port = integerOption(values.port, '--port', LIMITS.port);
  const ratePerSecond = positiveOption(values['rate-limit'], '--rate-limit', DEFAULT_RATE_LIMIT.ratePerSecond, false);
  const burst = positiveOption(values.burst, '--burst', DEFAULT_RATE_LIMIT.burst, true);
  const byteBudgetPerHour = sizeOption(values['byte-budget'], '--byte-budget', SERVE_DEFAULTS.byteBudgetPerHour);
  const givenUrl = values['public-url'] === undefined ? undefined : usagePublicUrl(values['public-url']);
  const pullThrough = pullThroughOptions(values);
  const root = path.resolve(values.store);
  requireStoreDirectory(root);
  const host = values.host ?? SERVE_DEFAULTS.host;
  let bound = port;
  const publicUrl = () => givenUrl ?? reachableUrl(host, bound);

  const limits = serverLimitsFromEnv();
  const tokens = values['require-token'] ? await startTokenVerifier(root, io) : undefined;
  // An undrained stderr drops access-log lines (counted in /metrics) instead of growing without bound.
  const accessLog = new BatchedAccessLog({ service: 'bottles-serve' }, (chunk) => io.stderr(chunk.toString()), { backlog: io.stderrBacklog, maxBacklogBytes: accessLogBacklogFromEnv() });
  const server = new MirrorServer(
    localServerDeps(root, {
      log: jsonLogger({ service: 'bottles-serve' }, (line) => io.stderr(`${line}\n`)),
      accessLog: accessLog.log,
      accessLogDropped: () => accessLog.droppedLines,
      rateLimit: { ratePerSecond, burst },
      byteBudgetPerHour,
      limits,
      publicUrl,
      pullThrough,
      tokens,
      policy: policyOption(values.policy),
    }),
  );
  try {
    bound = await server.listen(port, host);
  } catch (error) {
    throw listenError(error as NodeJS.ErrnoException, host, port);
  }
  // Signal handlers before the first line: whoever reads it may stop the server at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => void server.stop().then(() => (tokens?.stop(), accessLog.flush(), resolve()));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  if (!(await localStores(root).state.getPublished())) {
    io.stderr(`bottles: nothing is published in ${root} yet: brew gets 503 until \`bottles sync --store ${values.store}\` publishes\n`);
  }
  io.stdout(`${announce(root, host, bound, givenUrl)}\n`);
  await stopped;
  return 0;
}

/** Token mode reads the store's token records now and every 10 s: a revoked token is refused within that. */
async function startTokenVerifier(root: string, io: Io): Promise<TokenVerifier> {
  const verifier = new TokenVerifier(new FileTokenStore(root), jsonLogger({ service: 'bottles-serve' }, (line) => io.stderr(`${line}\n`)));
  await verifier.start();
  return verifier;
}

/** `--pull-through` and its settings; each setting without it is a usage error (it would do nothing). */
function pullThroughOptions(values: Record<string, string | boolean | undefined>): LocalServeOptions['pullThrough'] {
  const given = ['registry-url', 'max-pulls', 'max-pull-bytes'].find((name) => values[name] !== undefined);
  if (!values['pull-through']) {
    if (given) throw new UsageError(`--${given} needs --pull-through`);
    return undefined;
  }
  const registryUrl = (values['registry-url'] as string | undefined) ?? SYNC_DEFAULTS.registryUrl;
  const refused = refuseTarget(registryUrl);
  if (refused || !/^https?:\/\/[^/\s]+\/?$/.test(registryUrl)) throw new UsageError(`--registry-url must be an origin such as https://ghcr.io${refused ? ` (${refused})` : ''}, not ${JSON.stringify(registryUrl)}`);
  return {
    upstream: new Upstream(),
    registryUrl,
    maxPulls: integerOption(values['max-pulls'] as string | undefined, '--max-pulls', LIMITS.maxPulls),
    maxPullBytes: sizeOption(values['max-pull-bytes'] as string | undefined, '--max-pull-bytes', SERVE_DEFAULTS.maxPullBytes),
  };
}

/** A mistyped store must not start a server that answers 503 forever, nor export nothing. */
export function requireStoreDirectory(root: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(root).isDirectory();
  } catch {
    throw new UsageError(`store ${root} does not exist; create it with \`bottles sync --store ${root}\``);
  }
  if (!isDirectory) throw new UsageError(`store ${root} is not a directory`);
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (error.code === 'EADDRINUSE') return new LocalEnvironmentError(`cannot listen on ${where}: the port is in use (pick another with --port, or --port 0)`);
  if (error.code === 'EADDRNOTAVAIL') return new LocalEnvironmentError(`cannot listen on ${where}: this machine has no such address`);
  if (error.code === 'EACCES') return new LocalEnvironmentError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') return new UsageError(`--host ${host} does not resolve`);
  return error;
}

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';
const bracketed = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** Where a client on this machine reaches the server: never 0.0.0.0. */
function reachableUrl(host: string, port: number): string {
  return `http://${isWildcard(host) ? '127.0.0.1' : bracketed(host)}:${port}`;
}

function usagePublicUrl(value: string): string {
  try {
    return parsePublicUrl(value, '--public-url');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The first line: where it listens, and the settings brew needs (engine/homebrew/client-settings.ts). */
export function announce(root: string, host: string, port: number, publicUrl?: string): string {
  const base = publicUrl ?? reachableUrl(host, port);
  const settings = clientSettings({ publicUrl: base }).map(([name, value]) => `${name}=${value}`).join(' ');
  const note = isWildcard(host) && !publicUrl ? `; every interface: from other machines use this host's address instead of 127.0.0.1, or pass --public-url` : '';
  return `serving ${root} on http://${bracketed(host)}:${port} (${settings}${note}; as a file: ${base}/brew.env)`;
}
