import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as path from 'path';
import { parseArgs } from 'util';
import { ENVIRONMENT_NAMES, EnvironmentName } from '../config/environment-config';
import { DynamoDbTokenStore } from '../engine/adapters/aws/dynamodb-token-store';
import { FileTokenStore } from '../engine/adapters/local/file-token-store';
import { formatByteSize, parseByteSize } from '../engine/byte-size';
import { UsageError } from '../engine/errors';
import { TeamToken, newTeamToken, parseDuration } from '../engine/keys/team-token';
import { TOKEN_REFRESH_MS } from '../engine/keys/token-verifier';
import { TokenStore } from '../engine/ports';
import { SYNC_ENV } from '../engine/runtime-config';
import type { Io } from './io';
import { requireStoreDirectory } from './serve-command';

export const TOKEN_USAGE = `usage: bottles token create --team NAME [--expires 90d] [--budget SIZE] [--json] (--store DIR | --env ENV)
                   bottles token list [--json] (--store DIR | --env ENV)
                   bottles token revoke NAME|ID (--store DIR | --env ENV)`;

export const TOKEN_HELP = `${TOKEN_USAGE}

Team tokens for a mirror in token mode (\`bottles serve --require-token\`,
HBS_<ENV>_REQUIRE_TOKEN=true). Only the sha256 of each token is kept.

  create          prints a new token for the team, once (with --json:
                  {"team":…,"id":…,"token":…,"expires":…}); a team may hold several
                  (rotation: create the new one, hand it out, revoke the old one by id)
  list            teams, ids, creation, expiry, budget, last use and state; never a token
  revoke NAME|ID  refuses the token with that id, or every token of that team; every
                  mirror refuses it within ${(TOKEN_REFRESH_MS / 1000) * 3} s
  --team NAME     lower-case letters, digits and ._- (up to 63)
  --expires D     lifetime: a number with s, m, h or d (default: never)
  --budget SIZE   bytes per hour this team may draw (default: the mirror's byte budget)
  --store DIR     the tokens of a \`bottles serve\` directory
  --env ENV       the tokens of an AWS environment (dev, staging, prod): its state table,
                  named by HBS_STATE_TABLE, with the AWS credentials and region of the shell`;

export async function tokenCommand(args: string[], io: Io): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: { team: { type: 'string' }, expires: { type: 'string' }, budget: { type: 'string' }, json: { type: 'boolean' }, store: { type: 'string' }, env: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || action === '--help' || action === '-h') {
    io.stdout(`${TOKEN_HELP}\n`);
    return 0;
  }
  if (action !== 'create' && action !== 'list' && action !== 'revoke') throw new UsageError(action ? `unknown token action ${JSON.stringify(action)}` : 'token needs create, list or revoke');
  const store = tokenStore(values.store, values.env);
  const now = new Date();
  if (action === 'create') {
    if (!values.team) throw new UsageError('--team NAME is required');
    const budget = values.budget === undefined ? undefined : parseByteSize(values.budget);
    if (values.budget !== undefined && !budget) throw new UsageError(`--budget must be a size such as 50G, not ${JSON.stringify(values.budget)}`);
    const { record, token } = newTeamToken(values.team, now, { expiresInMs: values.expires ? parseDuration(values.expires, '--expires') : undefined, budgetBytesPerHour: budget });
    await store.putToken(record);
    io.stdout(values.json ? `${JSON.stringify({ team: record.team, id: record.id, token, expires: record.expiresAt ?? null })}\n` : `${token}\n`);
    if (!values.json) io.stderr(`bottles: token ${record.id} for team ${record.team}${record.expiresAt ? `, expires ${record.expiresAt}` : ''}: shown once, keep it now\n`);
    return 0;
  }
  const tokens = await store.listTokens();
  if (action === 'list') {
    const rows = tokens.map((t) => ({ team: t.team, id: t.id, created: t.createdAt, expires: t.expiresAt ?? null, budget: t.budgetBytesPerHour ?? null, lastUsed: t.lastUsedAt ?? null, state: stateOf(t, now) }));
    if (values.json) io.stdout(`${JSON.stringify(rows)}\n`);
    else io.stdout(`${['team\tid\tcreated\texpires\tbudget/h\tlast used\tstate', ...rows.map((r) => [r.team, r.id, r.created, r.expires ?? '-', r.budget ? formatByteSize(r.budget) : '-', r.lastUsed ?? '-', r.state].join('\t'))].join('\n')}\n`);
    return 0;
  }
  const [target] = positionals;
  if (!target) throw new UsageError('revoke needs a team name or a token id');
  const matching = tokens.filter((t) => (t.id === target || t.team === target) && !t.revokedAt);
  if (matching.length === 0) throw new UsageError(`no active token with id or team ${JSON.stringify(target)}`);
  for (const t of matching) await store.revokeToken(t.id, now.toISOString());
  io.stdout(`revoked ${matching.map((t) => `${t.id} (${t.team})`).join(', ')}\n`);
  return 0;
}

function stateOf(token: TeamToken, now: Date): string {
  if (token.revokedAt) return `revoked ${token.revokedAt}`;
  if (token.expiresAt && Date.parse(token.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}

function tokenStore(store: string | undefined, env: string | undefined): TokenStore {
  if (!store === !env) throw new UsageError('give --store DIR or --env ENV');
  if (store) {
    const root = path.resolve(store);
    requireStoreDirectory(root);
    return new FileTokenStore(root);
  }
  if (!ENVIRONMENT_NAMES.includes(env as EnvironmentName)) throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')}, not ${JSON.stringify(env)}`);
  const table = process.env[SYNC_ENV.stateTable];
  if (!table) throw new UsageError(`--env ${env} needs ${SYNC_ENV.stateTable} (the environment's state table, from its outputs)`);
  if (!table.startsWith(`${env}-brew-`)) throw new UsageError(`--env ${env}, but ${table} is not one of ${env}'s resources (they start with ${env}-brew-)`);
  return new DynamoDbTokenStore(new DynamoDBClient({}), table);
}
