import { MetricSink } from '../metrics';
import { METRICS } from '../runtime-config';
import { MirrorTotals, ServerMetrics } from './metrics';

/** How often each mirror task reports its figures to CloudWatch (EMF on stdout). */
export const MIRROR_REPORT_INTERVAL_MS = 60_000;

/**
 * Reports what a mirror task served since its last report: requests, 5xx,
 * bytes and snapshot lookups (hit ratio = hits / (hits + misses), which the
 * dashboard computes across tasks). Deltas, so CloudWatch sums tasks.
 */
export class MirrorMetricsReporter {
  private last: MirrorTotals = { requests: 0, serverErrors: 0, bytesServed: 0, lookupHits: 0, lookupMisses: 0, connectionsRefused: 0, downloadsStalled: 0, accessLogDropped: 0 };

  private readonly lastTeamBytes = new Map<string, number>();

  constructor(
    private readonly metrics: ServerMetrics,
    private readonly sink: MetricSink,
  ) {}

  report(): void {
    const now = this.metrics.totals();
    const delta = (key: keyof MirrorTotals) => now[key] - this.last[key];
    this.sink.emit({
      [METRICS.mirrorRequests]: { value: delta('requests'), unit: 'Count' },
      [METRICS.mirrorServerErrors]: { value: delta('serverErrors'), unit: 'Count' },
      [METRICS.mirrorBytesServed]: { value: delta('bytesServed'), unit: 'Bytes' },
      [METRICS.mirrorLookupHits]: { value: delta('lookupHits'), unit: 'Count' },
      [METRICS.mirrorLookupMisses]: { value: delta('lookupMisses'), unit: 'Count' },
      [METRICS.mirrorConnectionsRefused]: { value: delta('connectionsRefused'), unit: 'Count' },
      [METRICS.mirrorDownloadsStalled]: { value: delta('downloadsStalled'), unit: 'Count' },
      [METRICS.mirrorAccessLogDropped]: { value: delta('accessLogDropped'), unit: 'Count' },
    });
    this.last = now;
    // One line per team that drew bytes since the last report (token mode): the team's name, never its token.
    for (const [team, bytes] of this.metrics.teamBytes) {
      const delta = bytes - (this.lastTeamBytes.get(team) ?? 0);
      if (delta > 0) this.sink.emit({ [METRICS.mirrorTeamBytes]: { value: delta, unit: 'Bytes' } }, { Team: team }, ['Team']);
      this.lastTeamBytes.set(team, bytes);
    }
  }

  /** Reports every `intervalMs` until the returned function is called (which reports once more). */
  start(intervalMs = MIRROR_REPORT_INTERVAL_MS): () => void {
    const timer = setInterval(() => this.report(), intervalMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      this.report();
    };
  }
}
