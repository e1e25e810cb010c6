import { randomUUID } from 'crypto';
import * as http from 'http';
import { performance } from 'perf_hooks';
import { Socket } from 'net';
import { SERVE_DEFAULTS } from '../defaults';
import { Logger } from '../logger';
import { ALB_IDLE_TIMEOUT_SECONDS, HEALTH_PATH } from '../runtime-config';
import { BlobStore, ObjectStore, RateLimiter, RateVerdict, StateStore } from '../ports';
import { AccessLog } from './access-log';
import { missingObjects } from './completeness';
import { ConnectionGuard, ServerLimits } from './connection-guard';
import { HttpError, httpErrors } from './http-errors';
import { TokenVerifier } from '../keys/token-verifier';
import { FleetPolicy, policyEnvLines } from '../policy/fleet-policy';
import { ServerMetrics } from './metrics';
import { Exchange, ReplyWriter, isPromise, rawHeader } from './reply';
import { RouteMatch, matchRoute, mountPathOf, unmount } from './router';
import { ApiFileRoutes } from './routes/api-files';
import { BlobRoutes, Presigner, ServeMode } from './routes/blobs';
import { ClientSetupRoutes } from './routes/client-setup';
import { BrewRoutes } from './routes/brew';
import { TapRoutes } from './routes/taps';
import { HomePage } from './routes/home';
import { OperationRoutes } from './routes/operations';
import { RegistryRoutes } from './routes/registry';
import { GenerationSnapshot, loadSnapshot } from './snapshot';
import { PullThrough, PullThroughOptions } from './pull-through';

/**
 * Routes that need a team's token in token mode: bottles, image indexes, portable Ruby, cask
 * files (the `brew mirror` command sends the token) and the git repositories. The signed API,
 * `/install`, `/brew.env`, the page, `/status`, `/metrics` and `/health` stay open: the API is
 * Homebrew's public, signed data, and the rest is what a machine needs before it has a token.
 * A tap's downloads (`/dl/…`) stay open too: brew fetches them with its plain curl strategy,
 * which sends no token (only `ghcr.io`-style URLs carry `HOMEBREW_DOCKER_REGISTRY_TOKEN`), so a
 * token there would break every tap install; they are vendors' public files, charged per address.
 */
const TOKEN_ROUTES: ReadonlySet<string> = new Set(['bottle', 'manifest', 'registry_manifest', 'registry_tags', 'registry_blob', 'cask', 'brew_git', 'tap_git']);

/** 401 with the challenge each client understands: git answers `Basic` with its credentials, brew sends `Bearer` unasked. */
function tokenRequired(route: string): HttpError {
  const git = route === 'brew_git' || route === 'tap_git';
  return httpErrors.unauthorized(git ? 'Basic realm="homebrew mirror", charset="UTF-8"' : 'Bearer realm="homebrew mirror"');
}

