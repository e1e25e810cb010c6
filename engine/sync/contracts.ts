import { KeyObject } from 'crypto';
import { ErrorKind, MirrorError } from '../errors';
import { ALL_TAG, KNOWN_PLATFORM_TAGS } from '../homebrew/platform-tags';
import { Logger } from '../logger';
import { MetricSink } from '../metrics';
import { BlobStore, ObjectStore, OrphanMarker, PublishedGeneration, RunFailure, StateStore } from '../ports';
import { SyncPlan } from './plan';
import type { BrewMirrorOptions, BrewPhaseDeps, BrewSummary } from '../brew/mirror-brew';
import { TransferDeps } from './transfer';
import { Upstream } from '../upstream/client';
import type { WantedCaskFile } from '../casks/cask-selection';
import type { CaskFailure } from '../casks/cask-record';
import type { CaskSummary } from '../casks/mirror-casks';
import type { TapSource } from '../taps/tap-names';
import type { TapSummary } from '../taps/mirror-taps';
import type { NotServedEntry } from '../brewfile/not-served';
import type { FleetPolicy } from '../policy/fleet-policy';
import type { PolicyRefusal } from '../policy/apply-policy';

/**
 * What the phases of a sync run share: their options, dependencies, staged
 * records and results. The phases, each in its own file, are run by every
 * runtime:
 *
 *   verify   → fetch and verify every API file, derive the wanted bottles (verify.ts)
 *   prepare  → stage the API files, mirror manifests, plan, stage a run manifest (prepare.ts)
 *   dry run  → verify and plan exactly as prepare does, changing nothing (dry-run.ts)
 *   transfer → one batch of blobs; results go to the store (batch.ts)
 *   finalize → gather results, publish all-or-nothing, mark orphans, record the run (finalize.ts)
 *
 * `bottles sync` runs them in one process; the orchestrator Lambda prepares,
 * worker Lambdas (or the Fargate task) transfer, and whoever finishes last
 * finalizes. Everything a later phase needs lives in the object store under
 * `runs/<runId>/`, so only ids travel between processes.
 */

export const CORE_API_FILES = ['formula.jws.json', 'cask.jws.json', 'formula_tap_migrations.jws.json', 'cask_tap_migrations.jws.json'];
export const packagesFile = (tag: string): string => `internal/packages.${tag}.jws.json`;

/** A failure that ends the run before anything could be published. */
export class SyncAbortedError extends MirrorError {
  readonly kind = 'upstream-input';
}

export interface SyncOptions {
  /** Default `SYNC_DEFAULTS.apiUrl`. */
  readonly apiUrl?: string;
  /** Platform tags to mirror; undefined = every tag upstream has, `all` included. */
  readonly tags?: readonly string[];
  /** With `tags`: also mirror the `all` bottles those platforms fall back to. Default true. */
  readonly allFallback?: boolean;
  /**
   * A partial mirror: only these formulae and their runtime dependencies, per
   * tag, from the packages files. The API files are still mirrored whole.
   */
  readonly formulae?: readonly string[];
  readonly publicKey: KeyObject;
  /** Parallel downloads (manifests, and blobs within one process). Default `SYNC_DEFAULTS.concurrency`. */
  readonly concurrency?: number;
  /** Percentage of wanted bottles that may be permanently missing at publish. Default `SYNC_DEFAULTS.maxMissingPercent`. */
  readonly maxMissingPercent?: number;
  /**
   * Largest share of the published generation's bottles a new API may drop and still be published.
   * A correctly signed but wrong or empty file would otherwise wipe the mirror. Default `SYNC_DEFAULTS.maxDropPercent`; 100 forces.
   */
  readonly maxDropPercent?: number;
  /** Publish a packages file older than the published one's (a replay, unless intended). Default false. */
  readonly force?: boolean;
  /**
   * Also mirror brew itself: brew.git, the portable Rubies its newest releases pin, the install
   * script (`engine/brew/mirror-brew.ts`). Default: off in the engine; `bottles sync` turns it on.
   */
  readonly brew?: BrewMirrorOptions;
  /**
   * Casks to mirror (issue #33), with the casks and formulae they depend on, for
   * every mirrored tag. Default none: a whole cask mirror is many terabytes.
   */
  readonly casks?: readonly string[];
  /** `:no_check` casks the operator accepts unverified (`--allow-unpinned-casks`). Default none. */
  readonly allowUnpinnedCasks?: readonly string[];
  /**
   * Third-party taps to mirror (issue #34): each repository, rewritten to point
   * brew at the mirror for every download its formulae and casks name, which
   * the sync fetches and verifies. Needs `publicUrl`. Default none.
   */
  readonly taps?: readonly TapSource[];
  /** The mirror's URL as clients reach it: a rewritten tap names `<publicUrl>/dl/<host>/…`. */
  readonly publicUrl?: string;
  /** Brewfile entries the mirror cannot serve (`mas`, `vscode`, …): recorded with the generation for the page. */
  readonly notServed?: readonly NotServedEntry[];
  /** The fleet's policy (issue #35): what it forbids is not mirrored, and a selection that asks for it is told. */
  readonly policy?: FleetPolicy;
}


