import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Logger } from '../logger';
import { BlobStore } from '../ports';
import { redactUrl } from '../upstream/client';
import { BrewGitRecord } from './brew-record';
import { GitRunner } from './git';
import { GitTransfer, remoteDefaultBranch, restorePacks, storePacks } from './git-packs';

/** brew's release tags: `install.sh` and `brew update` check out the newest of these. */
const RELEASE_TAG = /^\d+\.\d+\.\d+$/;

export interface BrewGitDeps {
  readonly blobs: BlobStore;
  readonly git: GitRunner;
  readonly log: Logger;
  /** Each git command's deadline. */
  readonly timeoutMs: number;
  /** Where the working repository is assembled (default: the OS temp directory; /tmp in the sync task). */
  readonly workDir?: string;
  /** Stops the running git command (SIGTERM in the sync task). */
  readonly signal?: AbortSignal;
}

/** What one run added to the store of brew.git: new packs, the objects in them, their bytes (packs and indexes). */
export type BrewGitTransfer = GitTransfer;

/** The mirrored repository while the brew phase reads release files from it; `dispose` removes it. */
export interface WorkingRepository {
  readonly record: BrewGitRecord;
  /** What this run stored that the previous generation did not have. */
  readonly transferred: BrewGitTransfer;
  /** Release tags, newest first (by version). */
  releaseTags(): Promise<string[]>;
  /** A file at a ref (`refs/tags/<tag>`, `refs/heads/<branch>`), or undefined when the ref has none. */
  readFile(ref: string, file: string): Promise<string | undefined>;
  /** File names in a directory at a ref (empty when it has none). */
  listDirectory(ref: string, dir: string): Promise<string[]>;
  dispose(): Promise<void>;
}

/**
 * Mirrors Homebrew/brew's default branch and every tag into the store, as a
 * repository git's dumb HTTP protocol can clone and fetch.
 *
 * The previous generation's packs and refs are laid out in a working
 * repository first, so `git fetch` tells upstream what it has and receives
 * only the week's objects, as one new pack (git completes a thin pack with
 * the bases it needs). Only packs the store lacks are uploaded. The record
 * (refs, `info/refs`, the pack list) is returned only after every pack it
 * names is stored and `git fsck --connectivity-only` found every object the
 * refs reach: the caller publishes it, so no client sees refs to objects the
 * mirror does not have.
 */
export async function mirrorBrewGit(deps: BrewGitDeps, remote: string, previous?: BrewGitRecord): Promise<WorkingRepository> {
  const dir = await fs.mkdtemp(path.join(deps.workDir ?? os.tmpdir(), 'brew-git-'));
  const git = (args: string[], input?: string) => deps.git(args, { cwd: dir, input, timeoutMs: deps.timeoutMs, signal: deps.signal });
  const log = deps.log.child({ brewGit: redactUrl(remote) });
  try {
    await git(['init', '--bare', '--quiet', '.']);
    const reused = previous ? await restorePacks(deps.blobs, dir, git, previous, log) : false;

    const defaultBranch = await remoteDefaultBranch(git, remote, 'brew.git');
    await git(['fetch', '--quiet', '--force', '--prune', '--no-tags', '--no-write-fetch-head', remote, `+refs/heads/${defaultBranch}:refs/heads/${defaultBranch}`, '+refs/tags/*:refs/tags/*']);
    await git(['symbolic-ref', 'HEAD', `refs/heads/${defaultBranch}`]);
    // With unpackLimit=1 every fetch keeps its pack; anything loose (none expected) is packed, never left out.
    if (/^count: [1-9]/m.test(await git(['count-objects', '-v']))) await git(['repack', '--quiet']);
    await git(['fsck', '--connectivity-only', '--no-dangling', '--no-progress']);
    await git(['update-server-info']);

    const { packs, transferred } = await storePacks(deps.blobs, dir, previous?.packs ?? {});
    const record: BrewGitRecord = {
      remote: redactUrl(remote),
      defaultBranch,
      head: (await git(['rev-parse', `refs/heads/${defaultBranch}`])).trim(),
      tags: (await git(['for-each-ref', '--format=%(refname)', 'refs/tags'])).split('\n').filter(Boolean).length,
      files: {
        HEAD: await fs.readFile(path.join(dir, 'HEAD'), 'utf8'),
        'info/refs': await fs.readFile(path.join(dir, 'info/refs'), 'utf8'),
        'objects/info/packs': await fs.readFile(path.join(dir, 'objects/info/packs'), 'utf8'),
      },
      packs,
    };
    const added = Object.keys(packs).filter((name) => !previous?.packs[name]);
    log.info('brew.git mirrored', { head: record.head, tags: record.tags, packs: Object.keys(packs).length / 2, newPacks: added.length / 2, incremental: reused });
    return {
      record,
      transferred,
      releaseTags: async () =>
        (await git(['for-each-ref', '--sort=-v:refname', '--format=%(refname:short)', 'refs/tags'])).split('\n').filter((t) => RELEASE_TAG.test(t)),
      readFile: (ref, file) => git(['cat-file', 'blob', `${ref}:${file}`]).catch(() => undefined),
      listDirectory: async (ref, sub) => (await git(['ls-tree', '--name-only', `${ref}:${sub}`]).catch(() => '')).split('\n').filter(Boolean),
      dispose: () => fs.rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}

