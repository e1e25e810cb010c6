import { MetricSink } from '../metrics';
import { METRICS } from '../runtime-config';
import { PublishedGeneration, StateStore } from '../ports';

/** Seconds since the mirror last matched upstream: the publish, or a later run that found upstream unchanged. */
export function generationAgeSeconds(generation: PublishedGeneration, now: Date): number {
  return Math.max(0, Math.round((now.getTime() - Date.parse(generation.verifiedAt ?? generation.publishedAt)) / 1000));
}

/**
 * Emits the published generation's age (the freshness alarm's metric). Runs
 * hourly, so between weekly syncs the alarm always has data; with nothing
 * published it emits nothing, and the alarm treats silence as stale.
 */
export async function reportFreshness(state: StateStore, metrics: MetricSink, now: Date = new Date()): Promise<number | undefined> {
  const published = await state.getPublished();
  if (!published) return undefined;
  const age = generationAgeSeconds(published, now);
  metrics.emit({ [METRICS.generationAge]: { value: age, unit: 'Seconds' } }, { generation: published.generation });
  return age;
}
