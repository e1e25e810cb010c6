/** Prometheus text-format metrics of the mirror server (no client library needed for this handful). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface RouteStats {
  readonly byStatus: Map<number, number>;
  /** Requests whose latency fell in each bucket (not cumulative; render() accumulates). */
  readonly buckets: number[];
  /** Requests slower than the last bucket. */
  over: number;
  sum: number;
}

export interface MirrorTotals {
  readonly requests: number;
  readonly serverErrors: number;
  readonly bytesServed: number;
  readonly lookupHits: number;
  readonly lookupMisses: number;
  /** Connections answered 503 and closed: over the total or per-client cap. */
  readonly connectionsRefused: number;
  /** Downloads cut because the client stopped reading. */
  readonly downloadsStalled: number;
  /** Access-log lines dropped because the log's reader fell behind. */
  readonly accessLogDropped: number;
}

/** Counters updated on every request, so observe() does no string building and no allocation once a route is known. */
/** One metric in Prometheus's text format: its HELP, its TYPE and its value. */
function metric(name: string, type: 'counter' | 'gauge', help: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`];
}

export class ServerMetrics {
  private readonly routes = new Map<string, RouteStats>();
  private bytesServed = 0;
  private hits = 0;
  private misses = 0;
  connectionsRefused = 0;
  downloadsStalled = 0;
  /** Bytes charged to clients' byte budgets: blobs redirected to, and blob bytes streamed. */
  bytesHandedOut = 0;
  /** Blob requests refused with 429 because the client's byte budget was spent. */
  byteBudgetRefused = 0;
  /** Blob bytes handed out per team (token mode), by team name: never a token. */
  readonly teamBytes = new Map<string, number>();
  /**
   * Pull-through (issue #24): upstream fetches made (`pulls`), requests that waited for one already
   * running (`shared`), requests for pulled objects answered from the store (`hits`), bytes kept,
   * fetches that failed (upstream, deadline, digest) and requests refused at the fetch cap (`busy`).
   */
  readonly pullThrough = { pulls: 0, shared: 0, hits: 0, bytes: 0, failures: 0, busy: 0 };
  /** Pull-through fetches running now (set by the server when pull-through is on). */
  pullsActive: () => number = () => 0;
  /** Open client connections (a gauge the server keeps). */
  openConnections = 0;
  /** Reads the access log's dropped-line count (set by the server when it has a batched log). */
  accessLogDropped: () => number = () => 0;

  observe(route: string, status: number, seconds: number, bytes: number): void {
    let stats = this.routes.get(route);
    if (!stats) {
      stats = { byStatus: new Map(), buckets: BUCKETS.map(() => 0), over: 0, sum: 0 };
      this.routes.set(route, stats);
    }
    stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]) i++;
    if (i < BUCKETS.length) stats.buckets[i]++;
    else stats.over++;
    stats.sum += seconds;
    this.bytesServed += bytes;
  }

  /** A lookup of a bottle, manifest or API file in the in-memory generation snapshot. */
  lookup(hit: boolean): void {
    if (hit) this.hits++;
    else this.misses++;
  }

  /** Running totals since start, for the periodic CloudWatch report. */
  totals(): MirrorTotals {
    let requests = 0;
    let serverErrors = 0;
    for (const stats of this.routes.values()) {
      for (const [status, n] of stats.byStatus) {
        requests += n;
        if (status >= 500) serverErrors += n;
      }
    }
    return {
      requests,
      serverErrors,
      bytesServed: this.bytesServed,
      lookupHits: this.hits,
      lookupMisses: this.misses,
      connectionsRefused: this.connectionsRefused,
      downloadsStalled: this.downloadsStalled,
      accessLogDropped: this.accessLogDropped(),
    };
  }

  render(generationAgeSeconds: number | undefined, casks: { readonly files: number; readonly bytes: number } = { files: 0, bytes: 0 }): string {
    const lines = ['# HELP mirror_requests_total HTTP requests by route and status.', '# TYPE mirror_requests_total counter'];
    for (const [route, stats] of this.routes) {
      for (const [status, n] of stats.byStatus) lines.push(`mirror_requests_total{route="${route}",status="${status}"} ${n}`);
    }
    lines.push('# HELP mirror_request_duration_seconds Request latency.', '# TYPE mirror_request_duration_seconds histogram');
    for (const [route, stats] of this.routes) {
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += stats.buckets[i];
        lines.push(`mirror_request_duration_seconds_bucket{route="${route}",le="${le}"} ${cumulative}`);
      });
      const count = cumulative + stats.over;
      lines.push(`mirror_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${count}`);
      lines.push(`mirror_request_duration_seconds_sum{route="${route}"} ${stats.sum}`);
      lines.push(`mirror_request_duration_seconds_count{route="${route}"} ${count}`);
    }
    const total = this.hits + this.misses;
    lines.push(
      ...metric('mirror_bytes_served_total', 'counter', 'Response body bytes sent.', this.bytesServed),
      ...metric('mirror_lookup_hit_ratio', 'gauge', 'Share of lookups the published generation could answer.', total === 0 ? 1 : this.hits / total),
      ...metric('mirror_open_connections', 'gauge', 'Client connections open now.', this.openConnections),
      ...metric('mirror_connections_refused_total', 'counter', 'Connections refused with 503 over the total or per-client cap.', this.connectionsRefused),
      ...metric('mirror_downloads_stalled_total', 'counter', 'Downloads cut because the client stopped reading.', this.downloadsStalled),
      ...metric('mirror_bytes_handed_out_total', 'counter', 'Blob bytes charged to clients: the sizes of blobs redirected to, and the blob bytes streamed.', this.bytesHandedOut),
      ...metric('mirror_byte_budget_refusals_total', 'counter', 'Blob requests refused with 429 because the client had spent its byte budget.', this.byteBudgetRefused),
      ...metric('mirror_pull_through_pulls_total', 'counter', 'Upstream fetches pull-through made (bottles and image indexes the signed API names).', this.pullThrough.pulls),
      ...metric('mirror_pull_through_shared_total', 'counter', 'Requests that waited for a pull already running instead of fetching again.', this.pullThrough.shared),
      ...metric('mirror_pull_through_hits_total', 'counter', 'Requests for pulled objects answered from the store.', this.pullThrough.hits),
      ...metric('mirror_pull_through_bytes_total', 'counter', 'Bytes pull-through fetched, checked and kept.', this.pullThrough.bytes),
      ...metric('mirror_pull_through_failures_total', 'counter', 'Pulls that failed: upstream errors, deadlines, digest mismatches, an open breaker.', this.pullThrough.failures),
      ...metric('mirror_pull_through_busy_total', 'counter', 'Pulls refused with 503 because the fetch cap was reached.', this.pullThrough.busy),
      ...metric('mirror_pull_through_active', 'gauge', 'Pull-through fetches running now.', this.pullsActive()),
      ...metric('mirror_access_log_dropped_lines_total', 'counter', 'Access-log lines dropped because the log reader fell behind.', this.accessLogDropped()),
      ...metric('mirror_cask_files', 'gauge', 'Cask files the served generation names (issue #33).', casks.files),
      ...metric('mirror_cask_bytes', 'gauge', 'Bytes of the cask files the served generation names.', casks.bytes),
      '# HELP mirror_team_bytes_handed_out_total Blob bytes charged per team (token mode), by team name.',
      '# TYPE mirror_team_bytes_handed_out_total counter',
      // Team names are lower-case letters, digits and ._- (TEAM_NAME): safe inside a label as they are.
      ...[...this.teamBytes].map(([team, bytes]) => `mirror_team_bytes_handed_out_total{team="${team}"} ${bytes}`),
      '# HELP mirror_generation_age_seconds Age of the published generation being served.',
      '# TYPE mirror_generation_age_seconds gauge',
    );
    if (generationAgeSeconds !== undefined) lines.push(`mirror_generation_age_seconds ${generationAgeSeconds}`);
    return `${lines.join('\n')}\n`;
  }
}
