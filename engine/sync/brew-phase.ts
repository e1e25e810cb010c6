import { mirrorBrew } from '../brew/mirror-brew';
import { errorKind } from '../errors';
import { runKeys } from '../store-layout';
import { BREW_UNIT, BrewUnitResult, PhaseDeps } from './contracts';

export interface BrewUnitOptions {
  /**
   * `throw` (the local sync): a failure stops the run with its own error and
   * exit code. `record` (the AWS task): a failure becomes the unit's result,
   * so the run finalizes at once, publishes nothing and names the reason,
   * instead of waiting for its lease to lapse.
   */
  readonly onFailure: 'throw' | 'record';
  /** Stops git and the downloads; an interrupted phase records nothing (a successor runs it again). */
  readonly signal?: AbortSignal;
}

/**
 * The brew phase as one unit of a staged run (`RunManifest.brew`): mirrors
 * brew on top of the published generation's brew.git and writes its result
 * beside the batches' results, where finalize reads it.
 */
export async function runBrewUnit(deps: PhaseDeps, runId: string, options: BrewUnitOptions): Promise<BrewUnitResult> {
  const manifest = await deps.objects.getObject(runKeys.summary(runId));
  const brewOptions = manifest && (JSON.parse(manifest.toString('utf8')) as { brew?: object }).brew;
  if (!brewOptions) throw new Error(`run ${runId} has no brew phase`);
  let result: BrewUnitResult;
  try {
    const previous = (await deps.state.getPublished())?.generation;
    result = { brew: await mirrorBrew({ ...deps, ...deps.brewPhase, signal: options.signal }, runId, brewOptions, previous) };
  } catch (error) {
    if (options.signal?.aborted || options.onFailure === 'throw') throw error;
    deps.log.child({ runId, phase: 'brew' }).error('brew phase failed; the run will publish nothing', { error: (error as Error).message, kind: errorKind(error) });
    result = { error: (error as Error).message };
  }
  await deps.objects.putObject(runKeys.result(runId, BREW_UNIT), Buffer.from(JSON.stringify(result)));
  return result;
}
