import { brewEnvFile, installWrapper } from '../../homebrew/client-settings';
import { BREW_MIRROR_SCRIPT } from '../../casks/client-command';
import { tapEnvComments } from '../../taps/tap-client';
import { presentedToken } from '../../keys/token-verifier';
import { httpErrors } from '../http-errors';
import { Exchange, HeaderList, ReplyWriter } from '../reply';

/** A short cache: the files change only with the mirror's configuration and whether it serves brew.git. */
const TEXT_HEADERS: HeaderList = ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'public, max-age=300'];
/** A body that carries the caller's token: no shared cache may keep it. */
const PRIVATE_TEXT_HEADERS: HeaderList = ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'no-store'];

/** What brew.env says about tokens in token mode: how to get one into the file, when it has none. */
function tokenComments(tokenMode: boolean, token: string | undefined): string[] {
  if (!tokenMode || token) return [];
  return [
    '# This mirror needs a team token for bottles and brew.git: fetch this file with your team\'s token',
    '#   curl -fsSL -H "Authorization: Bearer $TOKEN" <this URL>',
    '# and it comes back with HOMEBREW_DOCKER_REGISTRY_TOKEN and the brew.git remote filled in.',
  ];
}

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
    /** Token mode: the settings name the `/v2/` layout only, and carry the request's own token when it has a valid one. */
    private readonly tokenMode = false,
    /** The fleet's policy lines, in every brew.env and /install this mirror hands out. */
    private readonly policy: readonly string[] = [],
  ) {}

  brewEnv(x: Exchange): void {
    const brewGit = x.snapshot?.brew?.record.brewGit !== undefined;
    // The mirrored taps' client lines ride along as comments: brew ignores them, a person copies them.
    const taps = [...(x.snapshot?.taps?.byName.keys() ?? [])];
    const token = this.requestToken(x);
    const make = (publicUrl: string) => brewEnvFile({ publicUrl, brewGit, tokenMode: this.tokenMode, token, policy: this.policy }, [...tokenComments(this.tokenMode, token), ...tapEnvComments(publicUrl, taps)]);
    // A body with a token is the caller's alone: built for the request, never cached or logged.
    this.reply.send(x, 200, token ? PRIVATE_TEXT_HEADERS : TEXT_HEADERS, token ? make(this.resolvedUrl()) : this.body(`brew.env:${brewGit}:${taps.join(',')}`, make));
  }

  install(x: Exchange): void {
    const brew = x.snapshot?.brew;
    if (!brew?.record.brewGit || !brew.installScript) throw httpErrors.notFound('this mirror serves no brew.git and install script (its sync ran --without-brew)');
    const token = this.requestToken(x);
    const make = (publicUrl: string) => installWrapper({ publicUrl, brewGit: true, tokenMode: this.tokenMode, token, policy: this.policy });
    this.reply.send(x, 200, token ? PRIVATE_TEXT_HEADERS : TEXT_HEADERS, token ? make(this.resolvedUrl()) : this.body('install', make));
  }

  /** The token of a request whose token the server accepted (`x.team`); only then. */
  private requestToken(x: Exchange): string | undefined {
    return this.tokenMode && x.team ? presentedToken(x.req.headers.authorization) : undefined;
  }

  private resolvedUrl(): string {
    if (this.publicUrl === undefined) throw httpErrors.notFound('this mirror has no public URL configured (--public-url)');
    return typeof this.publicUrl === 'function' ? this.publicUrl() : this.publicUrl;
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
