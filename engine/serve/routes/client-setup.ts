import { brewEnvFile, installWrapper } from '../../homebrew/client-settings';
import { BREW_MIRROR_SCRIPT } from '../../casks/client-command';
import { tapEnvComments } from '../../taps/tap-client';
import { httpErrors } from '../http-errors';
import { Exchange, HeaderList, ReplyWriter } from '../reply';

/** A short cache: the files change only with the mirror's configuration and whether it serves brew.git. */
const TEXT_HEADERS: HeaderList = ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'public, max-age=300'];

/**
 * What a machine needs to start using the mirror: the fleet's `/brew.env`
 * and the one-line installer `/install`. Built from the configured public
 * URL, never from the request (a forged Host header must not end up in a
 * client's settings). `HOMEBREW_BREW_GIT_REMOTE` is in them only while the
 * published generation serves brew.git: pointed at a mirror without it,
 * every `brew update` would fail.
 */
export class ClientSetupRoutes {
  private readonly bodies = new Map<string, string>();

  constructor(
    private readonly publicUrl: string | (() => string) | undefined,
    private readonly reply: ReplyWriter,
  ) {}

  brewEnv(x: Exchange): void {
    const brewGit = x.snapshot?.brew?.record.brewGit !== undefined;
    // The mirrored taps' client lines ride along as comments: brew ignores them, a person copies them.
    const taps = [...(x.snapshot?.taps?.byName.keys() ?? [])];
    this.reply.send(x, 200, TEXT_HEADERS, this.body(`brew.env:${brewGit}:${taps.join(',')}`, (publicUrl) => brewEnvFile({ publicUrl, brewGit }, tapEnvComments(publicUrl, taps))));
  }

  install(x: Exchange): void {
    const brew = x.snapshot?.brew;
    if (!brew?.record.brewGit || !brew.installScript) throw httpErrors.notFound('this mirror serves no brew.git and install script (its sync ran --without-brew)');
    this.reply.send(x, 200, TEXT_HEADERS, this.body('install', (publicUrl) => installWrapper({ publicUrl, brewGit: true })));
  }

  /** The cask client command (`engine/casks/client-command.ts`); it reads the mirror's URL from brew.env, so it is the same for every mirror. */
  brewMirror(x: Exchange): void {
    this.reply.send(x, 200, ['content-type', 'text/x-shellscript; charset=utf-8', 'cache-control', 'public, max-age=300'], BREW_MIRROR_SCRIPT);
  }

  private body(key: string, make: (publicUrl: string) => string): string {
    if (this.publicUrl === undefined) throw httpErrors.notFound('this mirror has no public URL configured (--public-url)');
    let body = this.bodies.get(key);
    if (body === undefined) {
      body = make(typeof this.publicUrl === 'function' ? this.publicUrl() : this.publicUrl);
      this.bodies.set(key, body);
    }
    return body;
  }
}