export interface MirrorServerDeps {
  readonly objects: ObjectStore;
  readonly blobs: BlobStore;
  readonly state: StateStore;
  readonly log: Logger;
  /** The per-request access log. Default: `log.info('request', …)`. Busy servers pass a BatchedAccessLog's `log`. */
  readonly accessLog?: AccessLog;
  readonly limiter: RateLimiter;
  /**
   * Each client's byte budget for blobs (bottles, portable Ruby, brew.git's packs): a limiter
   * over `byteBudgetLimit(bytesPerHour)` (default `SERVE_DEFAULTS.byteBudgetPerHour`, 20 GiB),
   * in memory locally and shared through Redis in AWS.
   */
  readonly byteBudget: RateLimiter;
  /** A byte budget of another size, for a team whose token carries its own. Default: `byteBudget`'s size. */
  readonly teamByteBudget?: (bytesPerHour: number) => RateLimiter;
  /**
   * Token mode (issue #35), off by default: blob and git routes answer 401 without a valid team token,
   * and the rate limit and byte budget count per token instead of per address.
   */
  readonly tokens?: TokenVerifier;
  /** The fleet's policy (`--policy FILE`, `HBS_<ENV>_FORBIDDEN_*`): `/brew.env` and `/install` carry it to brew. Default none. */
  readonly policy?: FleetPolicy;
  /** How bottles are delivered. `proxy` streams them; `redirect` needs a presigner. */
  readonly mode: ServeMode;
  /** A short-lived URL for a blob; required in redirect mode. */
  readonly presign?: Presigner;
  /** Lifetime of presigned URLs. Default 300 s (see `BlobRouteOptions`). */
  readonly presignExpirySeconds?: number;
  /**
   * Take the client IP from X-Forwarded-For, behind the ALB. Its last entry is
   * the address the ALB saw; earlier ones come from the client and could be
   * forged to dodge the rate limit. Default false.
   */
  readonly trustProxy?: boolean;
  /**
   * Switch to a new generation only once every object it names is in this
   * store (`missingObjects`). For a mirror reading a replica (the DR
   * standby), where the pointer arrives before the objects. Default false: a
   * primary's sync publishes only after everything is stored.
   */
  readonly verifyCompleteness?: boolean;
  /** How often to look for a newly published generation. Default `SERVE_DEFAULTS.pollMs` (5 s). */
  readonly pollMs?: number;
  /** Connection caps and the stalled-download timeout; unset fields keep their defaults. */
  readonly limits?: Partial<ServerLimits>;
  /** Lines the access log dropped (a BatchedAccessLog's `droppedLines`), for /metrics and the EMF report. */
  readonly accessLogDropped?: () => number;
  /**
   * The mirror's public base URL (`--public-url`; the stack's domain in AWS), which `/brew.env` hands
   * to clients; a function when it is known only once listening (`--port 0`). Default: none, and
   * `/brew.env` is 404. Never taken from a request's Host header.
   */
  readonly publicUrl?: string | (() => string);
  /**
   * Pull-through (issue #24): a bottle or image index the signed API names but this partial
   * mirror lacks is fetched, checked and kept on its first request. Default: off, and such a
   * request is a 404 that never reaches upstream.
   */
  readonly pullThrough?: PullThroughOptions;
}

/**
 * Idle keep-alive connections are closed after this long: 5 s above the ALB's
 * idle timeout, so the ALB closes first and never sends a request down a
 * connection the server is closing.
 */
export const KEEP_ALIVE_TIMEOUT_MS = (ALB_IDLE_TIMEOUT_SECONDS + 5) * 1000;

/** How long `stop()` lets downloads in flight finish: under the task's 120 s stop timeout, with room to flush logs. */
export const DRAIN_TIMEOUT_MS = 110_000;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The HTTP server `brew` talks to: its lifecycle (listen, refresh, stop) and
 * the path of a request through it. A connection passes the guard
 * (`connection-guard.ts`); a request is admitted by the rate limiter, matched
 * by the router (`router.ts`), answered by a route module (`routes/`), and
 * written and recorded by the reply writer (`reply.ts`). The route table is
 * in docs/architecture.md.
 *
 * The hot path stays synchronous while everything it needs is in memory (the
 * generation snapshot, immutable manifests, blob sizes, recently presigned
 * URLs, the local rate limiter) and only awaits when it has to go to a store.
 */
export class MirrorServer {
  readonly server: http.Server;
  readonly metrics = new ServerMetrics();
  readonly limits: ServerLimits;
  private snapshot?: GenerationSnapshot;
  /** The generation served before the current one (see `Exchange.previous`). */
  private previous?: GenerationSnapshot;
  private poller?: NodeJS.Timeout;
  private mount?: { readonly url: string | undefined; readonly path: string };
  /** The poller's refresh in flight, if any (stop() waits for it). */
  private refreshing?: Promise<void>;
  private readonly guard: ConnectionGuard;
  private readonly reply: ReplyWriter;
  private readonly apiFiles: ApiFileRoutes;
  private readonly blobs: BlobRoutes;
  private readonly registry: RegistryRoutes;
  private readonly operations: OperationRoutes;
  private readonly clientSetup: ClientSetupRoutes;
  private readonly brew: BrewRoutes;
  private readonly taps: TapRoutes;
  private readonly home: HomePage;

