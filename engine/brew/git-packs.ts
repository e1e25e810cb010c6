import { createHash } from 'crypto';
import { createReadStream, createWriteStream, promises as fs } from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { Readable } from 'stream';
import { Logger } from '../logger';
import { BlobStore } from '../ports';
import { redactUrl } from '../upstream/client';
import { isGitPackFile } from '../store-layout';
import { StoredFile } from './brew-record';
import { GitError } from './git';

/**
 * A mirrored git repository's packs in the blob store: laid back into a
 * working repository so a fetch negotiates from them, and stored after it.
 * brew.git and every mirrored tap are kept this way.
 */

/** What one run added to the store of a repository: new packs, the objects in them, their bytes (packs and indexes). */
export interface GitTransfer {
  readonly packs: number;
  readonly objects: number;
  readonly bytes: number;
}

/** `ref: refs/heads/<branch>` of the remote's HEAD; `what` names the repository in errors. */
export async function remoteDefaultBranch(git: (args: string[]) => Promise<string>, remote: string, what: string): Promise<string> {
  const listing = await git(['ls-remote', '--symref', remote, 'HEAD']);
  const branch = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(listing)?.[1];
  if (!branch || !/^[A-Za-z0-9._/-]{1,100}$/.test(branch) || branch.includes('..')) {
    throw new GitError(`${what} remote ${redactUrl(remote)} names no default branch`);
  }
  return branch;
}

/**
 * Lays the previous generation's packs and refs into the working repository,
 * so the fetch negotiates from them. A pack missing from the store makes it
 * a full fetch instead (logged), never a failure.
 */
export async function restorePacks(
  blobs: BlobStore,
  dir: string,
  git: (args: string[], input?: string) => Promise<string>,
  previous: { readonly packs: Readonly<Record<string, StoredFile>>; readonly files: { readonly 'info/refs': string } },
  log: Logger,
): Promise<boolean> {
  const packDir = path.join(dir, 'objects/pack');
  for (const [name, stored] of Object.entries(previous.packs)) {
    if (!isGitPackFile(name) || (await blobs.size(stored.sha256)) === undefined) {
      log.warn('a pack of the previous generation is not in the store; fetching the whole history', { pack: name });
      for (const file of await fs.readdir(packDir)) await fs.rm(path.join(packDir, file), { force: true });
      return false;
    }
    await pipeline(Readable.from(await blobs.read(stored.sha256)), createWriteStream(path.join(packDir, name)));
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
export async function storePacks(blobs: BlobStore, dir: string, known: Readonly<Record<string, StoredFile>>): Promise<{ packs: Record<string, StoredFile>; transferred: GitTransfer }> {
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
    if (!(await blobs.has(sha256))) await blobs.put(createReadStream(file), { sha256, length: size });
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
