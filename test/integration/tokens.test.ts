import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { DynamoDbTokenStore } from '../../engine/adapters/aws/dynamodb-token-store';
import { FileTokenStore } from '../../engine/adapters/local/file-token-store';
import { MemoryRateLimiter, memoryByteBudget } from '../../engine/adapters/local/memory-rate-limiter';
import { newTeamToken } from '../../engine/keys/team-token';
import { TokenVerifier } from '../../engine/keys/token-verifier';
import { FleetPolicy, parsePolicy } from '../../engine/policy/fleet-policy';
import { jsonLogger } from '../../engine/logger';
import { RateLimiter, TokenStore, byteBudgetLimit } from '../../engine/ports';
import { RedisRateLimiter } from '../../engine/adapters/aws/redis-rate-limiter';
import { LocalRedis, startLocalRedis } from '../fixtures/redis';
import { startPeers } from '../fixtures/peers';
import { MirrorServer } from '../../engine/serve/server';
import { runSync } from '../../engine/sync/run-sync';
import { localStores, localSyncDeps } from '../../engine/wiring/local';
import { LocalDynamoDb, startLocalDynamoDb } from '../fixtures/dynamodb';
import { GitUpstream, startGitUpstream } from '../fixtures/git-upstream';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { synthAll } from '../synth';

// Token mode (issue #35), through real HTTP against the server: blob and git routes need a team's
// token; the budget counts per token; brew.env carries it; nothing the server writes contains it.
const key = testSigningKey();
const BOTTLE = randomBytes(4000);

let upstream: FixtureUpstream;
let brew: GitUpstream;
let root: string;

beforeAll(async () => {
  upstream = await startFixtureUpstream();
  brew = await startGitUpstream();
  publishApi(upstream, [{ name: 'wget', version: '1.25.0', bottles: [{ tag: 'arm64_sonoma', bytes: BOTTLE }] }], key.privateKey);
  upstream.setApiFile('install.sh', Buffer.from('#!/bin/bash\necho install\n'));
  const { sha256 } = upstream.addBlob('portable-ruby', randomBytes(1000));
  brew.release('6.0.18', '4.0.6', [{ platform: 'arm64-darwin', rubyTag: 'arm64_big_sur', sha256 }]);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tokens-'));
  const summary = await runSync(localSyncDeps(root, { log: jsonLogger({}, () => undefined) }), {
    apiUrl: upstream.apiRoot,
    publicKey: key.publicKey,
    brew: { gitUrl: brew.url, registryUrl: new URL(upstream.registryRoot).origin, installScriptUrl: `${upstream.apiRoot}/install.sh` },
  });
  expect(summary.published).toBe(true);
});

afterAll(async () => {
  await upstream.close();
  await brew.close();
});

interface Mirror {
  readonly base: string;
  readonly logs: string[];
  readonly verifier: TokenVerifier;
  stop(): Promise<void>;
}

