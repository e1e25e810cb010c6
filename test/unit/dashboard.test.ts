import * as fs from 'fs';
import * as path from 'path';
import { loadEnvironmentConfig } from '../../config/load-environment';
import { DASHBOARD_RANGES } from '../../constructs/monitoring/dashboard';
import { synthAll } from '../synth';

/* eslint-disable @typescript-eslint/no-explicit-any */
const stacks = synthAll() as Record<'dev' | 'staging' | 'prod', any>;
const widgets = (env: 'dev' | 'staging' | 'prod'): any[] => JSON.parse(stacks[env].resource.aws_cloudwatch_dashboard.monitoring_dashboard.dashboard_body).widgets;
const graph = (env: 'dev' | 'staging' | 'prod', title: string) => widgets(env).find((w) => w.properties.title === title);
/** `namespace/metric[/stat]` of every graphed metric. */
const metricSet = (env: 'dev' | 'staging' | 'prod') =>
  new Set(widgets(env).flatMap((w) => (w.properties.metrics ?? []).filter((m: any[]) => typeof m[0] === 'string').map((m: any[]) => `${m[0]}/${m[1]}`)));

describe('the on-call dashboard', () => {
  test.each(['dev', 'staging', 'prod'] as const)('%s graphs the sync, serving and data metrics the production description asks for', (env) => {
    const metrics = metricSet(env);
    for (const expected of [
      // sync: per run (EMF), Lambda orchestrator and workers, Fargate sync tasks, dead letters
      'HomebrewMirror/BottlesTransferred', 'HomebrewMirror/BottlesFailed', 'HomebrewMirror/BytesTransferred', 'HomebrewMirror/SyncDurationMs',
      'HomebrewMirror/SyncSucceeded', 'HomebrewMirror/SyncFailed', 'HomebrewMirror/PublishedGenerationAgeSeconds',
      'AWS/Lambda/Invocations', 'AWS/Lambda/Errors', 'AWS/Lambda/Duration', 'AWS/Lambda/Throttles', 'AWS/Lambda/ConcurrentExecutions',
      'ECS/ContainerInsights/RunningTaskCount', 'AWS/SQS/ApproximateNumberOfMessagesVisible',
      // serving: ALB, mirror tasks, WAF
      'AWS/ApplicationELB/RequestCount', 'AWS/ApplicationELB/HTTPCode_Target_4XX_Count', 'AWS/ApplicationELB/HTTPCode_Target_5XX_Count',
      'AWS/ApplicationELB/HTTPCode_ELB_5XX_Count', 'AWS/ApplicationELB/TargetResponseTime', 'AWS/ApplicationELB/HealthyHostCount',
      'AWS/ECS/CPUUtilization', 'AWS/ECS/MemoryUtilization', 'AWS/WAFV2/BlockedRequests',
      // the mirror service's own figures (EMF, every minute per task)
      'HomebrewMirror/MirrorRequests', 'HomebrewMirror/MirrorServerErrors', 'HomebrewMirror/MirrorBytesServed', 'HomebrewMirror/MirrorLookupHits', 'HomebrewMirror/MirrorLookupMisses',
      // data: S3 storage, table, cache
      'AWS/S3/BucketSizeBytes', 'AWS/S3/NumberOfObjects', 'AWS/DynamoDB/ReadThrottleEvents', 'AWS/DynamoDB/WriteThrottleEvents',
      'AWS/DynamoDB/ReplicationLatency', 'AWS/ElastiCache/EngineCPUUtilization', 'AWS/ElastiCache/DatabaseMemoryUsagePercentage',
      'AWS/ElastiCache/Evictions', 'AWS/ElastiCache/ReplicationLag',
    ]) {
      expect(metrics).toContain(expected);
    }
    const latency = graph(env, 'Latency (s)').properties.metrics.map((m: any[]) => m[m.length - 1].stat);
    expect(latency).toEqual(['p50', 'p99']);
  });

  test('time ranges fit the metric: the weekly sync over 14 days, serving over 3 hours, storage over 30 days', () => {
    expect(DASHBOARD_RANGES).toEqual({ health: '-P14D', sync: '-P14D', serving: '-PT3H', data: '-P30D' });
    expect(graph('prod', 'Sync: bytes per run').properties).toMatchObject({ start: '-P14D', period: 86400 });
    expect(graph('prod', 'Workers').properties.start).toBe('-P14D');
    expect(graph('prod', 'Requests, 4xx and 5xx').properties).toMatchObject({ start: '-PT3H', period: 60 });
    expect(graph('prod', 'Bottle store size (bytes)').properties).toMatchObject({ start: '-P30D', period: 86400 });
  });

  test('the lookup hit ratio is computed across tasks from hits and misses', () => {
    const ratio = graph('prod', 'Mirror service: lookup hit ratio (%)').properties.metrics.at(-1)[0];
    expect(ratio).toEqual({ expression: 'IF(hits + misses > 0, 100 * hits / (hits + misses), 100)', label: 'hit ratio (%)', id: 'ratio' });
  });

  test('each alarm’s threshold is drawn on its graph', () => {
    const config = loadEnvironmentConfig('prod', {});
    const line = (title: string) => graph('prod', title).properties.annotations.horizontal[0];
    expect(line('Orchestrator')).toEqual({ value: config.alarms.orchestratorErrors, label: 'prod-brew-orchestrator-errors threshold' });
    expect(line('Orchestrator duration (ms)').value).toBe(config.alarms.orchestratorDurationMs);
    expect(line('Latency (s)').value).toBe(config.alarms.albP99LatencySeconds);
    expect(line('Cache: engine CPU (%)').value).toBe(config.alarms.redisCpuPercent);
    expect(line('Published generation age (days)').value).toBe(config.alarms.freshnessMaxAgeSeconds / 86400);
  });

  test('health at a glance first: a text widget linking the runbooks with the environment’s settings, then alarm status and freshness', () => {
    const [text, status, freshness] = widgets('dev');
    expect(text.type).toBe('text');
    expect(text.properties.markdown).toMatch(/\[Runbooks\]\(docs\/operations\.md#runbooks\)/);
    expect(text.properties.markdown).toMatch(/mirror tasks 2-2 \(0\.25 vCPU \/ 512 MiB, Fargate Spot\); cache 2 × cache\.t4g\.small/);
    expect(status).toMatchObject({ type: 'alarm', y: text.height });
    expect(status.properties.alarms.length).toBeGreaterThanOrEqual(19);
    expect(freshness.properties.title).toBe('Published generation age (days)');
  });

  test('every alarm names a runbook page and a section of it that exist', () => {
    // The link is followed: the page must exist and hold a heading whose anchor is the section.
    const sectionsOf = (page: string) => {
      const text = fs.readFileSync(path.resolve(__dirname, '../..', page), 'utf8');
      return new Set([...text.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    };
    // Every stack's alarms: the environments' and the standby's.
    const alarms = Object.values(stacks).flatMap((json: any) => Object.values(json.resource.aws_cloudwatch_metric_alarm)) as any[];
    expect(alarms.map((a) => a.alarm_name)).toContain('prod-brew-standby-serving-clients');
    for (const alarm of alarms) {
      const [, page, section] = /Runbook: ([\w/.-]+\.md)#([a-z0-9-]+)$/.exec(alarm.alarm_description) ?? [];
      expect([alarm.alarm_name, page, page !== undefined && sectionsOf(page).has(section)]).toEqual([alarm.alarm_name, 'docs/operations.md', true]);
    }
  });
});

describe('auto-shutdown outside prod', () => {
  test('dev scales the mirror to zero after 19:00 and back to its minimum at 07:00 UTC on weekdays; the sync is untouched', () => {
    const actions = stacks.dev.resource.aws_appautoscaling_scheduled_action;
    expect(actions.mirror_service_end_of_day).toMatchObject({ schedule: 'cron(0 19 ? * MON-FRI *)', timezone: 'UTC', scalable_target_action: { min_capacity: '0', max_capacity: '0' } });
    expect(actions.mirror_service_start_of_day).toMatchObject({ schedule: 'cron(0 7 ? * MON-FRI *)', timezone: 'UTC', scalable_target_action: { min_capacity: '2', max_capacity: '2' } });
    expect(actions.mirror_service_end_of_day.resource_id).toBe('${aws_appautoscaling_target.mirror_service_scaling.resource_id}');
    expect(stacks.dev.resource.aws_cloudwatch_event_rule.schedule_rule.schedule_expression).toBe('cron(0 3 ? * SUN *)');
  });

  test('staging only when configured; prod never, and its configuration refuses it', () => {
    expect(stacks.staging.resource.aws_appautoscaling_scheduled_action).toBeUndefined();
    expect(stacks.prod.resource.aws_appautoscaling_scheduled_action).toBeUndefined();
    expect(loadEnvironmentConfig('staging', { HBS_STAGING_WORKING_HOURS: 'MON-FRI 08-18 Europe/Berlin' }).workingHours).toEqual({ days: 'MON-FRI', startHour: 8, endHour: 18, timezone: 'Europe/Berlin' });
    expect(loadEnvironmentConfig('dev', { HBS_DEV_WORKING_HOURS: 'off' }).workingHours).toBeUndefined();
    expect(() => loadEnvironmentConfig('prod', { HBS_PROD_WORKING_HOURS: 'MON-FRI 07-19 UTC' })).toThrow(/HBS_PROD_WORKING_HOURS: prod never shuts down/);
    expect(() => loadEnvironmentConfig('dev', { HBS_DEV_WORKING_HOURS: '9 to 5' })).toThrow(/must be "off" or "DAYS START-END TIMEZONE"/);
  });
});
