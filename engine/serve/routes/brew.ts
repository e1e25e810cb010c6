import { httpErrors } from '../http-errors';
import { Exchange, ReplyWriter, notModified, requireSnapshot } from '../reply';
import { BrewGitFile } from '../router';
import { BlobRoutes } from './blobs';

/**
 * brew itself: brew.git for git's dumb HTTP protocol, and Homebrew/install's
 * install.sh. Both are served byte for byte from the store, never by
 * redirect, whatever the bottle mode: git follows a redirect only on its
 * first request and then asks the redirected host for everything else.
 *
 * `info/refs` and `HEAD` are the request's generation's; packs are looked up
 * in it and in the one before (a clone that read the previous refs a moment
 * before a switch asks for their packs next). Packs are immutable and never
 * rewritten: a new generation only adds one.
 */
export class BrewRoutes {
  constructor(
    private readonly reply: ReplyWriter,
    private readonly blobs: BlobRoutes,
  ) {}

  gitFile(x: Exchange, file: BrewGitFile): void {
    const brewGit = requireSnapshot(x).brew?.record.brewGit;
    if (!brewGit) throw httpErrors.notFound('this mirror serves no brew.git');
    // Not cached: the refs move with every published generation.
    this.reply.send(x, 200, ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-cache'], brewGit.files[file]);
  }

  gitPack(x: Exchange, name: string): Promise<void> {
    const stored = requireSnapshot(x).brew?.record.brewGit?.packs[name] ?? x.previous?.brew?.record.brewGit?.packs[name];
    if (!stored) throw httpErrors.notFound('no such pack in brew.git');
    const contentType = name.endsWith('.idx') ? 'application/x-git-packed-objects-toc' : 'application/x-git-packed-objects';
    return this.blobs.streamStored(x, stored.sha256, contentType);
  }

  installScript(x: Exchange): void {
    const brew = requireSnapshot(x).brew;
    if (!brew?.installScript || !brew.record.installScript) throw httpErrors.notFound('this mirror serves no install script');
    const etag = `"${brew.record.installScript.sha256}"`;
    const headers = ['content-type', 'text/plain; charset=utf-8', 'etag', etag, 'cache-control', 'public, max-age=300'];
    if (notModified(x.req, etag)) return this.reply.send(x, 304, headers);
    this.reply.send(x, 200, headers, brew.installScript);
  }
}
