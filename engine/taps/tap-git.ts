import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { redactUrl } from '../upstream/client';
import { BrewGitDeps } from '../brew/brew-git';
import { GitTransfer, remoteDefaultBranch, restorePacks, storePacks } from '../brew/git-packs';
import { TapGitRecord } from './tap-record';

/** The same as brew.git's: the store, the confined git runner, a deadline per command, a work directory, the stop signal. */
export type TapGitDeps = BrewGitDeps;

/** Upstream's refs are kept under this prefix, for the next week's fetch to negotiate from; clients never see them. */
const UPSTREAM_REFS = 'refs/upstream/';

/** Who writes the rewritten commits (never a person: the mirror). */
const MIRROR_IDENTITY = ['-c', 'user.name=homebrew-bottles-sync', '-c', 'user.email=mirror@homebrew-bottles-sync.invalid'];

/** A tap's repository while the tap phase works on it; `dispose` removes it. */
export interface TapRepository {
  /** The branch clients follow (upstream's default branch at the first mirror, kept after). */
  readonly branch: string;
  /** Upstream's default branch commit this week. */
  readonly upstreamHead: string;
  /** The previous rewritten head, when a generation had one. */
  readonly previousHead?: string;
  /** Writes upstream's tree at its head into `dir` (an empty directory). */
  checkoutUpstream(dir: string): Promise<void>;
  /**
   * Records `dir` (the rewritten tree) as a new commit on top of the previous
   * rewritten head, unless its tree is the same; then stores the packs the
   * store lacks and returns the record clients are served from.
   */
  publish(dir: string): Promise<{ record: TapGitRecord; transferred: GitTransfer }>;
  dispose(): Promise<void>;
}

/**
 * Fetches a tap's branches and tags on top of the previous generation's packs
 * (so only the week's objects cross the network, as for brew.git), into a
 * working repository that also holds the rewritten history.
 */
export async function openTapRepository(deps: TapGitDeps, name: string, remote: string, previous?: TapGitRecord): Promise<TapRepository> {
  const dir = await fs.mkdtemp(path.join(deps.workDir ?? os.tmpdir(), 'tap-git-'));
  const git = (args: string[], input?: string) => deps.git(args, { cwd: dir, input, timeoutMs: deps.timeoutMs, signal: deps.signal });
  const log = deps.log.child({ tap: name, remote: redactUrl(remote) });
  try {
    await git(['init', '--bare', '--quiet', '.']);
    if (previous) await restorePacks(deps.blobs, dir, git, { packs: previous.packs, files: { 'info/refs': previous.files['info/refs'] + previous.upstreamRefs } }, log);
    const upstreamBranch = await remoteDefaultBranch(git, remote, `tap ${name}`);
    await git(['fetch', '--quiet', '--force', '--prune', '--no-tags', '--no-write-fetch-head', remote, `+refs/heads/*:${UPSTREAM_REFS}heads/*`, `+refs/tags/*:${UPSTREAM_REFS}tags/*`]);
    const branch = previous?.branch ?? upstreamBranch;
    const upstreamHead = (await git(['rev-parse', '--verify', `${UPSTREAM_REFS}heads/${upstreamBranch}^{commit}`])).trim();
    const previousHead = previous?.head;
    return {
      branch,
      upstreamHead,
      previousHead,
      checkoutUpstream: async (target) => {
        await git(['--work-tree', target, 'read-tree', upstreamHead]);
        await git(['--work-tree', target, 'checkout-index', '--all', '--force']);
      },
      publish: async (tree) => {
        await git(['--work-tree', tree, 'add', '--all', '--force', '.']);
        const treeId = (await git(['write-tree'])).trim();
        const unchanged = previousHead !== undefined && (await git(['rev-parse', `${previousHead}^{tree}`])).trim() === treeId;
        const head = unchanged
          ? previousHead
          : (await git([...MIRROR_IDENTITY, 'commit-tree', treeId, ...(previousHead ? ['-p', previousHead] : []), '-m', `Mirror of ${name} at ${upstreamHead}`])).trim();
        await git(['update-ref', `refs/heads/${branch}`, head]);
        await git(['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
        // The rewritten objects are loose: one more pack, as every fetch is.
        if (/^count: [1-9]/m.test(await git(['count-objects', '-v']))) await git(['repack', '--quiet']);
        await git(['prune-packed']);
        await git(['fsck', '--connectivity-only', '--no-dangling', '--no-progress']);
        await git(['update-server-info']);
        const { packs, transferred } = await storePacks(deps.blobs, dir, previous?.packs ?? {});
        const upstreamRefs = await git(['for-each-ref', '--format=%(objectname)%09%(refname)', UPSTREAM_REFS]);
        const record: TapGitRecord = {
          remote: redactUrl(remote),
          branch,
          head,
          upstreamHead,
          files: {
            HEAD: `ref: refs/heads/${branch}\n`,
            // Clients see the rewritten branch only; upstream's refs stay in upstreamRefs.
            'info/refs': `${head}\trefs/heads/${branch}\n`,
            'objects/info/packs': await fs.readFile(path.join(dir, 'objects/info/packs'), 'utf8'),
          },
          upstreamRefs,
          packs,
        };
        log.info('tap repository mirrored', { head, upstreamHead, newCommit: !unchanged, packs: Object.keys(packs).length / 2 });
        return { record, transferred };
      },
      dispose: () => fs.rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}
