import { brewEnvFile } from '../../homebrew/client-settings';
import { httpErrors } from '../http-errors';
import { Exchange, HeaderList, ReplyWriter } from '../reply';

/** A short cache: the file changes only with the mirror's configuration. */
const BREW_ENV_HEADERS: HeaderList = ['content-type', 'text/plain; charset=utf-8', 'cache-control', 'public, max-age=300'];

/**
 * What a machine needs to start using the mirror, for the air-gap: today the
 * fleet's `/brew.env`. Built once from the configured public URL, never from
 * the request (a forged Host header must not end up in a client's settings).
 */
export class ClientSetupRoutes {
  private brewEnvBody?: string;

  constructor(
    private readonly publicUrl: string | (() => string) | undefined,
    private readonly reply: ReplyWriter,
  ) {}

  brewEnv(x: Exchange): void {
    if (this.publicUrl === undefined) throw httpErrors.notFound('this mirror has no public URL configured');
    this.brewEnvBody ??= brewEnvFile({ publicUrl: typeof this.publicUrl === 'function' ? this.publicUrl() : this.publicUrl });
    this.reply.send(x, 200, BREW_ENV_HEADERS, this.brewEnvBody);
  }
}
