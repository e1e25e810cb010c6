import { Construct } from 'constructs';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard';
import { AddressGroup } from '../address-group';
import { ctx } from '../environment-context';

/** One metric line of a graph: namespace, name, dimension pairs, then its options. */
export type Metric = (string | Record<string, unknown>)[];
export type Widget = Record<string, unknown>;

/**
 * How the dashboards lay out their widgets: rows filled left to right, graphs
 * in the stack's region with thresholds drawn on them. The on-call dashboard
 * and the standby's share it.
 */
export abstract class DashboardLayout extends AddressGroup {
  /** Every metric graphed, as `namespace/metric`, for tests and the docs. */
  public readonly metrics: string[] = [];
  protected readonly region: string;
  private y = 0;
  private readonly widgets: Widget[] = [];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.region = ctx(this).region;
  }

  /** The dashboard with every row added so far. */
  protected publish(dashboardName: string): CloudwatchDashboard {
    return new CloudwatchDashboard(this, 'dashboard', { dashboardName, dashboardBody: JSON.stringify({ widgets: this.widgets }) });
  }

  protected graph(title: string, metrics: Metric[], start: string, options: { width?: number; period?: number; horizontal?: { value: unknown; label: string }[] } = {}): Widget {
    for (const m of metrics) if (typeof m[0] === 'string') this.metrics.push(`${m[0]}/${m[1]}`);
    return {
      type: 'metric',
      width: options.width ?? 8,
      height: 6,
      properties: {
        title,
        region: this.region,
        view: 'timeSeries',
        stacked: false,
        metrics,
        start,
        period: options.period ?? 300,
        ...(options.horizontal?.length ? { annotations: { horizontal: options.horizontal } } : {}),
      },
    };
  }

  protected text(markdown: string): void {
    this.row([{ type: 'text', width: 24, height: 4, properties: { markdown } }]);
  }

  /** Lays widgets out left to right in one row. */
  protected row(widgets: Widget[]): void {
    let x = 0;
    for (const widget of widgets) {
      this.widgets.push({ ...widget, x, y: this.y });
      x += widget.width as number;
    }
    this.y += Math.max(...widgets.map((w) => w.height as number));
  }
}
