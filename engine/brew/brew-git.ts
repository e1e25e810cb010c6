import { createHash } from 'crypto';
import { createReadStream, createWriteStream, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { Readable } from 'stream';
import { Logger } from '../logger';
import { BlobStore } from '../ports';
import { redactUrl } from '../upstream/client';
import { isGitPackFile } from '../store-layout';
import { BrewGitRecord, StoredFile } from './brew-record';
import { GitError, GitRunner } from './git';

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
export interface BrewGitTransfer {
  readonly packs: number;
  readonly objects: number;
  readonly bytes: number;
}

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
    const reused = previous ? await restore(deps, dir, git, previous, log) : false;

    const defaultBranch = await remoteDefaultBranch(git, remote);
    await git(['fetch', '--quiet', '--force', '--prune', '--no-tags', '--no-write-fetch-head', remote, `+refs/heads/${defaultBranch}:refs/heads/${defaultBranch}`, '+refs/tags/*:refs/tags/*']);
    await git(['symbolic-ref', 'HEAD', `refs/heads/${defaultBranch}`]);
    // With unpackLimit=1 every fetch keeps its pack; anything loose (none expected) is packed, never left out.
    if (/^count: [1-9]/m.test(await git(['count-objects', '-v']))) await git(['repack', '--quiet']);
    await git(['fsck', '--connectivity-only', '--no-dangling', '--no-progress']);
    await git(['update-server-info']);

    const { packs, transferred } = await storePacks(deps, dir, previous?.packs ?? {});
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

/** `ref: refs/heads/<branch>` of the remote's HEAD. */
async function remoteDefaultBranch(git: (args: string[]) => Promise<string>, remote: string): Promise<string> {
  const listing = await git(['ls-remote', '--symref', remote, 'HEAD']);
  const branch = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(listing)?.[1];
  if (!branch || !/^[A-Za-z0-9._/-]{1,100}$/.test(branch) || branch.includes('..')) {
    throw new GitError(`brew.git remote ${redactUrl(remote)} names no default branch`);
  }
  return branch;
}

/**
 * Lays the previous generation's packs and refs into the working repository,
 * so the fetch negotiates from them. A pack missing from the store makes it
 * a full fetch instead (logged), never a failure.
 */
async function restore(deps: BrewGitDeps, dir: string, git: (args: string[], input?: string) => Promise<string>, previous: BrewGitRecord, log: Logger): Promise<boolean> {
  const packDir = path.join(dir, 'objects/pack');
  for (const [name, stored] of Object.entries(previous.packs)) {
    if (!isGitPackFile(name) || (await deps.blobs.size(stored.sha256)) === undefined) {
      log.warn('a pack of the previous brew.git is not in the store; fetching the whole history', { pack: name });
      for (const file of await fs.readdir(packDir)) await fs.rm(path.join(packDir, file), { force: true });
      return false;
    }
    await pipeline(Readable.from(await deps.blobs.read(stored.sha256)), createWriteStream(path.join(packDir, name)));
  }
  const updates = previous.files['info/refs']
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([sha, ref]) => sha && ref && !ref.endsWith('^{}'))
    .map(([sha, ref]) => `create ${ref} ${sha}\n`)
    .join('');
  await git(['update-ref', '--stdin'], updates);
  return true;
}

/** Uploads every pack and index the store lacks (hashed first, then streamed and verified by the blob store). */
async function storePacks(deps: BrewGitDeps, dir: string, known: Readonly<Record<string, StoredFile>>): Promise<{ packs: Record<string, StoredFile>; transferred: BrewGitTransfer }> {
  const packDir = path.join(dir, 'objects/pack');
  const packs: Record<string, StoredFile> = {};
  const transferred = { packs: 0, objects: 0, bytes: 0 };
  for (const name of (await fs.readdir(packDir)).filter(isGitPackFile).sort()) {
    if (known[name]) {
      packs[name] = known[name];
      continue;
    }
    if (name.endsWith('.idx')) {
      transferred.packs++;
      transferred.objects += await packObjectCount(path.join(packDir, name));
    }
    const file = path.join(packDir, name);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    const sha256 = hash.digest('hex');
    if (!(await deps.blobs.has(sha256))) await deps.blobs.put(createReadStream(file), { sha256, length: size });
    packs[name] = { sha256, size };
    transferred.bytes += size;
  }
  return { packs, transferred };
}

/** The number of objects a pack holds: the last entry of its version-2 index's fan-out table (`gitformat-pack`). */
async function packObjectCount(idx: string): Promise<number> {
  const handle = await fs.open(idx, 'r');
  try {
    const header = Buffer.alloc(8 + 256 * 4);
    await handle.read(header, 0, header.length, 0);
    if (header.readUInt32BE(0) !== 0xff744f63 || header.readUInt32BE(4) !== 2) throw new GitError(`${path.basename(idx)} is not a version-2 pack index`);
    return header.readUInt32BE(8 + 255 * 4);
  } finally {
    await handle.close();
  }
}
