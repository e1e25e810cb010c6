import { ConfigurationError, errorKind } from '../../engine/errors';
import * as fs from 'fs';
import * as path from 'path';
import { BREW_SYNC_ENV, BYTE_BUDGET_ENV, MIRROR_SERVICE_ENV, ORCHESTRATOR_ENV, PULL_THROUGH_ENV, STANDBY_MIRROR_SERVICE_ENV, brewSyncEnvironment, pullThroughFromEnv } from '../../engine/runtime-config';
import { awsMirrorService, brewFromEnv, routingFromEnv } from '../../engine/wiring/aws';
import { jsonLogger } from '../../engine/logger';

// Runtime configuration is parsed strictly, before any connection is opened:
// a typo in the task definition stops the task at start with the variable's name.
const mirrorEnv: Record<string, string> = {
  [MIRROR_SERVICE_ENV.environment]: 'prod',
  [MIRROR_SERVICE_ENV.bottleBucket]: 'prod-brew-bottles',
  [MIRROR_SERVICE_ENV.stateTable]: 'prod-brew-state',
  // Port 1 on loopback: if the parser let a bad value through, connecting would fail differently.
  [MIRROR_SERVICE_ENV.cacheEndpoint]: '127.0.0.1',
  [MIRROR_SERVICE_ENV.cachePort]: '1',
  [MIRROR_SERVICE_ENV.cacheUser]: 'prod-brew-cache-mirror',
  [MIRROR_SERVICE_ENV.cacheReplicationGroup]: 'prod-brew-cache',
  [MIRROR_SERVICE_ENV.metricsNamespace]: 'HomebrewMirror',
  [MIRROR_SERVICE_ENV.port]: '8080',
  [MIRROR_SERVICE_ENV.mode]: 'redirect',
  [MIRROR_SERVICE_ENV.publicUrl]: 'https://bottles.acme.dev',
  [MIRROR_SERVICE_ENV.byteBudgetPerHour]: '20G',
};
const quiet = jsonLogger({}, () => undefined);

