/**
 * Every default of the sync and the mirror, written down once. The engine
 * falls back to these, the CLI's help quotes them, the AWS runtime passes no
 * value of its own, and docs/configuration.md is checked against them
 * (test/unit/configuration-docs.test.ts); test/unit/defaults.test.ts fails if
 * one of these numbers is spelled anywhere else.
 */
export const SYNC_DEFAULTS = {
  /** Where the signed API comes from (`--api-url`). */
  apiUrl: 'https://formulae.brew.sh/api',
  /** Parallel bottle downloads within one process (`--concurrency`). */
  concurrency: 4,
  /** Parallel image-index downloads while planning, when no concurrency is given. */
  manifestConcurrency: 8,
  /** Parallel bottle downloads in the Fargate sync task (a whole vCPU and a network of its own). */
  largeSyncConcurrency: 16,
  /** A worker Lambda starts no new bottle with less than this left of its time; the rest go to a continuation. */
  workerReserveMs: 3 * 60 * 1000,
  /** Percentage of wanted bottles that may be permanently missing at publish (`--max-missing`). */
  maxMissingPercent: 1,
  /** Largest share of the published bottles a new API may drop and still be published (`--max-drop`). */
  maxDropPercent: 10,
  /** Where Homebrew/brew is mirrored from (`--brew-git-url`): served to clients as `<mirror>/brew.git`. */
  brewGitUrl: 'https://github.com/Homebrew/brew',
  /** The registry root portable Ruby comes from (`--registry-url`), with the anonymous token flow of bottles. */
  registryUrl: 'https://ghcr.io',
  /** Homebrew/install's script (`--install-script-url`), mirrored byte for byte. */
  installScriptUrl: 'https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh',
  /** Newest brew release tags whose pinned portable Rubies are mirrored (`--brew-releases`): a fleet updates over days. */
  brewReleases: 3,
  /** One git command against brew.git (ls-remote, fetch, fsck) is stopped after this long (`HBS_BREW_GIT_TIMEOUT_MS`). */
  brewGitTimeoutMs: 20 * 60 * 1000,
  /** Largest install script accepted (`HBS_MAX_INSTALL_SCRIPT_BYTES`); Homebrew's is about 35 KB. */
  maxInstallScriptBytes: 1024 * 1024,
  /** Largest cask file accepted (`HBS_MAX_CASK_BYTES`): some casks are several GB; a file is streamed, never held. */
  maxCaskBytes: 16 * 1024 * 1024 * 1024,
  /** Largest download a tap's formula or cask may name (`HBS_MAX_TAP_DOWNLOAD_BYTES`): as for casks, streamed, never held. */
  maxTapDownloadBytes: 16 * 1024 * 1024 * 1024,
  /** Most taps one sync mirrors (`HBS_MAX_TAPS`): each costs a Ruby evaluation (about 0.5 GB for seconds) and a repository. */
  maxTaps: 50,
  /** One Ruby evaluation of a tap (every file, every tag) is stopped after this long (`HBS_TAP_EVAL_SECONDS`). */
  tapEvalSeconds: 300,
  /** One Ruby evaluation is stopped past this resident memory (`HBS_TAP_EVAL_MEMORY_MB`); Ruby on WASI starts near 550 MB. */
  tapEvalMemoryMb: 1024,
  /** One git command against a tap's repository is stopped after this long (`HBS_TAP_GIT_TIMEOUT_MS`). */
  tapGitTimeoutMs: 10 * 60 * 1000,
} as const;

export const SERVE_DEFAULTS = {
  /** `bottles serve --host`. */
  host: '127.0.0.1',
  /** `bottles serve --port`; the container listens on the task's port. */
  port: 8080,
  /** How often a mirror looks for a newly published generation. */
  pollMs: 5000,
  /** Parallel HEADs when a mirror checks that a new generation's objects exist before it serves it. */
  completenessConcurrency: 16,
  /** Lifetime of a presigned bottle URL in redirect mode. */
  presignExpirySeconds: 300,
  /**
   * Bytes of blobs one client address may be handed per hour, redirected to or streamed
   * (`--byte-budget`, `HBS_BYTE_BUDGET_PER_HOUR`): all of it at once, then that much per hour.
   * 20 GiB is about $1.80 of S3 egress, and about 40 Macs' weekly `brew upgrade` behind one NAT.
   */
  byteBudgetPerHour: 20 * 1024 ** 3,
  /**
   * Pull-through fetches running at once (`--max-pulls`); one more gets 503 with
   * Retry-After, so a slow upstream holds at most this many fetches (and their sockets and buffers).
   */
  maxPulls: 8,
  /** Largest blob pull-through fetches (`--max-pull-bytes`); Homebrew's largest bottles are about 1 GB. */
  maxPullBytes: 4 * 1024 ** 3,
} as const;
