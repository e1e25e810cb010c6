import { newTeamToken, parseDuration, parseTeamToken, tokenAccepts } from '../../engine/keys/team-token';
import { presentedToken } from '../../engine/keys/token-verifier';

describe('team tokens', () => {
  test('--expires takes s, m, h and d; anything else is refused', () => {
    expect(['45s', '30m', '12h', '90d'].map((v) => parseDuration(v, '--expires'))).toEqual([45_000, 1_800_000, 43_200_000, 7_776_000_000]);
    for (const bad of ['0d', '90', '1w', '-5m', '1.5h']) expect(() => parseDuration(bad, '--expires')).toThrow(/--expires must be a positive number with s, m, h or d/);
  });

  test('a record keeps the secret\'s sha256 only; it accepts its own token until revoked or expired', () => {
    const now = new Date('2026-12-08T00:00:00Z');
    const { record, token } = newTeamToken('ios', now, { expiresInMs: 60_000 });
    const parsed = parseTeamToken(token)!;
    expect(JSON.stringify(record)).not.toContain(parsed.secret);
    expect(tokenAccepts(record, parsed.secret, now.getTime())).toBe(true);
    expect(tokenAccepts(record, parsed.secret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), now.getTime())).toBe(false);
    expect(tokenAccepts(record, parsed.secret, now.getTime() + 60_000)).toBe(false);
    expect(tokenAccepts({ ...record, revokedAt: now.toISOString() }, parsed.secret, now.getTime())).toBe(false);
  });

  test('a request presents its token as Bearer, or as the password of Basic (git)', () => {
    expect(presentedToken('Bearer abc')).toBe('abc');
    expect(presentedToken(`Basic ${Buffer.from('token:abc').toString('base64')}`)).toBe('abc');
    expect(presentedToken('Digest abc')).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
  });
});