export interface PhaseDeps {
  readonly upstream: Upstream;
  readonly blobs: BlobStore & OrphanMarker;
  readonly objects: ObjectStore;
  readonly state: StateStore;
  readonly log: Logger;
  /** Run metrics (EMF in AWS); optional. */
  readonly metrics?: MetricSink;
  readonly now?: () => Date;
  /** Injected into transfers: the shared circuit breaker, and (in tests) shorter backoff. */
  readonly transfer?: Partial<Pick<TransferDeps, 'retry' | 'sleep' | 'random' | 'breaker' | 'onBytes'>>;
  /** Image indexes checked so far while planning (for a progress display). */
  readonly onManifest?: (done: number, total: number) => void;
  /** How the brew phase reaches git and where it works (`SyncOptions.brew`); defaults in `BrewPhaseDeps`. */
  readonly brewPhase?: Omit<BrewPhaseDeps, 'upstream' | 'blobs' | 'objects' | 'log'>;
}

/** What finalize needs to know about a run, staged by prepare. */
export interface RunManifest {
  readonly runId: string;
  readonly startedAt: string;
  readonly files: string[];
  /** sha256 of each staged API file, recorded with the generation on publish. */
  readonly fileDigests: Record<string, string>;
  /** Each packages file's `metadata.generated_at`, recorded with the generation on publish. */
  readonly packagesGeneratedAt: Record<string, number>;
  /** `scopeOf` the run's options, recorded with the generation on publish. */
  readonly scope: string;
  readonly maxMissingPercent: number;
  /** Bottles the new API names for the mirrored tags: the unit of `maxMissingPercent`. */
  readonly wantedBottles: number;
  readonly skipped: number;
  readonly planned: number;
  readonly orphans: string[];
  /** Wanted blobs already stored at planning time (their orphan mark, if any, is cleared on publish). */
  readonly storedWanted: string[];
  /** Bottles per blob, for failure reports: sha256 → [name, tag][] (only for blobs that can fail). */
  readonly bottlesByBlob: Record<string, [string, string][]>;
  /** Failures found while preparing (manifests). */
  readonly failures: RunFailure[];
  /** Batches the run was split into; a batch may add continuation batches. */
  readonly batchIds: string[];
  /**
   * The run also mirrors brew (`SyncOptions.brew`): one more unit of work
   * besides the batches, with its result under `BREW_UNIT`. In AWS it runs in
   * the Fargate task, the workload that has a git binary.
   */
  readonly brew?: BrewMirrorOptions;
  /** The run also mirrors casks: the files selected from the signed packages files, and the selection's gaps. */
  readonly casks?: { readonly files: WantedCaskFile[]; readonly failures: CaskFailure[]; readonly allowUnpinned: readonly string[] };
  /** What the selection asked for that the fleet's policy forbids. */
  readonly refusedByPolicy?: readonly PolicyRefusal[];
  /** The run also mirrors these taps, rewritten for this public URL (the tap phase, under `TAP_UNIT`). */
  readonly taps?: { readonly taps: readonly TapSource[]; readonly publicUrl: string };
}

/** The tap phase's result key in a run, beside the batches'. */
export const TAP_UNIT = 'taps';

/** The cask phase's result key in a run, beside the batches'. */
export const CASK_UNIT = 'casks';

