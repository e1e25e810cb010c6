import { FleetPolicy } from '../policy/fleet-policy';
import { TokenVerifier } from '../keys/token-verifier';
import { DirectoryBlobStore } from '../adapters/local/directory-blob-store';
import { DirectoryObjectStore } from '../adapters/local/directory-object-store';
import { FileStateStore } from '../adapters/local/file-state-store';
import { DirectoryRunLeftovers } from '../adapters/local/run-leftovers';
import { ImportDeps } from '../transfer/import';
import { DirectoryHousekeeping } from '../adapters/local/directory-housekeeping';
import { MemoryCircuitBreaker } from '../adapters/local/memory-circuit-breaker';
import { MemoryRateLimiter, memoryByteBudget } from '../adapters/local/memory-rate-limiter';
import { Logger } from '../logger';
import { RateLimit } from '../ports';
import { AccessLog } from '../serve/access-log';
import { MirrorServerDeps } from '../serve/server';
import { SyncDeps, SyncProgress } from '../sync/run-sync';
import { Upstream } from '../upstream/client';
import { PullThroughOptions } from '../serve/pull-through';

/**
 * The composition root for one machine: a directory is the store and holds
 * its own state, the circuit breaker and rate limiter live in memory. The
 * `bottles` command, the benchmarks and the tests build from here.
 */

export interface LocalStores {
  readonly blobs: DirectoryBlobStore;
  readonly objects: DirectoryObjectStore;
  readonly state: FileStateStore;
}

/** The three stores over one directory (layout: `engine/store-layout.ts`). */
export function localStores(root: string): LocalStores {
  return { blobs: new DirectoryBlobStore(root), objects: new DirectoryObjectStore(root), state: new FileStateStore(root) };
}

/** Housekeeping of a directory store (`bottles gc`, and after each publish). */
export function localHousekeeping(root: string): DirectoryHousekeeping {
  return new DirectoryHousekeeping(root, new FileStateStore(root));
}

export interface LocalSyncWiring {
  readonly log: Logger;
  readonly upstream?: Upstream;
  readonly onProgress?: (progress: SyncProgress) => void;
  /** Overrides for tests (breaker policy, backoff); default: an in-memory breaker with the default policy. */
  readonly transfer?: SyncDeps['transfer'];
  readonly metrics?: SyncDeps['metrics'];
  readonly now?: SyncDeps['now'];
}

export function localSyncDeps(root: string, options: LocalSyncWiring): SyncDeps {
  return {
    ...localStores(root),
    upstream: options.upstream ?? new Upstream(),
    log: options.log,
    metrics: options.metrics,
    now: options.now,
    onProgress: options.onProgress,
    leftovers: new DirectoryRunLeftovers(root),
    housekeeping: localHousekeeping(root),
    transfer: { breaker: new MemoryCircuitBreaker(), ...options.transfer },
  };
}

export interface LocalServeOptions {
  readonly log: Logger;
  readonly accessLog?: AccessLog;
  readonly rateLimit?: RateLimit;
  /** Bytes of blobs one client may be handed per hour. Default `SERVE_DEFAULTS.byteBudgetPerHour`. */
  readonly byteBudgetPerHour?: number;
  /** How often to look for a new generation. Default: the server's (5 s). */
  readonly pollMs?: number;
  readonly limits?: MirrorServerDeps['limits'];
  readonly accessLogDropped?: () => number;
  /** The URL clients reach the mirror by (`/brew.env`). */
  readonly publicUrl?: MirrorServerDeps['publicUrl'];
  /** Pull-through's upstream and cap; the breaker is this process's own. Default: off. */
  readonly pullThrough?: Omit<PullThroughOptions, 'breaker'>;
  /** Token mode (`--require-token`): the verifier over the store's tokens, started by the caller. Default: off. */
  readonly tokens?: TokenVerifier;
  /** The fleet's policy, handed to brew in `/brew.env` (`--policy FILE`). Default none. */
  readonly policy?: FleetPolicy;
}

/** A directory store serves in proxy mode: there is no presigner. */
export function localServerDeps(root: string, options: LocalServeOptions): MirrorServerDeps {
  return {
    ...localStores(root),
    log: options.log,
    accessLog: options.accessLog,
    limiter: new MemoryRateLimiter(options.rateLimit),
    byteBudget: memoryByteBudget(options.byteBudgetPerHour),
    mode: 'proxy',
    pollMs: options.pollMs,
    limits: options.limits,
    accessLogDropped: options.accessLogDropped,
    publicUrl: options.publicUrl,
    pullThrough: options.pullThrough && { ...options.pullThrough, breaker: new MemoryCircuitBreaker() },
    tokens: options.tokens,
    policy: options.policy,
    teamByteBudget: (bytesPerHour) => memoryByteBudget(bytesPerHour),
  };
}

/** `bottles import` into a directory store: the staged generation of a refused bundle is removed, and housekeeping follows a publish. */
export function localImportDeps(root: string, log: Logger): ImportDeps {
  return { ...localStores(root), log, leftovers: new DirectoryRunLeftovers(root), housekeeping: localHousekeeping(root) };
}
