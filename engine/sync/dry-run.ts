import { ObjectStore } from '../ports';
import { CaskPlanRow, planCasks } from '../casks/cask-plan';
import { CaskFailure } from '../casks/cask-record';
import { TapPlanRow, planTaps } from '../taps/tap-plan';
import { selectionUnderPolicy } from '../policy/apply-policy';
import { loadTapRecord } from '../taps/tap-record';
import { checkGitRemote, gitCli } from '../brew/git';
import { tapLimits } from './tap-phase';
import { PhaseDeps, SyncOptions } from './contracts';
import { planAgainstStore } from './prepare';
import { DEFAULT_ROUTING, Route, RoutingLimits, routePlan } from './route';
import { skippedFailures, verifyApi } from './verify';

/** What a run would do, per platform tag and in total. */
export interface DryRunReport {
  readonly apiFiles: string[];
  readonly tags: { tag: string; bottles: number; toTransfer: number; bytes: number; unknownSizes: number }[];
  readonly total: { bottles: number; blobs: number; alreadyStored: number; toTransfer: number; bytes: number; unknownSizes: number; orphans: number };
  /** Where the AWS deployment would run it, at the given routing limits. */
  readonly route: { kind: Route['kind']; batches?: number; reason?: string };
  readonly failures: { name: string; tag: string; reason: string }[];
  /** With `--casks`: cask files per tag, what is stored, what would be downloaded, and what would be refused. */
  readonly casks?: { readonly tags: CaskPlanRow[]; readonly failures: CaskFailure[] };
  /** With taps: per tap, the files evaluated, the downloads they name, what is stored and what would be fetched; what would not be mirrored. */
  readonly taps?: { readonly taps: TapPlanRow[]; readonly failures: { readonly name: string; readonly reason: string }[] };
}

/**
 * A dry run: verifies the API and plans exactly as a run would, changing
 * nothing (no lease, no staged files; image indexes are read, never stored).
 */
export async function planRun(deps: PhaseDeps, requested: SyncOptions, limits: RoutingLimits = DEFAULT_ROUTING): Promise<DryRunReport> {
  const log = deps.log.child({ dryRun: true });
  const { options } = selectionUnderPolicy(requested);
  // A dry run stages nothing, so the verified bytes are not kept.
  const { apiFiles, wanted, skipped, casks } = await verifyApi(deps, options, log, false);
  const apiFileNames = [...apiFiles.keys()].sort();
  const { plan, stored, sizes, failures } = await planAgainstStore(deps, wanted, readOnlyOverlay(deps.objects), options.concurrency);
  failures.push(...skippedFailures(skipped));
  const byTag = new Map<string, { tag: string; bottles: number; toTransfer: number; bytes: number; unknownSizes: number }>();
  for (const b of wanted) {
    const row = byTag.get(b.tag) ?? { tag: b.tag, bottles: 0, toTransfer: 0, bytes: 0, unknownSizes: 0 };
    row.bottles++;
    if (!stored.has(b.sha256)) {
      row.toTransfer++;
      const size = sizes.get(b.sha256);
      if (size === undefined) row.unknownSizes++;
      else row.bytes += size;
    }
    byTag.set(b.tag, row);
  }
  const route = routePlan(plan, limits);
  const caskPlan = casks && (await planCasks(deps, casks.files, options.allowUnpinnedCasks ?? []));
  const tapPlan = options.taps?.length ? await planTapsOf(deps, options) : undefined;
  return {
    apiFiles: apiFileNames,
    tags: [...byTag.values()].sort((a, b) => (a.tag < b.tag ? -1 : 1)),
    total: {
      bottles: wanted.length,
      blobs: plan.wantedBlobs,
      alreadyStored: plan.skipped,
      toTransfer: plan.transfers.length,
      bytes: plan.bytesToTransfer,
      unknownSizes: plan.unknownSizes,
      orphans: plan.orphans.length,
    },
    route: route.kind === 'lambda' ? { kind: 'lambda', batches: route.batches.length } : route.kind === 'fargate' ? { kind: 'fargate', reason: route.reason } : { kind: 'nothing' },
    failures: failures.map(({ name, tag, reason }) => ({ name, tag, reason })),
    ...(caskPlan && casks ? { casks: { tags: caskPlan.tags, failures: [...casks.failures, ...caskPlan.failures] } } : {}),
    ...(tapPlan ? { taps: tapPlan } : {}),
  };
}

/** The taps' plan on top of the published generation's copies, with the tap phase's limits and git confinement. */
async function planTapsOf(deps: PhaseDeps, options: SyncOptions) {
  const published = (await deps.state.getPublished())?.generation;
  const plainHttp = deps.brewPhase?.plainHttp ?? 'loopback';
  const git = (remote: string) => deps.brewPhase?.git ?? gitCli(checkGitRemote(remote, plainHttp, 'tap'));
  return planTaps({ ...deps, git }, options.taps!, published ? await loadTapRecord(deps.objects, published) : undefined, tapLimits());
}

/** Reads from `objects` and drops writes: what a dry run fetches is never stored (nor kept: only sizes are needed). */
function readOnlyOverlay(objects: ObjectStore): ObjectStore {
  return {
    getObject: (key) => objects.getObject(key),
    readObject: (key) => objects.readObject(key),
    hasObject: (key) => objects.hasObject(key),
    putObject: async () => undefined,
  };
}
