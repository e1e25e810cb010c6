import { Logger } from '../logger';
import { TokenStore } from '../ports';
import { TeamToken, parseTeamToken, tokenAccepts } from './team-token';

/** Who a request's valid token belongs to: the team, its token's id, and the budget the team has, if its own. */
export interface TeamIdentity {
  readonly id: string;
  readonly team: string;
  readonly budgetBytesPerHour?: number;
}

/**
 * Checks a request's token against the token records, kept in memory and
 * read again every `refreshMs` (default 10 s): a token revoked or expired is
 * refused by every mirror within that, plus one read of the store. Until the
 * first read completes, and if reads fail for longer than `maxStaleMs` (60 s),
 * every token is refused: a mirror never serves on a list it cannot refresh.
 * The token's last use is recorded at most once a minute per mirror.
 */
export class TokenVerifier {
  private records = new Map<string, TeamToken>();
  private loadedAt = 0;
  private timer?: NodeJS.Timeout;
  private readonly usedAt = new Map<string, number>();

  constructor(
    private readonly store: TokenStore,
    private readonly log: Logger,
    private readonly options: { readonly refreshMs?: number; readonly maxStaleMs?: number; readonly now?: () => number } = {},
  ) {}

  /** Reads the records now, then every `refreshMs`. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? TOKEN_REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    try {
      const tokens = await this.store.listTokens();
      this.records = new Map(tokens.map((t) => [t.id, t]));
      this.loadedAt = this.now();
    } catch (error) {
      this.log.warn('could not read the team tokens; keeping the last list', { error: (error as Error).message });
    }
  }

  /**
   * The identity of an `Authorization` header carrying a valid token: `Bearer <token>`,
   * or `Basic base64(<any user>:<token>)` (git sends credentials so). Undefined otherwise.
   */
  verify(authorization: string | undefined): TeamIdentity | undefined {
    const token = presentedToken(authorization);
    const parsed = token && parseTeamToken(token);
    if (!parsed) return undefined;
    const now = this.now();
    if (this.loadedAt === 0 || now - this.loadedAt > (this.options.maxStaleMs ?? 60_000)) return undefined;
    const record = this.records.get(parsed.id);
    if (!record || !tokenAccepts(record, parsed.secret, now)) return undefined;
    if (now - (this.usedAt.get(record.id) ?? 0) > 60_000) {
      this.usedAt.set(record.id, now);
      void this.store.recordTokenUse(record.id, new Date(now).toISOString()).catch(() => undefined);
    }
    return { id: record.id, team: record.team, ...(record.budgetBytesPerHour ? { budgetBytesPerHour: record.budgetBytesPerHour } : {}) };
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** How often a mirror reads the token records: the bound on revocation is this plus one read. */
export const TOKEN_REFRESH_MS = 10_000;

/** The token an `Authorization` header presents: `Bearer <token>`, or the password of `Basic` (git's form). */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const space = authorization.indexOf(' ');
  const scheme = authorization.slice(0, space).toLowerCase();
  const value = authorization.slice(space + 1).trim();
  if (scheme === 'bearer') return value;
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1);
}
