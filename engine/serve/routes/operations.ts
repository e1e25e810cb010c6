import { apiKey } from '../../store-layout';
import { coveredReleases, uncoveredRubies } from '../../brew/brew-record';
import { ObjectStore, RateLimiter, StateStore } from '../../ports';
import { ServerMetrics } from '../metrics';
import { Exchange, JSON_NO_STORE, ReplyWriter } from '../reply';
import type { PullThroughOptions } from '../pull-through';
import { tapView } from './tap-status';
import { publicReason } from '../public-reason';


export interface OperationDeps {
  readonly objects: ObjectStore;
  readonly state: StateStore;
  readonly limiter: RateLimiter;
  /** Set when pull-through is on: `/status` then reports its counters. */
  readonly pullThrough?: PullThroughOptions;
}

/** What operators and load balancers ask: `/health`, `/health/detailed`, `/metrics`, `/status`. */
export class OperationRoutes {
  constructor(
    private readonly deps: OperationDeps,
    private readonly reply: ReplyWriter,
    private readonly metrics: ServerMetrics,
  ) {}

  health(x: Exchange): void {
    this.reply.send(x, 200, JSON_NO_STORE, '{"status":"ok"}');
  }

  async healthDetailed(x: Exchange): Promise<void> {
    const timed = async (check: () => Promise<unknown>) => {
      const started = process.hrtime.bigint();
      try {
        await check();
        return { ok: true, latencyMs: Number(process.hrtime.bigint() - started) / 1e6 };
      } catch (error) {
        return { ok: false, latencyMs: Number(process.hrtime.bigint() - started) / 1e6, error: (error as Error).name };
      }
    };
    const generation = x.snapshot?.generation;
    const [store, state, cache] = await Promise.all([
      timed(async () => {
        if (generation && !(await this.deps.objects.hasObject(apiKey(generation.generation, 'formula.jws.json')))) throw new Error('missing');
      }),
      timed(() => this.deps.state.getPublished()),
      timed(() => this.deps.limiter.ping()),
    ]);
    // A store never synced serves (503 on the API) and says so here.
    const published = generation ? { ok: true } : { ok: false, error: 'nothing has been published yet' };
    const status = !store.ok || !state.ok ? 'unhealthy' : !cache.ok || !published.ok ? 'degraded' : 'ok';
    const checks = { store, state, cache: { ...cache, backend: this.deps.limiter.backend }, generation: published };
    const body = JSON.stringify({ status, generation: generation?.generation ?? null, checks });
    this.reply.send(x, status === 'unhealthy' ? 503 : 200, JSON_NO_STORE, body);
  }

  prometheus(x: Exchange): void {
    const published = x.snapshot?.generation.publishedAt;
    const age = published ? Math.max(0, (Date.now() - Date.parse(published)) / 1000) : undefined;
    const casks = { files: x.snapshot?.casks?.record.files.length ?? 0, bytes: x.snapshot?.casks?.bytes ?? 0 };
    this.reply.send(x, 200, ['content-type', 'text/plain; version=0.0.4', 'cache-control', 'no-store'], this.metrics.render(age, casks));
  }

  async status(x: Exchange): Promise<void> {
    const generation = x.snapshot?.generation;
    const lastRun = await this.deps.state.latestRun();
    const body = JSON.stringify({
      generation: generation ? { id: generation.generation, publishedAt: generation.publishedAt, verifiedAt: generation.verifiedAt, files: generation.files } : null,
      ageSeconds: generation ? Math.round((Date.now() - Date.parse(generation.publishedAt)) / 1000) : null,
      lastRun: lastRun
        ? {
            runId: lastRun.runId,
            status: lastRun.status,
            startedAt: lastRun.startedAt,
            finishedAt: lastRun.finishedAt,
            bottles: lastRun.bottles,
            bytesTransferred: lastRun.bytesTransferred,
            failures: lastRun.failures?.length ?? 0,
            error: lastRun.error === undefined ? undefined : publicReason(lastRun.error),
          }
        : null,
      pullThrough: this.deps.pullThrough ? { ...this.metrics.pullThrough, active: this.metrics.pullsActive() } : null,
      casks: x.snapshot?.casks
        ? {
            files: x.snapshot.casks.record.files.length,
            bytes: x.snapshot.casks.bytes,
            unpinned: x.snapshot.casks.record.files.filter((f) => f.unpinned).map((f) => ({ token: f.token, tag: f.tag, sha256: f.sha256 })),
            notMirrored: x.snapshot.casks.record.failures.map((f) => ({ ...f, reason: publicReason(f.reason) })),
          }
        : null,
      // The mirrored taps, what of them is not mirrored and why, and Brewfile entries not served (issue #34).
      taps: tapView(x.snapshot) ?? null,
      // What brew itself this generation serves: the covered releases, and every release/platform pair it does not serve, and why.
      brew: x.snapshot?.brew
        ? {
            releases: coveredReleases(x.snapshot.brew.record),
            notCovered: uncoveredRubies(x.snapshot.brew.record).map((gap) => ({ ...gap, reason: publicReason(gap.reason) })),
          }
        : null,
    });
    this.reply.send(x, 200, JSON_NO_STORE, body);
  }
}
