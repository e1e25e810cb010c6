import { SYNC_DEFAULTS } from '../defaults';
import { gitCli, checkGitRemote } from '../brew/git';
import { positiveIntegersFromEnv } from '../runtime-config';
import { runKeys } from '../store-layout';
import { mirrorTaps } from '../taps/mirror-taps';
import { loadTapRecord } from '../taps/tap-record';
import { PhaseDeps, RunManifest, TAP_UNIT } from './contracts';

/** Environment variables that override the tap phase's limits. */
export const TAP_LIMIT_ENV = {
  maxTapDownloadBytes: 'HBS_MAX_TAP_DOWNLOAD_BYTES',
  tapEvalSeconds: 'HBS_TAP_EVAL_SECONDS',
  tapEvalMemoryMb: 'HBS_TAP_EVAL_MEMORY_MB',
  tapGitTimeoutMs: 'HBS_TAP_GIT_TIMEOUT_MS',
} as const;

/** The tap phase's limits: each from its variable, else its default. */
export function tapLimits(env: Readonly<Record<string, string | undefined>> = process.env) {
  const fromEnv = positiveIntegersFromEnv(TAP_LIMIT_ENV, env);
  return {
    maxDownloadBytes: fromEnv.maxTapDownloadBytes ?? SYNC_DEFAULTS.maxTapDownloadBytes,
    evaluation: { timeoutMs: (fromEnv.tapEvalSeconds ?? SYNC_DEFAULTS.tapEvalSeconds) * 1000, memoryBytes: (fromEnv.tapEvalMemoryMb ?? SYNC_DEFAULTS.tapEvalMemoryMb) * 1024 * 1024 },
    gitTimeoutMs: fromEnv.tapGitTimeoutMs ?? SYNC_DEFAULTS.tapGitTimeoutMs,
  };
}

/**
 * The tap phase as one unit of a staged run (`RunManifest.taps`): mirrors the
 * selected taps on top of the published generation's copies and writes the
 * run's tap record into its staged generation, and its summary beside the
 * batches' results. It never fails the run: what cannot be mirrored is named.
 */
export async function runTapUnit(deps: PhaseDeps, runId: string, signal?: AbortSignal): Promise<void> {
  const body = await deps.objects.getObject(runKeys.summary(runId));
  const taps = body && (JSON.parse(body.toString('utf8')) as RunManifest).taps;
  if (!taps) throw new Error(`run ${runId} has no tap phase`);
  const published = (await deps.state.getPublished())?.generation;
  const previous = published ? await loadTapRecord(deps.objects, published) : undefined;
  const plainHttp = deps.brewPhase?.plainHttp ?? 'loopback';
  const summary = await mirrorTaps(
    { upstream: deps.upstream, blobs: deps.blobs, objects: deps.objects, log: deps.log, git: (remote) => deps.brewPhase?.git ?? gitCli(checkGitRemote(remote, plainHttp, 'tap')), workDir: deps.brewPhase?.workDir, signal },
    runId,
    { taps: taps.taps, publicUrl: taps.publicUrl, ...tapLimits() },
    previous,
  );
  await deps.objects.putObject(runKeys.result(runId, TAP_UNIT), Buffer.from(JSON.stringify(summary)));
}
