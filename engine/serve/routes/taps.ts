import { httpErrors } from '../http-errors';
import { Exchange, ReplyWriter, requireSnapshot } from '../reply';
import { BrewGitFile } from '../router';
import { BlobRoutes } from './blobs';

/**
 * Third-party taps (issue #34): each rewritten repository for git's dumb HTTP
 * protocol at `/taps/<user>/<repo>.git`, and the downloads it points brew at,
 * at `/dl/<host><path>`. Git files are streamed in every mode, as brew.git's
 * are (git follows a redirect only once); downloads go through the bottle
 * path (budget, proxy or redirect). Only what the generation's tap record
 * names is reachable: a download the sync did not verify is a 404.
 */
export class TapRoutes {
  constructor(
    private readonly reply: ReplyWriter,
    private readonly blobs: BlobRoutes,
  ) {}

  gitFile(x: Exchange, tap: string, file: BrewGitFile): void {
    const mirrored = requireSnapshot(x).taps?.byName.get(tap);
    if (!mirrored) throw httpErrors.notFound(`this mirror serves no tap ${tap}`);
    this.reply.send(x, 200, ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-cache'], mirrored.git.files[file]);
  }

  gitPack(x: Exchange, tap: string, name: string): Promise<void> {
    const stored = requireSnapshot(x).taps?.byName.get(tap)?.git.packs[name] ?? x.previous?.taps?.byName.get(tap)?.git.packs[name];
    if (!stored) throw httpErrors.notFound(`no such pack in tap ${tap}`);
    const contentType = name.endsWith('.idx') ? 'application/x-git-packed-objects-toc' : 'application/x-git-packed-objects';
    return this.blobs.streamStored(x, stored.sha256, contentType);
  }

  download(x: Exchange, key: string): void | Promise<void> {
    const file = requireSnapshot(x).taps?.downloads.get(key) ?? x.previous?.taps?.downloads.get(key);
    if (!file) throw httpErrors.notFound('no such download in the published generation');
    return this.blobs.tapDownload(x, file.sha256, fileNameOf(file.url));
  }
}

/** The name brew saves a download under: the URL path's last segment. */
function fileNameOf(url: string): string {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop();
  return last ? decodeURIComponent(last) : 'download';
}