/** A mirror in token mode over `store`'s tokens; every line it logs is kept, to be searched for tokens. */
async function tokenMirror(
  store: TokenStore,
  options: { mode?: 'proxy' | 'redirect'; byteBudgetPerHour?: number; refreshMs?: number; teamByteBudget?: (bytesPerHour: number) => RateLimiter; policy?: FleetPolicy; burst?: number } = {},
): Promise<Mirror> {
  const logs: string[] = [];
  const log = jsonLogger({}, (line) => logs.push(line));
  const verifier = new TokenVerifier(store, log, { refreshMs: options.refreshMs ?? 10_000 });
  await verifier.start();
  let base = '';
  const server = new MirrorServer({
    ...localStores(root),
    log,
    accessLog: (record) => logs.push(JSON.stringify(record)),
    limiter: new MemoryRateLimiter(options.burst ? { ratePerSecond: 0.001, burst: options.burst } : { ratePerSecond: 1000, burst: 1000 }),
    byteBudget: memoryByteBudget(options.byteBudgetPerHour),
    teamByteBudget: options.teamByteBudget ?? ((bytes) => memoryByteBudget(bytes)),
    mode: options.mode ?? 'proxy',
    presign: options.mode === 'redirect' ? async (digest) => `http://127.0.0.1:9/presigned/${digest}` : undefined,
    pollMs: 60_000,
    publicUrl: () => base,
    tokens: verifier,
    policy: options.policy,
  });
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
  return { base, logs, verifier, stop: async () => (verifier.stop(), await server.stop(0)) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A mirror in token mode over the store's tokens, and one new token for `team`. */
async function teamMirror(team: string, options: Parameters<typeof tokenMirror>[1] = {}): Promise<{ token: string; mirror: Mirror }> {
  const tokens = new FileTokenStore(root);
  const { record, token } = newTeamToken(team, new Date());
  await tokens.putToken(record);
  return { token, mirror: await tokenMirror(tokens, options) };
}
const bottleUrl = (base: string) => `${base}/bottles/wget-1.25.0.arm64_sonoma.bottle.tar.gz`;

describe('token mode', () => {
  test.each(['proxy', 'redirect'] as const)('%s mode: no token, a malformed or an unknown one get 401 with a challenge on every blob route; a valid one gets the blob; the API stays open', async (mode) => {
    const { token, mirror } = await teamMirror('platform', { mode });
    try {
      const gitRoutes = [`${mirror.base}/brew.git/info/refs`, `${mirror.base}/taps/acme/tools.git/info/refs`];
      for (const url of [bottleUrl(mirror.base), `${mirror.base}/v2/homebrew/core/wget/manifests/1.25.0`, `${mirror.base}/casks/${'0'.repeat(64)}`, ...gitRoutes]) {
        for (const headers of [{}, bearer('nope'), bearer(`hbsk_000000000000_${'A'.repeat(43)}`), bearer(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))]) {
          const refused = await fetch(url, { headers, redirect: 'manual' });
          expect([url, refused.status]).toEqual([url, 401]);
          expect(refused.headers.get('www-authenticate')).toMatch(gitRoutes.includes(url) ? /^Basic realm="homebrew mirror"/ : /^Bearer realm="homebrew mirror"/);
        }
      }
      const ok = await fetch(bottleUrl(mirror.base), { headers: bearer(token), redirect: 'manual' });
      if (mode === 'proxy') {
        expect(ok.status).toBe(200);
        expect(Buffer.from(await ok.arrayBuffer()).equals(BOTTLE)).toBe(true);
      } else {
        // The store's presigned URL carries no token: brew drops Authorization on the redirect anyway.
        expect(ok.status).toBe(302);
        expect(ok.headers.get('location')).not.toContain(token);
      }
      expect((await fetch(`${mirror.base}/api/formula.jws.json`)).status).toBe(200);
      expect((await fetch(`${mirror.base}/health`)).status).toBe(200);
    } finally {
      await mirror.stop();
    }
  });

  test('git clones brew.git with the token in the remote URL, and is refused without it', async () => {
    const { token, mirror } = await teamMirror('ios');
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tokens-clone-'));
    const git = (...args: string[]) => promisify(execFile)('git', args, { cwd: work, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false' } });
    try {
      const withToken = new URL(`${mirror.base}/brew.git`);
      withToken.username = 'token';
      withToken.password = token;
      await git('clone', '--quiet', withToken.href, 'with');
      expect(fs.existsSync(path.join(work, 'with/Library/Homebrew/VERSION'))).toBe(true);
      await expect(git('clone', '--quiet', `${mirror.base}/brew.git`, 'without')).rejects.toThrow(/401|Authentication failed|could not read Username/);
    } finally {
      await mirror.stop();
    }
  });

  test('two teams behind one address have their own request rate limit: one past its burst gets 429, the other is still admitted', async () => {
    const tokens = new FileTokenStore(root);
    const busy = newTeamToken('busy', new Date());
    const quiet = newTeamToken('quiet', new Date());
    await tokens.putToken(busy.record);
    await tokens.putToken(quiet.record);
    const mirror = await tokenMirror(tokens, { burst: 3 });
    try {
      const statuses = async (token: string, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await fetch(`${mirror.base}/api/formula.jws.json`, { headers: bearer(token) })).status);
        return out;
      };
      expect(await statuses(busy.token, 4)).toEqual([200, 200, 200, 429]);
      expect(await statuses(quiet.token, 3)).toEqual([200, 200, 200]);
    } finally {
      await mirror.stop();
    }
  });

  test('two teams behind one address have their own budgets: one past its budget gets 429, the other still 200', async () => {
    const tokens = new FileTokenStore(root);
    // A budget of one bottle an hour: the first download spends it whole.
    const small = newTeamToken('small', new Date(), { budgetBytesPerHour: BOTTLE.length });
    const other = newTeamToken('other', new Date());
    await tokens.putToken(small.record);
    await tokens.putToken(other.record);
    const mirror = await tokenMirror(tokens);
    try {
      const get = async (token: string) => (await fetch(bottleUrl(mirror.base), { headers: bearer(token) })).status;
      expect(await get(small.token)).toBe(200);
      expect(await get(small.token)).toBe(429);
      expect(await get(other.token)).toBe(200);
      expect(await get(other.token)).toBe(200);
      const metrics = await (await fetch(`${mirror.base}/metrics`)).text();
      expect(metrics).toContain(`mirror_team_bytes_handed_out_total{team="small"} ${BOTTLE.length}`);
      expect(metrics).toContain(`mirror_team_bytes_handed_out_total{team="other"} ${2 * BOTTLE.length}`);
    } finally {
      await mirror.stop();
    }
  });

  test('/brew.env and /install carry the caller\'s token in the /v2/ layout and the fleet\'s policy; brew reads them; no log line, metric or page contains a token', async () => {
    const { token, mirror } = await teamMirror('web', { policy: parsePolicy('HOMEBREW_FORBIDDEN_FORMULAE=telnet\nHOMEBREW_FORBIDDEN_LICENSES=AGPL-3.0-only\n', 'policy.env') });
    try {
      const env = await (await fetch(`${mirror.base}/brew.env`, { headers: bearer(token) })).text();
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tokens-env-')), 'brew.env');
      fs.writeFileSync(file, env);
      const { stdout } = await promisify(execFile)('bash', [path.join(__dirname, '../fixtures/brew-env-reader.sh'), file], { env: { PATH: process.env.PATH } });
      const settings = Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      expect(settings.HOMEBREW_DOCKER_REGISTRY_TOKEN).toBe(token);
      // The fleet's policy rides along, as brew reads it.
      expect([settings.HOMEBREW_FORBIDDEN_FORMULAE, settings.HOMEBREW_FORBIDDEN_LICENSES]).toEqual(['telnet', 'AGPL-3.0-only']);
      expect(settings.HOMEBREW_ARTIFACT_DOMAIN).toBe(mirror.base);
      // brew sends no token to the flat layout: token mode does not hand it out.
      expect(settings.HOMEBREW_BOTTLE_DOMAIN).toBeUndefined();
      expect(settings.HOMEBREW_BREW_GIT_REMOTE).toBe(`http://token:${token}@${new URL(mirror.base).host}/brew.git`);
      const anonymous = await (await fetch(`${mirror.base}/brew.env`)).text();
      expect(anonymous).not.toMatch(/^HOMEBREW_DOCKER_REGISTRY_TOKEN=/m);
      expect(anonymous).toContain('# This mirror needs a team token');
      const install = await fetch(`${mirror.base}/install`, { headers: bearer(token) });
      expect(install.headers.get('cache-control')).toBe('no-store');
      expect(await install.text()).toContain(`export HOMEBREW_DOCKER_REGISTRY_TOKEN=${token}`);
      await fetch(bottleUrl(mirror.base), { headers: bearer(token) });

      const page = await (await fetch(`${mirror.base}/`)).text();
      const metrics = await (await fetch(`${mirror.base}/metrics`)).text();
      const status = await (await fetch(`${mirror.base}/status`)).text();
      for (const text of [mirror.logs.join('\n'), page, metrics, status]) expect(text).not.toContain(token.slice(18));
      // The access log names the team of each request that carried its token.
      expect(mirror.logs.some((l) => l.includes('"team":"web"') && l.includes('"route":"bottle"'))).toBe(true);
    } finally {
      await mirror.stop();
    }
  });
});

describe('two mirrors that share the AWS peers (dynalite for the tokens, redis-server for the budgets)', () => {
  let dynamo: LocalDynamoDb;
  let redis: LocalRedis;
  beforeAll(async () => {
    [dynamo, redis] = await startPeers([startLocalDynamoDb(), startLocalRedis()]);
  });
  afterAll(async () => {
    await Promise.all([dynamo?.close(), redis?.stop()]);
  });

  test('a team\'s budget is one across both; a token revoked in the table is refused by both within the refresh bound; an expired one never works', async () => {
    await dynamo.createStateTable('prod-brew-state-tokens');
    const store = new DynamoDbTokenStore(dynamo.client, 'prod-brew-state-tokens');
    const { record, token } = newTeamToken('data', new Date());
    const expired = newTeamToken('old', new Date(Date.now() - 120_000), { expiresInMs: 60_000 });
    const oneBottle = newTeamToken('frugal', new Date(), { budgetBytesPerHour: BOTTLE.length });
    for (const t of [record, expired.record, oneBottle.record]) await store.putToken(t);
    const refreshMs = 500;
    const client = await redis.client();
    const teamByteBudget = (bytes: number) => new RedisRateLimiter(client, byteBudgetLimit(bytes), 'bb:');
    const mirrors = [await tokenMirror(store, { refreshMs, teamByteBudget }), await tokenMirror(store, { refreshMs, teamByteBudget })];
    try {
      // The team's one-bottle budget, spent on the first mirror, is spent on the second.
      expect((await fetch(bottleUrl(mirrors[0].base), { headers: bearer(oneBottle.token) })).status).toBe(200);
      expect((await fetch(bottleUrl(mirrors[1].base), { headers: bearer(oneBottle.token) })).status).toBe(429);
      for (const m of mirrors) {
        expect((await fetch(bottleUrl(m.base), { headers: bearer(token) })).status).toBe(200);
        expect((await fetch(bottleUrl(m.base), { headers: bearer(expired.token) })).status).toBe(401);
      }
      const revokedAt = Date.now();
      expect(await store.revokeToken(record.id, new Date().toISOString())).toBe(true);
      for (const m of mirrors) {
        let status = 200;
        while (status !== 401) {
          expect(Date.now() - revokedAt).toBeLessThan(3 * refreshMs + 2000);
          status = (await fetch(bottleUrl(m.base), { headers: bearer(token) })).status;
          if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      expect((await store.listTokens()).find((t) => t.id === record.id)).toMatchObject({ team: 'data', revokedAt: expect.any(String), lastUsedAt: expect.any(String) });
    } finally {
      for (const m of mirrors) await m.stop();
      client.disconnect();
    }
  });
});

describe('token mode in AWS (issue #35)', () => {
  test('HBS_<ENV>_REQUIRE_TOKEN turns it on for the mirror and the standby, whose roles may read and touch only the tokens partition', () => {
    const stacks = synthAll({ HBS_PROD_REQUIRE_TOKEN: 'true' });
    for (const stack of ['prod', 'prod-standby']) {
      const resources = (stacks[stack] as any).resource;
      const task = Object.values(resources.aws_ecs_task_definition as Record<string, any>).find((t) => String(t.family).endsWith('-mirror'))!;
      const env = (JSON.parse(task.container_definitions)[0].environment as { name: string; value: string }[]).find((e) => e.name === 'HBS_REQUIRE_TOKEN');
      expect([stack, env?.value]).toEqual([stack, 'true']);
      const documents = JSON.stringify((stacks[stack] as any).data.aws_iam_policy_document);
      expect(documents).toContain('"sid":"TeamTokens"');
      expect(documents).toMatch(/"actions":\["dynamodb:Query","dynamodb:UpdateItem"\],"condition":\[\{"test":"ForAllValues:StringEquals","values":\["tokens"\],"variable":"dynamodb:LeadingKeys"\}\]/);
    }
    const dev = JSON.stringify((synthAll({}).dev as any).resource.aws_ecs_task_definition);
    expect(dev).not.toContain('HBS_REQUIRE_TOKEN');
  });
});
