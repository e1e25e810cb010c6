import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import { UsageError } from '../errors';

/**
 * A team's token (issue #35): `hbsk_<id>_<secret>`. The id (public, 12 hex)
 * finds the record; the secret (32 random bytes, base64url) is checked
 * against the sha256 the record keeps, in constant time. The token itself is
 * shown once, at creation, and kept nowhere.
 */
export interface TeamToken {
  readonly id: string;
  readonly team: string;
  /** sha256 (hex) of the secret. */
  readonly secretSha256: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  /** Bytes per hour this team may draw, instead of the mirror's per-client budget. */
  readonly budgetBytesPerHour?: number;
  /** Last time a mirror accepted it (recorded at most once a minute per mirror). */
  readonly lastUsedAt?: string;
}

const TOKEN = /^hbsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
export const TEAM_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** A new token for `team`: the record to store and the token to show once. */
export function newTeamToken(team: string, now: Date, options: { readonly expiresInMs?: number; readonly budgetBytesPerHour?: number } = {}): { record: TeamToken; token: string } {
  if (!TEAM_NAME.test(team)) throw new UsageError(`--team must be lower-case letters, digits and ._- (up to 63), not ${JSON.stringify(team)}`);
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record: TeamToken = {
    id,
    team,
    secretSha256: sha256(secret).toString('hex'),
    createdAt: now.toISOString(),
    ...(options.expiresInMs ? { expiresAt: new Date(now.getTime() + options.expiresInMs).toISOString() } : {}),
    ...(options.budgetBytesPerHour ? { budgetBytesPerHour: options.budgetBytesPerHour } : {}),
  };
  return { record, token: `hbsk_${id}_${secret}` };
}

/** The id a presented token claims, and its secret; undefined for anything that is not a token. */
export function parseTeamToken(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN.exec(token);
  return match ? { id: match[1], secret: match[2] } : undefined;
}

/** True when `secret` is the record's, the record is not revoked and not expired at `now`. Constant time in the secret. */
export function tokenAccepts(record: TeamToken, secret: string, now: number): boolean {
  const expected = Buffer.from(record.secretSha256, 'hex');
  const matches = expected.length === 32 && timingSafeEqual(expected, sha256(secret));
  return matches && record.revokedAt === undefined && (record.expiresAt === undefined || Date.parse(record.expiresAt) > now);
}

/** `90d`, `12h`, `30m`, `45s` in milliseconds (`--expires`). */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(value.trim());
  if (!match || Number(match[1]) === 0) throw new UsageError(`${flag} must be a positive number with s, m, h or d (e.g. 90d), not ${JSON.stringify(value)}`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
}