describe('AWS wiring reads its configuration strictly', () => {
  test.each([
    [MIRROR_SERVICE_ENV.mode, 'redirekt', /HBS_SERVE_MODE must be one of redirect, proxy, not "redirekt"/],
    [MIRROR_SERVICE_ENV.mode, 'PROXY', /HBS_SERVE_MODE must be one of redirect, proxy/],
    [MIRROR_SERVICE_ENV.port, '80a', /HBS_PORT must be a positive integer, not "80a"/],
    [MIRROR_SERVICE_ENV.port, '0', /HBS_PORT must be a positive integer/],
    [MIRROR_SERVICE_ENV.publicUrl, 'bottles.acme.dev', /HBS_PUBLIC_URL="bottles\.acme\.dev" is not a URL/],
    [MIRROR_SERVICE_ENV.publicUrl, 'https://bottles.acme.dev/x y', /HBS_PUBLIC_URL=.* must be an http\(s\) URL without/],
    [BYTE_BUDGET_ENV, '20 gigs', /HBS_BYTE_BUDGET_PER_HOUR must be a size such as 20G, not "20 gigs"/],
    [BYTE_BUDGET_ENV, '0', /HBS_BYTE_BUDGET_PER_HOUR must be a size such as 20G, not "0"/],
    [PULL_THROUGH_ENV.enabled, 'yes', /HBS_PULL_THROUGH must be "true" or "false", not "yes"/],
  ])('%s=%p fails fast as a configuration error', async (variable, value, message) => {
    const failure = awsMirrorService(quiet, () => undefined, { ...mirrorEnv, [variable]: value });
    await expect(failure).rejects.toThrow(message);
    await expect(failure).rejects.toBeInstanceOf(ConfigurationError);
    expect(errorKind(await failure.catch((e) => e))).toBe('usage');
  });

  test.each([
    [PULL_THROUGH_ENV.maxPulls, '0', /HBS_MAX_PULLS must be a positive integer/],
    [PULL_THROUGH_ENV.registryUrl, 'http://ghcr.io', /HBS_REGISTRY_URL: refusing plain http outside loopback/],
    [PULL_THROUGH_ENV.registryUrl, 'https://169.254.169.254', /HBS_REGISTRY_URL: refusing link-local or metadata address 169\.254\.169\.254/],
  ])('with pull-through on, %s=%p fails fast (issue #24)', async (variable, value, message) => {
    const failure = awsMirrorService(quiet, () => undefined, { ...mirrorEnv, [PULL_THROUGH_ENV.enabled]: 'true', [variable]: value });
    await expect(failure).rejects.toThrow(message);
    await expect(failure).rejects.toBeInstanceOf(ConfigurationError);
  });

  test('pull-through settings: off unless "true"; on, the registry defaults to ghcr.io and the cap to 8', () => {
    expect(pullThroughFromEnv({})).toBeUndefined();
    expect(pullThroughFromEnv({ [PULL_THROUGH_ENV.enabled]: 'false', [PULL_THROUGH_ENV.maxPulls]: 'many' })).toBeUndefined();
    expect(pullThroughFromEnv({ [PULL_THROUGH_ENV.enabled]: 'true' })).toEqual({ registryUrl: 'https://ghcr.io', maxPulls: 8 });
    expect(pullThroughFromEnv({ [PULL_THROUGH_ENV.enabled]: 'true', [PULL_THROUGH_ENV.maxPulls]: '3', [PULL_THROUGH_ENV.registryUrl]: 'https://registry.internal' })).toEqual({ registryUrl: 'https://registry.internal', maxPulls: 3 });
  });

  test('a missing variable is named', async () => {
    const { [MIRROR_SERVICE_ENV.stateTable]: _dropped, ...partial } = mirrorEnv;
    await expect(awsMirrorService(quiet, () => undefined, partial)).rejects.toThrow('missing required environment variable(s): HBS_STATE_TABLE');
  });

  test('the Lambda threshold must be a positive integer; absent means the default', () => {
    expect(() => routingFromEnv({ [ORCHESTRATOR_ENV.lambdaThresholdBytes]: '20GB' })).toThrow(/HBS_LAMBDA_THRESHOLD_BYTES must be a positive integer/);
    expect(routingFromEnv({ [ORCHESTRATOR_ENV.lambdaThresholdBytes]: '1024' }).lambdaThresholdBytes).toBe(1024);
    expect(routingFromEnv({}).lambdaThresholdBytes).toBe(20 * 1024 ** 3);
  });

  test('mirroring brew is on or off by the stack, never by a missing or misspelt value', () => {
    expect(brewFromEnv(brewSyncEnvironment({}))).toEqual({ releases: 3 });
    expect(brewFromEnv(brewSyncEnvironment({ mirrorBrew: true, brewReleases: 5 }))).toEqual({ releases: 5 });
    expect(brewFromEnv(brewSyncEnvironment({ mirrorBrew: false }))).toBeUndefined();
    expect(() => brewFromEnv({ [BREW_SYNC_ENV.mirrorBrew]: 'yes', [BREW_SYNC_ENV.brewReleases]: '3' })).toThrow(/HBS_MIRROR_BREW must be one of true, false, not "yes"/);
    expect(() => brewFromEnv({ [BREW_SYNC_ENV.mirrorBrew]: 'true', [BREW_SYNC_ENV.brewReleases]: 'three' })).toThrow(/HBS_BREW_RELEASES must be a positive integer/);
    expect(() => brewFromEnv({ [BREW_SYNC_ENV.mirrorBrew]: 'true' })).toThrow(/HBS_BREW_RELEASES/);
  });

  test("the sync task's image has git (the brew phase runs there); the mirror service's does not", () => {
    const dockerfile = fs.readFileSync(path.join(__dirname, '../../containers/Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/if \[ "\$SERVICE" = sync-task \]; then[^]*apt-get install -y --no-install-recommends git ca-certificates/);
    expect(runtime).toMatch(/^ARG SERVICE$/m); // an ARG before FROM is not visible after it
  });

  describe('the standby mirror (HBS_STANDBY=true)', () => {
    const standbyEnv: Record<string, string> = {
      [STANDBY_MIRROR_SERVICE_ENV.environment]: 'prod',
      [STANDBY_MIRROR_SERVICE_ENV.bottleBucket]: 'prod-brew-bottles-replica-1',
      [STANDBY_MIRROR_SERVICE_ENV.stateTable]: 'prod-brew-state',
      [STANDBY_MIRROR_SERVICE_ENV.metricsNamespace]: 'HomebrewMirror',
      [STANDBY_MIRROR_SERVICE_ENV.port]: '8080',
      [STANDBY_MIRROR_SERVICE_ENV.mode]: 'redirect',
      [STANDBY_MIRROR_SERVICE_ENV.publicUrl]: 'https://bottles.acme.dev',
      [STANDBY_MIRROR_SERVICE_ENV.byteBudgetPerHour]: '3600',
      [STANDBY_MIRROR_SERVICE_ENV.standby]: 'true',
    };

    test('needs no cache, limits rates per task, and gates each generation switch on its objects (as every AWS mirror)', async () => {
      const service = await awsMirrorService(quiet, () => undefined, standbyEnv);
      expect(service.deps.verifyCompleteness).toBe(true);
      expect(service.deps.publicUrl).toBe('https://bottles.acme.dev');
      expect(service.deps.limiter.backend).toBe('memory');
      expect(service.deps.byteBudget.backend).toBe('memory');
      // The configured budget, not the default: 3600 bytes an hour admits one 5000-byte bottle, then waits.
      expect((service.deps.byteBudget.take('192.0.2.1', 5000) as { allowed: boolean }).allowed).toBe(true);
      expect(service.deps.byteBudget.take('192.0.2.1', 1)).toEqual({ allowed: false, retryAfterSeconds: 1401 });
      expect([service.port, service.mode]).toEqual([8080, 'redirect']);
      service.close();
    });

    test('the primary never runs without its shared limiter', async () => {
      const { [STANDBY_MIRROR_SERVICE_ENV.standby]: _standby, ...primaryWithoutCache } = standbyEnv;
      await expect(awsMirrorService(quiet, () => undefined, primaryWithoutCache)).rejects.toThrow(
        'missing required environment variable(s): HBS_CACHE_ENDPOINT, HBS_CACHE_PORT, HBS_CACHE_USER, HBS_CACHE_REPLICATION_GROUP',
      );
    });

    test('never pulls through: it serves the DR replica, which only replication writes (issue #24)', async () => {
      const refused = awsMirrorService(quiet, () => undefined, { ...standbyEnv, [PULL_THROUGH_ENV.enabled]: 'true' });
      await expect(refused).rejects.toThrow('HBS_PULL_THROUGH: the standby mirror never pulls through; unset it');
      await expect(refused).rejects.toBeInstanceOf(ConfigurationError);
    });

    test('a value other than "true" is refused, and a missing variable is named', async () => {
      const typo = awsMirrorService(quiet, () => undefined, { ...standbyEnv, HBS_STANDBY: 'yes' });
      await expect(typo).rejects.toThrow('HBS_STANDBY must be "true" or unset, not "yes"');
      await expect(typo).rejects.toBeInstanceOf(ConfigurationError);
      const { [STANDBY_MIRROR_SERVICE_ENV.bottleBucket]: _bucket, ...partial } = standbyEnv;
      await expect(awsMirrorService(quiet, () => undefined, partial)).rejects.toThrow('missing required environment variable(s): HBS_BOTTLE_BUCKET');
    });
  });
});
