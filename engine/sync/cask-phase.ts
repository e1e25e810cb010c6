import { SYNC_DEFAULTS } from '../defaults';
import { mirrorCasks } from '../casks/mirror-casks';
import { positiveIntegersFromEnv } from '../runtime-config';
import { runKeys } from '../store-layout';
import { CASK_UNIT, PhaseDeps, RunManifest } from './contracts';

/** Environment variables that override the cask phase's limits. */
export const CASK_LIMIT_ENV = { maxCaskBytes: 'HBS_MAX_CASK_BYTES' } as const;

/**
 * The cask phase as one unit of a staged run (`RunManifest.casks`): mirrors
 * the selected cask files and writes the run's cask record into its staged
 * generation, and its summary beside the batches' results, where finalize
 * reads it. It never fails the run: a cask that cannot be mirrored is named.
 */
export async function runCaskUnit(deps: PhaseDeps, runId: string, signal?: AbortSignal): Promise<void> {
  const body = await deps.objects.getObject(runKeys.summary(runId));
  const casks = body && (JSON.parse(body.toString('utf8')) as RunManifest).casks;
  if (!casks) throw new Error(`run ${runId} has no cask phase`);
  const maxBytes = positiveIntegersFromEnv(CASK_LIMIT_ENV, process.env).maxCaskBytes ?? SYNC_DEFAULTS.maxCaskBytes;
  const summary = await mirrorCasks({ ...deps, signal }, runId, casks.files, [...casks.failures], { allowUnpinned: casks.allowUnpinned, maxBytes });
  await deps.objects.putObject(runKeys.result(runId, CASK_UNIT), Buffer.from(JSON.stringify(summary)));
}
