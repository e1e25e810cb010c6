import { SyncProgress } from '../engine/sync/run-sync';

export const formatBytes = (n: number): string => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};

const duration = (seconds: number): string => `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;

/** One progress line for the run's phase; `rate` is bytes per second over the recent window. */
export function progressLine(p: SyncProgress, rate: number): string {
  if (p.phase === 'api') return 'verifying the signed API…';
  if (p.phase === 'manifests') return `image indexes ${p.done}/${p.total}`;
  const remaining = Math.max(0, p.bytesTotal - p.bytesDone);
  const eta = rate > 0 ? Math.round(remaining / rate) : undefined;
  return `bottles ${p.bottlesDone}/${p.bottlesTotal}  ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${formatBytes(rate)}/s  ETA ${eta === undefined ? '--' : duration(eta)}`;
}

/** A bundle's bytes (export or import) as the meter's transfer phase: done when every byte is through. */
export const bundleProgress = (bytesDone: number, bytesTotal: number): SyncProgress => ({ phase: 'transfer', bottlesDone: bytesDone >= bytesTotal ? 1 : 0, bottlesTotal: 1, bytesDone, bytesTotal });

export function bundleProgressLine(verb: string): (p: SyncProgress, rate: number) => string {
  return (p, rate) => {
    if (p.phase !== 'transfer') return progressLine(p, rate);
    const eta = rate > 0 ? Math.round(Math.max(0, p.bytesTotal - p.bytesDone) / rate) : undefined;
    return `${verb} ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${formatBytes(rate)}/s  ETA ${eta === undefined ? '--' : duration(eta)}`;
  };
}

/** How far back the rate looks: long enough to smooth bursts, short enough to follow a change. */
export const RATE_WINDOW_MS = 10_000;
/** Fastest redraw: bytes arrive per chunk, far more often than a terminal needs. */
export const REDRAW_MS = 200;

/**
 * Turns progress events into terminal lines: the rate (and so the ETA) comes
 * from the bytes of the last `RATE_WINDOW_MS`, not the average since start,
 * so a slow start or a stall shows at once; redraws are at most every
 * `REDRAW_MS`, except when the phase changes.
 */
export class ProgressMeter {
  private readonly samples: { at: number; bytes: number }[] = [];
  private lastDraw = -Infinity;
  private lastPhase?: SyncProgress['phase'];

  constructor(
    private readonly draw: (line: string) => void,
    private readonly now: () => number = Date.now,
    private readonly format: (p: SyncProgress, rate: number) => string = progressLine,
  ) {}

  update(p: SyncProgress): void {
    const at = this.now();
    if (p.phase === 'transfer') this.sample(at, p.bytesDone);
    const phaseChanged = p.phase !== this.lastPhase;
    const finished = p.phase === 'transfer' && p.bottlesDone === p.bottlesTotal;
    if (!phaseChanged && !finished && at - this.lastDraw < REDRAW_MS) return;
    this.lastPhase = p.phase;
    this.lastDraw = at;
    this.draw(this.format(p, this.rate()));
  }

  /** Bytes per second over the window. */
  rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const span = last.at - first.at;
    return span > 0 ? ((last.bytes - first.bytes) / span) * 1000 : 0;
  }

  private sample(at: number, bytes: number): void {
    this.samples.push({ at, bytes });
    // Keep one sample at or before the window's start, so the rate spans the whole window.
    while (this.samples.length > 2 && this.samples[1].at <= at - RATE_WINDOW_MS) this.samples.shift();
  }
}
