import { SYNC_DEFAULTS } from '../defaults';
import { Logger } from '../logger';
import { BlobStore, ObjectStore } from '../ports';
import { brewRecordKey, installScriptKey } from '../store-layout';
import { Upstream } from '../upstream/client';
import { positiveIntegersFromEnv } from '../runtime-config';
import { BrewRecord, BrewRelease, UncoveredRuby, coveredReleases, loadBrewRecord, uncoveredRubies } from './brew-record';
import { BrewGitTransfer, mirrorBrewGit } from './brew-git';
import { GitRunner, checkGitRemote, gitCli } from './git';
import { fetchInstallScript } from './install-script';
import { pinnedRubies, storePinnedRubies } from './portable-ruby';

/**
 * brew itself, for machines whose only way out is the mirror (issue #22):
 * Homebrew/brew's repository, the portable Rubies its newest releases pin,
 * and the install script. Off unless given (`bottles sync` turns it on by
 * default; `--without-brew` leaves it out).
 */
export interface BrewMirrorOptions {
  /** Homebrew/brew's git URL. Default `SYNC_DEFAULTS.brewGitUrl`. */
  readonly gitUrl?: string;
  /** Registry root for portable Ruby. Default `SYNC_DEFAULTS.registryUrl`. */
  readonly registryUrl?: string;
  /** Default `SYNC_DEFAULTS.installScriptUrl`. */
  readonly installScriptUrl?: string;
  /** Newest release tags whose portable Rubies are mirrored. Default `SYNC_DEFAULTS.brewReleases`. */
  readonly releases?: number;
}

export interface BrewPhaseDeps {
  readonly upstream: Upstream;
  readonly blobs: BlobStore;
  readonly objects: ObjectStore;
  readonly log: Logger;
  /** The git CLI (default: the installed one, confined; see `git.ts`). */
  readonly git?: GitRunner;
  /** Plain http beyond loopback for the git remote (`--allow-http`). Default loopback only. */
  readonly plainHttp?: 'loopback' | 'any';
  /** Where the working repository is assembled. Default: the OS temp directory. */
  readonly workDir?: string;
  /** Each git command's deadline. Default `SYNC_DEFAULTS.brewGitTimeoutMs` (`HBS_BREW_GIT_TIMEOUT_MS`). */
  readonly gitTimeoutMs?: number;
  /** Largest install script. Default `SYNC_DEFAULTS.maxInstallScriptBytes` (`HBS_MAX_INSTALL_SCRIPT_BYTES`). */
  readonly maxInstallScriptBytes?: number;
  /** Ends the phase early (SIGTERM in the sync task): git is stopped, no record is written. */
  readonly signal?: AbortSignal;
}

/** Environment variables that override the brew phase's limits (the CLI and the sync task read them). */
export const BREW_LIMIT_ENV = {
  gitTimeoutMs: 'HBS_BREW_GIT_TIMEOUT_MS',
  maxInstallScriptBytes: 'HBS_MAX_INSTALL_SCRIPT_BYTES',
} as const;

/** What the brew phase did, for the run's summary. */
export interface BrewSummary {
  readonly head: string;
  /** The default branch, whose head is the last of `releases` when its pins are covered. */
  readonly branch: string;
  readonly tags: number;
  /** Releases (then the default branch, by name) with at least one platform's portable Ruby stored. */
  readonly releases: string[];
  /** Every release/platform pair that is not covered, and why. */
  readonly failures: readonly UncoveredRuby[];
  /** What this run downloaded and stored: brew.git's new packs (objects, bytes), portable Rubies the store lacked, install.sh. */
  readonly moved: {
    readonly brewGit: BrewGitTransfer;
    readonly rubies: { readonly count: number; readonly bytes: number };
    readonly installScript: { readonly bytes: number };
  };
}

/**
 * Mirrors brew.git (incrementally from the previous generation's packs),
 * then the portable Rubies of its newest releases, then the install script,
 * and writes the run's brew record into its staged generation. A failure of
 * brew.git or of the install script fails the run (nothing is published, the
 * last mirror stays); a pinned Ruby missing upstream fails its release only.
 */
export async function mirrorBrew(deps: BrewPhaseDeps, runId: string, options: BrewMirrorOptions, previousGeneration: string | undefined): Promise<BrewSummary> {
  const log = deps.log.child({ runId, phase: 'brew' });
  const fromEnv = positiveIntegersFromEnv(BREW_LIMIT_ENV, process.env);
  const remote = checkGitRemote(options.gitUrl ?? SYNC_DEFAULTS.brewGitUrl, deps.plainHttp ?? 'loopback');
  const previous = previousGeneration ? await loadBrewRecord(deps.objects, previousGeneration) : undefined;
  const repo = await mirrorBrewGit(
    { blobs: deps.blobs, git: deps.git ?? gitCli(remote), log, timeoutMs: deps.gitTimeoutMs ?? fromEnv.gitTimeoutMs ?? SYNC_DEFAULTS.brewGitTimeoutMs, workDir: deps.workDir, signal: deps.signal },
    remote,
    previous?.brewGit,
  );
  const stopIfInterrupted = () => {
    if (deps.signal?.aborted) throw new Error('brew phase interrupted');
  };
  try {
    const releases: BrewRelease[] = [];
    const rubiesFetched = { count: 0, bytes: 0 };
    const registryUrl = options.registryUrl ?? SYNC_DEFAULTS.registryUrl;
    const newest = (await repo.releaseTags()).slice(0, options.releases ?? SYNC_DEFAULTS.brewReleases).map((tag) => ({ tag, ref: `refs/tags/${tag}` }));
    // Then the default branch's head, one more "release": a client that ran a developer command follows it (#36 item 5).
    const branch = repo.record.defaultBranch;
    for (const release of [...newest, { tag: branch, ref: `refs/heads/${branch}`, head: true }]) {
      stopIfInterrupted();
      releases.push(await storePinnedRubies({ upstream: deps.upstream, blobs: deps.blobs, log }, registryUrl, await pinnedRubies(repo, release), rubiesFetched));
    }
    const script = await fetchInstallScript(deps.upstream, options.installScriptUrl ?? SYNC_DEFAULTS.installScriptUrl, deps.maxInstallScriptBytes ?? fromEnv.maxInstallScriptBytes ?? SYNC_DEFAULTS.maxInstallScriptBytes);
    await deps.objects.putObject(installScriptKey(runId), script.body);
    stopIfInterrupted();
    const record: BrewRecord = { brewGit: repo.record, releases, installScript: { sha256: script.sha256, size: script.body.length } };
    // Last: every pack and Ruby it names is stored by now.
    await deps.objects.putObject(brewRecordKey(runId), Buffer.from(JSON.stringify(record)));
    const failures = uncoveredRubies(record);
    log.info('brew mirrored', { head: repo.record.head, releases: coveredReleases(record), failures: failures.length });
    const moved = { brewGit: repo.transferred, rubies: rubiesFetched, installScript: { bytes: script.body.length } };
    log.info('brew moved', { packs: moved.brewGit.packs, objects: moved.brewGit.objects, packBytes: moved.brewGit.bytes, rubies: moved.rubies.count, rubyBytes: moved.rubies.bytes, installScriptBytes: moved.installScript.bytes });
    return { head: repo.record.head, branch, tags: repo.record.tags, releases: coveredReleases(record), failures, moved };
  } finally {
    await repo.dispose();
  }
}
