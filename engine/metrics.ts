import { METRICS_NAMESPACE } from './runtime-config';

/**
 * CloudWatch Embedded Metric Format: one JSON log line that CloudWatch Logs
 * turns into metrics, so Lambdas and tasks need no PutMetricData permission.
 * Every metric carries the `Environment` dimension the alarms filter on.
 */
export type MetricUnit = 'Count' | 'Bytes' | 'Milliseconds' | 'Seconds';

export interface MetricSink {
  /** `dimensions` adds property names (present in `properties`) to `Environment` as the metrics' dimensions. */
  emit(metrics: Record<string, { value: number; unit: MetricUnit }>, properties?: Record<string, unknown>, dimensions?: readonly string[]): void;
}

export interface EmfSinkOptions {
  /** CloudWatch namespace (the stack sets `HBS_METRICS_NAMESPACE`). Default: `HomebrewMirror`. */
  readonly namespace?: string;
  /** Where lines go. Default: stdout, which CloudWatch Logs reads. */
  readonly write?: (line: string) => void;
  readonly now?: () => number;
}

export function emfSink(environment: string, options: EmfSinkOptions = {}): MetricSink {
  const namespace = options.namespace ?? METRICS_NAMESPACE;
  const write = options.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  const now = options.now ?? Date.now;
  return {
    emit(metrics, properties = {}, dimensions = []) {
      const names = Object.keys(metrics);
      if (names.length === 0) return;
      write(
        JSON.stringify({
          _aws: {
            Timestamp: now(),
            CloudWatchMetrics: [
              { Namespace: namespace, Dimensions: [['Environment', ...dimensions]], Metrics: names.map((Name) => ({ Name, Unit: metrics[Name].unit })) },
            ],
          },
          Environment: environment,
          ...properties,
          ...Object.fromEntries(names.map((n) => [n, metrics[n].value])),
        }),
      );
    },
  };
}

/** For runtimes without CloudWatch (the CLI). */
export const noMetrics: MetricSink = { emit: () => undefined };
