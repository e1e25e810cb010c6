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

/** One progress line: bottles, bytes, rate and ETA. */
export function progressLine(p: SyncProgress, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (p.bytesDone / elapsedMs) * 1000 : 0;
  const remaining = Math.max(0, p.bytesTotal - p.bytesDone);
  const eta = rate > 0 ? Math.round(remaining / rate) : undefined;
  const etaText = eta === undefined ? '--' : `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`;
  return `bottles ${p.bottlesDone}/${p.bottlesTotal}  ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${formatBytes(rate)}/s  ETA ${etaText}`;
}