/** The brew phase's result key in a run (`runKeys.result(runId, BREW_UNIT)`), beside the batches'. */
export const BREW_UNIT = 'brew';

/** What the brew phase reported: its summary, or why it failed (the run then publishes nothing). */
export type BrewUnitResult = { readonly brew: BrewSummary; readonly error?: undefined } | { readonly error: string; readonly brew?: undefined };

/** Units the run's countdown starts from: every batch, and the brew phase when the run has one. */
export function countdownUnits(manifest: RunManifest): number {
  return manifest.batchIds.length + (manifest.brew ? 1 : 0) + (manifest.casks ? 1 : 0) + (manifest.taps ? 1 : 0);
}

export interface BatchResult {
  readonly batchId: string;
  readonly transferred: number;
  readonly bytes: number;
  readonly failures: { sha256: string; reason: string; permanent: boolean }[];
  /** Batches this one handed its unfinished work to. */
  readonly continuations: string[];
}

export type PreparedRun =
  | { readonly manifest: RunManifest; readonly plan: SyncPlan; readonly unchanged?: undefined }
  /** Upstream is the published generation, byte for byte, and every bottle is stored: nothing was staged. */
  | { readonly unchanged: PublishedGeneration; readonly plan: SyncPlan; readonly manifest?: undefined };


/** What a run mirrors, besides the API: tags, `all` fallback, partial selection. A different scope is a different generation. */
export function scopeOf(options: SyncOptions): string {
  const scope: Record<string, unknown> = { tags: options.tags ? [...options.tags].sort() : null, allFallback: options.allFallback ?? true, formulae: options.formulae ? [...options.formulae].sort() : null };
  // Mirroring brew (or another brew) is another scope: a run that adds it is never "unchanged".
  if (options.brew) scope.brew = options.brew;
  if (options.casks) scope.casks = { casks: [...options.casks].sort(), allowUnpinned: [...(options.allowUnpinnedCasks ?? [])].sort() };
  // The rewritten taps name the public URL: another URL is another generation.
  // A policy that forbids more (or less) is another mirror: its bottles change.
  if (options.policy) scope.policy = options.policy;
  if (options.taps?.length) scope.taps = { taps: options.taps.map((t) => `${t.name}=${t.remote}`).sort(), publicUrl: options.publicUrl ?? null };
  return JSON.stringify(scope);
}

export interface SyncSummary {
  readonly runId: string;
  readonly published: boolean;
  readonly generation?: string;
  readonly bottles: { planned: number; transferred: number; skipped: number; failed: number };
  readonly bytes: { transferred: number };
  readonly failures: { name: string; tag: string; reason: string }[];
  /** Why nothing new was published (absent when published). */
  readonly error?: string;
  /** The kind of error that stopped the run (`engine/errors.ts`), when one did. */
  readonly errorKind?: ErrorKind;
  /** Stopped by a signal (Ctrl-C, SIGTERM). */
  readonly interrupted?: boolean;
  /** Upstream was unchanged and every bottle stored: `generation` is the one still served, and nothing was published. */
  readonly unchanged?: boolean;
  /** What the brew phase mirrored, when the run had one. */
  readonly brew?: BrewSummary;
  /** What the cask phase mirrored, and the casks it could not (they never hold back the generation). */
  readonly casks?: CaskSummary;
  /** What the tap phase mirrored, and the formulae, casks and taps it could not (they never hold back the generation). */
  readonly taps?: TapSummary;
  /** What the selection asked for that the fleet's policy forbids: not mirrored. */
  readonly refusedByPolicy?: readonly PolicyRefusal[];
}

/** A configured tag upstream has no packages file for. */
export class UnknownTagError extends MirrorError {
  readonly kind = 'usage';

  constructor(readonly tag: string) {
    super(`upstream has no packages file for platform tag ${JSON.stringify(tag)}; known tags: ${[...KNOWN_PLATFORM_TAGS, ALL_TAG].join(', ')}`);
  }
}

export function emptySummary(runId: string, error: string, errorKind?: ErrorKind): SyncSummary {
  return { runId, published: false, bottles: { planned: 0, transferred: 0, skipped: 0, failed: 0 }, bytes: { transferred: 0 }, failures: [], error, errorKind };
}
