import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { UsageError } from '../../engine/errors';
import { jsonLogger } from '../../engine/logger';
import { parsePolicy } from '../../engine/policy/fleet-policy';
import { runSync } from '../../engine/sync/run-sync';
import { localServerDeps, localStores, localSyncDeps } from '../../engine/wiring/local';
import { MirrorServer } from '../../engine/serve/server';
import { decodeBottleIndex } from '../../engine/bottle-index';
import { bottleIndexKey } from '../../engine/store-layout';
import { publishApi, testSigningKey } from '../fixtures/homebrew-api';
import { FixtureUpstream, startFixtureUpstream } from '../fixtures/upstream-server';
import { synthAll } from '../synth';
import { policyFromEnv } from '../../engine/wiring/aws';

// The fleet's policy in brew's own settings (issue #35, item 5): what it forbids is not mirrored,
// a selection that asks for it is told, and /brew.env hands the settings to brew, which enforces them.
const key = testSigningKey();
const POLICY = [
  '# The fleet forbids these (brew.env syntax)',
  'HOMEBREW_FORBIDDEN_FORMULAE=jq telnet',
  'HOMEBREW_FORBIDDEN_LICENSES=AGPL-3.0-only',
  'HOMEBREW_FORBIDDEN_TAPS=evil/tap',
  'HOMEBREW_ALLOWED_TAPS=acme/tools https://brew.example.org/taps/acme/tools.git',
  '',
].join('\n');

let upstream: FixtureUpstream;
beforeAll(async () => {
  upstream = await startFixtureUpstream();
  publishApi(
    upstream,
    [
      ...['wget', 'jq', 'htop'].map((name) => ({ name, version: '1.0', license: 'GPL-3.0-or-later OR MIT', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(200) }] })),
      // Its license is one the policy forbids: left out like a forbidden name.
      { name: 'mongosh', version: '2.0', license: 'AGPL-3.0-only', bottles: [{ tag: 'arm64_sonoma', bytes: randomBytes(200) }] },
    ],
    key.privateKey,
  );
});
afterAll(() => upstream.close());

describe('the fleet policy', () => {
  test('a policy file is read in brew.env syntax; any other line is a usage error with its line', () => {
    expect(parsePolicy(POLICY, 'policy.env')).toEqual({
      forbiddenFormulae: ['jq', 'telnet'],
      forbiddenCasks: [],
      forbiddenLicenses: ['AGPL-3.0-only'],
      forbiddenTaps: ['evil/tap'],
      allowedTaps: ['acme/tools', 'https://brew.example.org/taps/acme/tools.git'],
    });
    expect(() => parsePolicy('HOMEBREW_FORBIDDEN_FORMULAE=jq\nHOMEBREW_NO_ANALYTICS=1\n', 'policy.env')).toThrow(
      new UsageError('policy.env:2: not one of HOMEBREW_FORBIDDEN_FORMULAE, HOMEBREW_FORBIDDEN_CASKS, HOMEBREW_FORBIDDEN_LICENSES, HOMEBREW_FORBIDDEN_TAPS, HOMEBREW_ALLOWED_TAPS'),
    );
  });

  test('forbidden formulae (by name or license) are not mirrored, whole or selected, and a selection that names one is told; forbidden taps are not mirrored; /brew.env carries the policy as brew reads it', async () => {
    const policy = parsePolicy(POLICY, 'policy.env');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-'));
    const deps = localSyncDeps(root, { log: jsonLogger({}, () => undefined) });
    const whole = await runSync(deps, { apiUrl: upstream.apiRoot, publicKey: key.publicKey, tags: ['arm64_sonoma'], policy });
    expect(whole.published).toBe(true);
    const names = (generation: string) => async () => [...decodeBottleIndex((await localStores(root).objects.getObject(bottleIndexKey(generation)))!)].map((b) => b.image).sort();
    expect(await names(whole.generation!)()).toEqual(['htop', 'wget']);

    const selected = await runSync(deps, {
      apiUrl: upstream.apiRoot,
      publicKey: key.publicKey,
      tags: ['arm64_sonoma'],
      formulae: ['jq', 'wget'],
      taps: [{ name: 'evil/tap', remote: 'https://example.org/evil/homebrew-tap' }],
      publicUrl: 'https://brew.example.org',
      policy,
      maxDropPercent: 100,
    });
    expect(selected.refusedByPolicy).toEqual([
      { kind: 'formula', name: 'jq', reason: 'HOMEBREW_FORBIDDEN_FORMULAE names it' },
      { kind: 'tap', name: 'evil/tap', reason: 'HOMEBREW_FORBIDDEN_TAPS names it' },
    ]);
    expect(selected.published).toBe(true);
    expect(await names(selected.generation!)()).toEqual(['wget']);
    expect(selected.taps).toBeUndefined();

    let base = '';
    const server = new MirrorServer({ ...localServerDeps(root, { log: jsonLogger({}, () => undefined), publicUrl: () => base, policy }) });
    base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
    try {
      const file = path.join(root, 'brew.env');
      fs.writeFileSync(file, await (await fetch(`${base}/brew.env`)).text());
      const { stdout } = await promisify(execFile)('bash', [path.join(__dirname, '../fixtures/brew-env-reader.sh'), file], { env: { PATH: process.env.PATH } });
      expect(stdout).toContain('HOMEBREW_FORBIDDEN_FORMULAE=jq telnet\n');
      expect(stdout).toContain('HOMEBREW_FORBIDDEN_LICENSES=AGPL-3.0-only\n');
      expect(stdout).toContain('HOMEBREW_ALLOWED_TAPS=acme/tools https://brew.example.org/taps/acme/tools.git\n');
    } finally {
      await server.stop(0);
    }
  });
});

describe('the fleet policy in AWS', () => {
  test('HBS_<ENV>_FORBIDDEN_* reach the orchestrator and the mirror as the policy brew reads; a malformed value fails synthesis naming it', () => {
    const stacks = synthAll({ HBS_STAGING_FORBIDDEN_FORMULAE: 'jq,telnet', HBS_STAGING_ALLOWED_TAPS: 'acme/tools' });
    const resources = (stacks.staging as any).resource;
    const orchestrator = Object.values(resources.aws_lambda_function as Record<string, any>).find((f) => String(f.function_name).endsWith('-orchestrator'))!.environment.variables;
    expect(orchestrator).toMatchObject({ HBS_FORBIDDEN_FORMULAE: 'jq telnet', HBS_ALLOWED_TAPS: 'acme/tools' });
    expect(policyFromEnv(orchestrator)).toEqual({ forbiddenFormulae: ['jq', 'telnet'], forbiddenCasks: [], forbiddenLicenses: [], forbiddenTaps: [], allowedTaps: ['acme/tools'] });
    const mirror = Object.values(resources.aws_ecs_task_definition as Record<string, any>).find((t) => String(t.family).endsWith('-mirror'))!;
    const env = JSON.parse(mirror.container_definitions)[0].environment as { name: string; value: string }[];
    expect(env).toContainEqual({ name: 'HBS_FORBIDDEN_FORMULAE', value: 'jq telnet' });
    expect(JSON.stringify((stacks.prod as any).resource.aws_lambda_function)).not.toContain('HBS_FORBIDDEN_');
    expect(() => synthAll({ HBS_DEV_FORBIDDEN_CASKS: 'zoom "quoted"' })).toThrow(/HBS_DEV_FORBIDDEN_\*:1: "\\"quoted\\"" is not a name, license or URL/);
  });
});