  constructor(private readonly deps: MirrorServerDeps) {
    this.guard = new ConnectionGuard(deps.limits, deps.trustProxy === true, this.metrics, deps.log);
    this.limits = this.guard.limits;
    this.reply = new ReplyWriter({ log: deps.log, metrics: this.metrics, accessLog: deps.accessLog, trustProxy: deps.trustProxy, watchDownload: this.guard.watchDownload });
    const pullThrough = deps.pullThrough ? new PullThrough(deps.pullThrough, deps, this.metrics) : undefined;
    if (pullThrough) this.metrics.pullsActive = () => pullThrough.active;
    this.blobs = new BlobRoutes({ ...deps, pullThrough }, this.reply, this.metrics);
    this.apiFiles = new ApiFileRoutes(deps.objects, this.reply, this.metrics);
    this.registry = new RegistryRoutes(deps.objects, this.reply, this.metrics, pullThrough);
    this.operations = new OperationRoutes(deps, this.reply, this.metrics);
    this.clientSetup = new ClientSetupRoutes(deps.publicUrl, this.reply, deps.tokens !== undefined, deps.policy ? policyEnvLines(deps.policy) : []);
    this.brew = new BrewRoutes(this.reply, this.blobs);
    this.taps = new TapRoutes(this.reply, this.blobs);
    this.home = new HomePage(deps, this.reply, this.metrics);
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.on('connection', (socket: Socket) => this.guard.admit(socket));
    if (deps.accessLogDropped) this.metrics.accessLogDropped = deps.accessLogDropped;
  }

  /** Loads the published generation if it changed; requests in flight keep the snapshot they started with. */
  async refresh(): Promise<void> {
    const published = await this.deps.state.getPublished();
    if (!published || published.generation === this.snapshot?.generation.generation) return;
    const next = await loadSnapshot(this.deps.objects, published, { pullThrough: this.deps.pullThrough !== undefined });
    if (this.deps.verifyCompleteness) {
      const missing = await missingObjects(this.deps, next, this.snapshot);
      if (missing.count > 0) {
        // Keep serving the complete generation; the next poll looks again.
        this.deps.log.warn('new generation not complete in this store yet; still serving the previous one', {
          generation: published.generation,
          serving: this.snapshot?.generation.generation ?? null,
          missing: missing.count,
          examples: missing.examples,
        });
        return;
      }
    }
    this.previous = this.snapshot;
    this.snapshot = next; // one reference swap: atomic for every later request
    this.deps.log.info('serving generation', { generation: published.generation, bottles: next.bottles.size });
  }

