import { readFileSync } from 'fs';
import * as http from 'http';
import { Socket } from 'net';
import { performance } from 'perf_hooks';
import { Logger } from '../logger';
import { positiveIntegersFromEnv } from '../runtime-config';
import { ServerMetrics } from './metrics';
import { Exchange, withSecurityHeaders } from './reply';

/**
 * What a hostile or careless client may cost the server. Every cap refuses
 * politely: a connection over a cap gets a 503 with Retry-After and is closed.
 */
export interface ServerLimits {
  /** Open client connections in all. Default: `defaultMaxConnections()`, under the file-descriptor limit. */
  readonly maxConnections: number;
  /**
   * Open connections per client address. Default 64. Not applied behind a
   * load balancer (`trustProxy`), where every connection comes from it.
   */
  readonly maxConnectionsPerClient: number;
  /** A download the client accepts no bytes of for this long is cut. Default 30 s. */
  readonly writeStallMs: number;
}

/** File descriptors kept free for the store, the state files, logs and the generation refresh. */
export const FD_HEADROOM = 1024;

/** The connection cap where the file-descriptor limit allows it. */
const CONNECTION_CAP = 10_000;

/**
 * The default connection cap: 10,000, or fewer when the process may not open
 * that many files (`nofile` from /proc/self/limits) and still keep
 * `FD_HEADROOM` for everything else. At least 64.
 */
export function defaultMaxConnections(fileLimit: number | undefined = readFileLimit()): number {
  if (fileLimit === undefined) return CONNECTION_CAP;
  return Math.max(64, Math.min(CONNECTION_CAP, fileLimit - FD_HEADROOM));
}

function readFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined; // not Linux: the fixed cap applies
  }
}

export const DEFAULT_SERVER_LIMITS: Omit<ServerLimits, 'maxConnections'> = { maxConnectionsPerClient: 64, writeStallMs: 30_000 };

/** Environment variables that override the server's limits (`bottles serve` and the mirror task read them). */
export const SERVER_LIMIT_ENV = {
  maxConnections: 'HBS_MAX_CONNECTIONS',
  maxConnectionsPerClient: 'HBS_MAX_CONNECTIONS_PER_CLIENT',
  writeStallMs: 'HBS_WRITE_STALL_MS',
} as const satisfies Record<keyof ServerLimits, string>;

/** The limits set in `env`; a malformed value fails fast, naming its variable. */
export function serverLimitsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Partial<ServerLimits> {
  return positiveIntegersFromEnv(SERVER_LIMIT_ENV, env);
}

/** A connection over a cap may take this long to send its request and read the 503. */
const REFUSAL_GRACE_MS = 2000;
/** Past the cap by this many, connections are closed at once, without a 503: the descriptors matter more. */
const HARD_OVERFLOW = 256;

/**
 * The server's door: counts connections against the total and per-client
 * caps, refuses those over a cap, and cuts downloads whose client stopped
 * reading (one sweep for all downloads in flight).
 */
export class ConnectionGuard {
  readonly limits: ServerLimits;
  /** Open connections per client address (only counted when the address is the client's). */
  private readonly perClient = new Map<string, number>();
  /** Connections over a cap: their first request is answered 503 and the connection closed. */
  private readonly refused = new WeakSet<Socket>();
  /** Downloads in flight, checked for stalls by one sweep. */
  private readonly downloads = new Map<Exchange, { bytes: number; since: number }>();
  private stallSweep?: NodeJS.Timeout;

  constructor(
    limits: Partial<ServerLimits> | undefined,
    private readonly trustProxy: boolean,
    private readonly metrics: ServerMetrics,
    private readonly log: Logger,
  ) {
    this.limits = { maxConnections: limits?.maxConnections ?? defaultMaxConnections(), ...DEFAULT_SERVER_LIMITS, ...limits };
  }

  /**
   * Counts the connection against the total and per-client caps. Over a cap
   * it is marked refused (its request gets a 503) and closed after a short
   * grace; far over, it is closed at once, so descriptors stay for the store.
   */
  admit(socket: Socket): void {
    const address = this.trustProxy ? undefined : socket.remoteAddress ?? 'unknown';
    const open = ++this.metrics.openConnections;
    const fromClient = address === undefined ? 0 : (this.perClient.get(address) ?? 0) + 1;
    if (address !== undefined) this.perClient.set(address, fromClient);
    socket.once('close', () => {
      this.metrics.openConnections--;
      if (address === undefined) return;
      const left = (this.perClient.get(address) ?? 1) - 1;
      if (left === 0) this.perClient.delete(address);
      else this.perClient.set(address, left);
    });
    const overTotal = open > this.limits.maxConnections;
    const overClient = fromClient > this.limits.maxConnectionsPerClient;
    if (!overTotal && !overClient) return;
    this.metrics.connectionsRefused++;
    if (open > this.limits.maxConnections + HARD_OVERFLOW) {
      socket.destroy();
      return;
    }
    this.refused.add(socket);
    socket.setTimeout(REFUSAL_GRACE_MS, () => socket.destroy());
  }

  /** True when the request arrived on a connection over a cap; it has then been answered 503. */
  refuseIfOverCap(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (!this.refused.has(req.socket)) return false;
    const body = JSON.stringify({ error: 'too_many_connections', message: 'too many open connections; retry shortly' });
    res.shouldKeepAlive = false;
    res.writeHead(503, withSecurityHeaders(['content-type', 'application/json', 'retry-after', '1', 'connection', 'close', 'content-length', String(Buffer.byteLength(body))]));
    res.end(body);
    return true;
  }

  /** Registers a streamed download with the stall sweep until its response closes. */
  watchDownload = (x: Exchange): void => {
    this.downloads.set(x, { bytes: x.bytes, since: performance.now() });
    x.res.once('close', () => this.downloads.delete(x));
    if (!this.stallSweep) {
      this.stallSweep = setInterval(this.sweepStalled, Math.max(10, Math.floor(this.limits.writeStallMs / 4)));
      this.stallSweep.unref();
    }
  };

  /** Cuts downloads whose client accepted no bytes for `writeStallMs`; runs while any download is in flight. */
  private sweepStalled = (): void => {
    const now = performance.now();
    for (const [x, seen] of this.downloads) {
      if (x.bytes !== seen.bytes) {
        seen.bytes = x.bytes;
        seen.since = now;
      } else if (now - seen.since >= this.limits.writeStallMs) {
        this.downloads.delete(x);
        this.metrics.downloadsStalled++;
        this.log.info('download cut: the client stopped reading', { requestId: x.requestId, route: x.route, bytes: x.bytes, stalledMs: Math.round(now - seen.since) });
        x.res.destroy();
      }
    }
    if (this.downloads.size === 0 && this.stallSweep) {
      clearInterval(this.stallSweep);
      this.stallSweep = undefined;
    }
  };
}
