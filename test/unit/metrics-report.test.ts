import { emfSink } from '../../engine/metrics';
import { ServerMetrics } from '../../engine/serve/metrics';
import { MirrorMetricsReporter } from '../../engine/serve/metrics-report';

describe('mirror service figures for CloudWatch', () => {
  test('each report carries what was served since the last one, so CloudWatch can sum tasks', () => {
    const lines: Record<string, unknown>[] = [];
    const metrics = new ServerMetrics();
    const reporter = new MirrorMetricsReporter(metrics, emfSink('prod', { write: (l) => lines.push(JSON.parse(l)) }));
    metrics.observe('bottle', 200, 0.001, 1000);
    metrics.observe('bottle', 302, 0.001, 0);
    metrics.observe('api', 503, 0.001, 50);
    metrics.lookup(true);
    metrics.lookup(true);
    metrics.lookup(false);
    reporter.report();
    metrics.observe('api', 200, 0.001, 10);
    metrics.lookup(true);
    reporter.report();
    expect(lines.map(({ MirrorRequests, MirrorServerErrors, MirrorBytesServed, MirrorLookupHits, MirrorLookupMisses }) => ({ MirrorRequests, MirrorServerErrors, MirrorBytesServed, MirrorLookupHits, MirrorLookupMisses }))).toEqual([
      { MirrorRequests: 3, MirrorServerErrors: 1, MirrorBytesServed: 1050, MirrorLookupHits: 2, MirrorLookupMisses: 1 },
      { MirrorRequests: 1, MirrorServerErrors: 0, MirrorBytesServed: 10, MirrorLookupHits: 1, MirrorLookupMisses: 0 },
    ]);
    expect(lines[0]).toMatchObject({ Environment: 'prod', _aws: { CloudWatchMetrics: [{ Namespace: 'HomebrewMirror', Dimensions: [['Environment']] }] } });
  });

  test('stopping reports once more, so a task stopped by a deployment loses nothing', () => {
    const lines: string[] = [];
    const metrics = new ServerMetrics();
    const stop = new MirrorMetricsReporter(metrics, emfSink('dev', { write: (l) => lines.push(l) })).start(3_600_000);
    metrics.observe('bottle', 200, 0.001, 7);
    stop();
    expect(JSON.parse(lines[0])).toMatchObject({ MirrorRequests: 1, MirrorBytesServed: 7 });
  });

  test('token mode: each team that drew bytes since the last report gets a line with a Team dimension and its delta (the name, never a token)', () => {
    const lines: Record<string, unknown>[] = [];
    const metrics = new ServerMetrics();
    const reporter = new MirrorMetricsReporter(metrics, emfSink('prod', { write: (l) => lines.push(JSON.parse(l)) }));
    metrics.teamBytes.set('ios', 5000);
    metrics.teamBytes.set('web', 300);
    reporter.report();
    metrics.teamBytes.set('ios', 5600);
    reporter.report();
    const teamLines = lines.filter((l) => 'MirrorTeamBytes' in l).map(({ Team, MirrorTeamBytes }) => ({ Team, MirrorTeamBytes }));
    expect(teamLines).toEqual([
      { Team: 'ios', MirrorTeamBytes: 5000 },
      { Team: 'web', MirrorTeamBytes: 300 },
      { Team: 'ios', MirrorTeamBytes: 600 },
    ]);
    expect(lines.find((l) => 'MirrorTeamBytes' in l)).toMatchObject({ _aws: { CloudWatchMetrics: [{ Dimensions: [['Environment', 'Team']], Metrics: [{ Name: 'MirrorTeamBytes', Unit: 'Bytes' }] }] } });
  });
});