  /** Loads the published generation and listens; rejects with the socket error (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  async listen(port: number, host: string): Promise<number> {
    await this.refresh().catch((error) => this.deps.log.warn('no generation loaded yet', { error: (error as Error).message }));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.poller = setInterval(() => {
      if (this.refreshing) return; // one refresh at a time: a slow store must not pile them up
      this.refreshing = this.refresh()
        .catch((error) => this.deps.log.error('generation refresh failed', { error: (error as Error).message }))
        .finally(() => (this.refreshing = undefined));
    }, this.deps.pollMs ?? SERVE_DEFAULTS.pollMs);
    this.poller.unref();
    return (this.server.address() as { port: number }).port;
  }

  /**
   * Stops accepting connections and lets requests in flight finish. A
   * keep-alive connection busy when the stop began becomes idle later, so idle
   * connections are closed every 100 ms until none is left (otherwise one
   * would linger for the keep-alive timeout); whatever is still open after
   * `drainMs` is cut, so the process exits before ECS's stop timeout (120 s)
   * turns SIGTERM into SIGKILL.
   */
  async stop(drainMs = DRAIN_TIMEOUT_MS): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    await this.refreshing;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const sweep = setInterval(() => this.server.closeIdleConnections(), 100);
    const deadline = setTimeout(() => this.server.closeAllConnections(), drainMs);
    try {
      await closed;
    } finally {
      clearInterval(sweep);
      clearTimeout(deadline);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.guard.refuseIfOverCap(req, res)) return;
    const incoming = rawHeader(req, 'x-request-id');
    const x: Exchange = {
      req,
      res,
      requestId: incoming !== undefined && REQUEST_ID.test(incoming) ? incoming : randomUUID(),
      started: performance.now(),
      snapshot: this.snapshot,
      previous: this.previous,
      route: 'unknown',
      bytes: 0,
      ip: undefined,
    };
    try {
      // The ALB's health check is never limited; everything else is, before routing, so
      // floods of 404, 400 and 405 requests cost a client its budget like any other.
      if (req.url === HEALTH_PATH && req.method === 'GET') return this.dispatch(x);
      // Token mode: a team's requests count against its token, wherever they come from (one NAT, many teams).
      if (this.deps.tokens) x.team = this.deps.tokens.verify(req.headers.authorization);
      const verdict = this.deps.limiter.take(x.team ? `team:${x.team.id}` : this.reply.clientIp(x));
      if (isPromise(verdict)) verdict.then((v) => this.admit(x, v), (error) => this.reply.fail(x, error));
      else this.admit(x, verdict);
    } catch (error) {
      this.reply.fail(x, error);
    }
  }

  private admit(x: Exchange, verdict: RateVerdict): void {
    if (verdict.allowed) return this.dispatch(x);
    x.route = 'rate_limited'; // refused before routing
    this.reply.fail(x, httpErrors.rateLimited(verdict.retryAfterSeconds));
  }

  /** Method check, routing, and the route module's handler; a handler's failure becomes its error reply. */
  private dispatch(x: Exchange): void {
    try {
      if (x.req.method !== 'GET' && x.req.method !== 'HEAD') throw httpErrors.methodNotAllowed();
      const match = matchRoute(unmount(x.req.url ?? '/', this.mountPath()), x.snapshot, x.previous);
      x.route = match.route;
      if (this.deps.tokens && !x.team && TOKEN_ROUTES.has(match.route)) throw tokenRequired(match.route);
      const pending = this.answer(x, match);
      if (pending) pending.catch((error) => this.reply.fail(x, error));
    } catch (error) {
      this.reply.fail(x, error);
    }
  }

  /** The public URL's path, the routes' mount point (cached: the URL is configuration, read once per value). */
  private mountPath(): string {
    const publicUrl = typeof this.deps.publicUrl === 'function' ? this.deps.publicUrl() : this.deps.publicUrl;
    if (this.mount === undefined || publicUrl !== this.mount.url) this.mount = { url: publicUrl, path: mountPathOf(publicUrl) };
    return this.mount.path;
  }

  private answer(x: Exchange, match: RouteMatch): void | Promise<void> {
    switch (match.kind) {
      case 'bottle': return this.blobs.bottle(x, match.sha256, match.encoded);
      case 'bottle_by_name': return this.blobs.bottleByName(x, match.name);
      case 'registry_blob': return this.blobs.blob(x, match.sha256);
      case 'cask': return this.blobs.cask(x, match.sha256);
      case 'brew_mirror': return this.clientSetup.brewMirror(x);
      case 'api': return this.apiFiles.apiFile(x, match.file);
      case 'manifest': return this.registry.manifest(x, match.image, match.ref);
      case 'manifest_by_digest': return this.registry.manifestByDigest(x, match.image, match.digest);
      case 'registry_tags': return this.registry.tagsList(x, match.image);
      case 'registry_base': return this.registry.base(x);
      case 'health': return this.operations.health(x);
      case 'health_detailed': return this.operations.healthDetailed(x);
      case 'metrics': return this.operations.prometheus(x);
      case 'status': return this.operations.status(x);
      case 'brew_env': return this.clientSetup.brewEnv(x);
      case 'install': return this.clientSetup.install(x);
      case 'install_script': return this.brew.installScript(x);
      case 'brew_git_file': return this.brew.gitFile(x, match.file);
      case 'brew_git_pack': return this.brew.gitPack(x, match.name);
      case 'tap_git_file': return this.taps.gitFile(x, match.tap, match.file);
      case 'tap_git_pack': return this.taps.gitPack(x, match.tap, match.name);
      case 'tap_download': return this.taps.download(x, match.key);
      case 'home': return this.home.page(x);
      case 'error': throw match.error;
    }
  }
}
