import { advertisedRefs } from '../brew/brew-changes';
import { ObjectStore } from '../ports';
import { Upstream } from '../upstream/client';
import { TapSource } from './tap-names';
import { loadTapRecord } from './tap-record';

/**
 * Why the selected taps are no longer what a published generation serves, or
 * undefined when they are: a tap not mirrored then, one that failed as a
 * whole, or an upstream default branch that moved. It reads each tap's refs
 * with one GET of git's ref advertisement, as brew.git's check does, so it
 * runs where git does not (the orchestrator Lambda). A vendor that failed one
 * download is tried again when the tap or the API next changes.
 */
export async function tapChangeSince(upstream: Upstream, taps: readonly TapSource[], generation: string, objects: ObjectStore): Promise<string | undefined> {
  const record = await loadTapRecord(objects, generation);
  if (!record) return 'the published generation has no taps';
  for (const tap of taps) {
    const mirrored = record.taps.find((t) => t.name === tap.name);
    if (!mirrored) return `tap ${tap.name} is not mirrored yet`;
    if (record.failures.some((f) => f.tap === tap.name)) return `tap ${tap.name} failed last time; trying again`;
    const advertised = await advertisedRefs(upstream, tap.remote).catch(() => undefined);
    // A remote that does not answer now is tried by the tap phase, which keeps last week's copy if it fails.
    if (!advertised) return `tap ${tap.name}'s refs could not be read`;
    if (advertised.refs.get(`refs/heads/${advertised.defaultBranch}`) !== mirrored.git.upstreamHead) return `tap ${tap.name} moved upstream`;
  }
  return undefined;
}
