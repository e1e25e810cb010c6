/** Prometheus text-format metrics of the mirror server (no client library needed for this handful). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private readonly histogram = new Map<string, { buckets: number[]; sum: number; count: number }>();
  private bytesServed = 0;
  private hits = 0;
  private misses = 0;

  observe(route: string, status: number, seconds: number, bytes: number): void {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const h = this.histogram.get(route) ?? { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
    BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.buckets[i]++;
    });
    h.sum += seconds;
    h.count++;
    this.histogram.set(route, h);
    this.bytesServed += bytes;
  }

  /** A lookup of a bottle, manifest or API file in the in-memory generation snapshot. */
  lookup(hit: boolean): void {
    if (hit) this.hits++;
    else this.misses++;
  }

  render(generationAgeSeconds: number | undefined): string {
    const lines = [
      '# HELP mirror_requests_total HTTP requests by route and status.',
      '# TYPE mirror_requests_total counter',
      ...[...this.requests].map(([labels, n]) => `mirror_requests_total{${labels}} ${n}`),
      '# HELP mirror_request_duration_seconds Request latency.',
      '# TYPE mirror_request_duration_seconds histogram',
    ];
    for (const [route, h] of this.histogram) {
      BUCKETS.forEach((le, i) => lines.push(`mirror_request_duration_seconds_bucket{route="${route}",le="${le}"} ${h.buckets[i]}`));
      lines.push(`mirror_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${h.count}`);
      lines.push(`mirror_request_duration_seconds_sum{route="${route}"} ${h.sum}`);
      lines.push(`mirror_request_duration_seconds_count{route="${route}"} ${h.count}`);
    }
    const total = this.hits + this.misses;
    lines.push(
      '# HELP mirror_bytes_served_total Response body bytes sent.',
      '# TYPE mirror_bytes_served_total counter',
      `mirror_bytes_served_total ${this.bytesServed}`,
      '# HELP mirror_lookup_hit_ratio Share of lookups the published generation could answer.',
      '# TYPE mirror_lookup_hit_ratio gauge',
      `mirror_lookup_hit_ratio ${total === 0 ? 1 : this.hits / total}`,
      '# HELP mirror_generation_age_seconds Age of the published generation being served.',
      '# TYPE mirror_generation_age_seconds gauge',
    );
    if (generationAgeSeconds !== undefined) lines.push(`mirror_generation_age_seconds ${generationAgeSeconds}`);
    return `${lines.join('\n')}\n`;
  }
}
