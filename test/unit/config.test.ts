import { ENVIRONMENT_NAMES } from '../../config/environment-config';
import { loadEnvironmentConfig, placeholderProblems } from '../../config/load-environment';
import { ConfigurationError } from '../../engine/errors';

describe('environment configuration', () => {
  test('example defaults load for every environment and are flagged as placeholders', () => {
    for (const name of ENVIRONMENT_NAMES) {
      const config = loadEnvironmentConfig(name, {});
      expect(config.name).toBe(name);
      expect(config.availabilityZones).toHaveLength(3);
      const problems = placeholderProblems(config);
      expect(problems.join('\n')).toMatch(new RegExp(`HBS_${name.toUpperCase()}_DOMAIN_NAME`));
      // prod's standby adds its own certificate and state bucket; prod and staging are closed until told who may connect.
      expect(problems).toHaveLength({ prod: 7, staging: 5, dev: 4 }[name]);
      if (name !== 'dev') expect(problems).toContain(`HBS_${name.toUpperCase()}_ALLOWED_CIDRS is not set, so no client may reach the mirror; set the networks that may (e.g. 10.0.0.0/8,192.168.0.0/16), or 0.0.0.0/0 to open it to the whole internet and pay the S3 egress of whoever downloads (docs/configuration.md)`);
    }
  });

  test('only prod is on-demand with a NAT per AZ', () => {
    const prod = loadEnvironmentConfig('prod', {});
    const staging = loadEnvironmentConfig('staging', {});
    expect([prod.fargateSpot, prod.natGateways]).toEqual([false, 'one-per-az']);
    expect([staging.fargateSpot, staging.natGateways]).toEqual([true, 'single']);
    expect(prod.alarms.orchestratorErrors).toBeLessThan(staging.alarms.orchestratorErrors);
  });

  test('HBS_<ENV>_* variables override the example values', () => {
    const config = loadEnvironmentConfig('prod', {
      HBS_PROD_DOMAIN_NAME: 'bottles.acme.dev',
      HBS_PROD_CERTIFICATE_ARN: 'arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      HBS_PROD_ALARM_EMAIL: 'oncall@acme.dev',
      HBS_PROD_STATE_BUCKET: 'acme-tfstate',
      HBS_PROD_ALB_SCHEME: 'internal',
      HBS_PROD_DR_CERTIFICATE_ARN: 'arn:aws:acm:us-west-2:111122223333:certificate/1f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      HBS_PROD_DR_STATE_BUCKET: 'acme-tfstate-dr',
      HBS_PROD_ALLOWED_CIDRS: '10.0.0.0/8,192.168.0.0/16',
    });
    expect(config.domainName).toBe('bottles.acme.dev');
    expect(config.mirrorService.allowedCidrs).toEqual(['10.0.0.0/8', '192.168.0.0/16']);
    expect(config.mirrorService.albScheme).toBe('internal');
    expect(config.remoteState).toEqual({
      bucket: 'acme-tfstate',
      region: 'us-east-1',
      key: 'homebrew-bottles-sync/prod/terraform.tfstate',
    });
    expect(placeholderProblems(config)).toEqual([]);
  });

  test('another region gets its own AZs and certificate placeholder', () => {
    const config = loadEnvironmentConfig('staging', { HBS_STAGING_REGION: 'eu-west-1', HBS_STAGING_DR_REGION: 'eu-central-1' });
    expect(config.availabilityZones).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
    expect(config.certificateArn).toContain(':acm:eu-west-1:');
  });

  test.each([
    [{ HBS_DEV_REGION: 'mars-north-1x' }, /HBS_DEV_REGION="mars-north-1x" is not a valid AWS region/],
    [{ HBS_DEV_DR_REGION: 'us-east-1' }, /HBS_DEV_DR_REGION must differ/],
    [{ HBS_DEV_ALARM_EMAIL: 'not-an-address' }, /HBS_DEV_ALARM_EMAIL="not-an-address" is not a valid e-mail address/],
    [{ HBS_DEV_CERTIFICATE_ARN: 'arn:aws:iam::1:role/x' }, /not a valid ACM certificate ARN/],
    [{ HBS_DEV_DOMAIN_NAME: 'https://bottles.acme.dev' }, /not a valid host name/],
    [{ HBS_DEV_ALB_SCHEME: 'public' }, /HBS_DEV_ALB_SCHEME must be "internet-facing" or "internal"/],
    [{ HBS_DEV_STATE_LOCK_TABLE: 'old-lock-table' }, /HBS_DEV_STATE_LOCK_TABLE is no longer used/],
    [{ HBS_DEV_AVAILABILITY_ZONES: 'us-east-1a,us-east-1b' }, /exactly three zones/],
    [{ HBS_DEV_IMAGE_TAG: 'has spaces' }, /not a valid container image tag/],
  ])('rejects %p with a clear message', (env, message) => {
    expect(() => loadEnvironmentConfig('dev', env)).toThrow(ConfigurationError);
    expect(() => loadEnvironmentConfig('dev', env)).toThrow(message);
  });
});

describe('synthesis with a bad HBS_* value', () => {
  test('stops with one line naming the variable and exit 2, no stack trace', () => {
    const { spawnSync } = require('child_process') as typeof import('child_process');
    const path = require('path') as typeof import('path');
    const root = path.resolve(__dirname, '../..');
    const run = spawnSync(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'main.ts'], {
      cwd: root,
      env: { ...process.env, HBS_PROD_REGION: 'mars-1', CDKTF_OUTDIR: require('os').tmpdir() },
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('synth: HBS_PROD_REGION="mars-1" is not a valid AWS region\n');
  });

  describe('the DR standby', () => {
    test('prod has one by default, in us-west-2 with its own VPC range; dev and staging do not', () => {
      const prod = loadEnvironmentConfig('prod', {});
      expect(prod.standby).toMatchObject({ availabilityZones: ['us-west-2a', 'us-west-2b', 'us-west-2c'], vpcCidr: '10.31.0.0/16', minTasks: 2, failoverRequestsPer5Min: 2000 });
      expect(prod.standby!.remoteState).toBeUndefined();
      expect(loadEnvironmentConfig('staging', {}).standby).toBeUndefined();
      expect(loadEnvironmentConfig('dev', {}).standby).toBeUndefined();
      expect(loadEnvironmentConfig('prod', { HBS_PROD_STANDBY: 'false' }).standby).toBeUndefined();
    });

    test('HBS_<ENV>_STANDBY=true gives staging one, derived from its DR region and VPC range', () => {
      const staging = loadEnvironmentConfig('staging', { HBS_STAGING_STANDBY: 'true', HBS_STAGING_DR_REGION: 'us-east-2', HBS_STAGING_DR_STATE_BUCKET: 'acme-dr' });
      expect(staging.standby).toMatchObject({
        availabilityZones: ['us-east-2a', 'us-east-2b', 'us-east-2c'],
        vpcCidr: '10.21.0.0/16',
        certificateArn: 'arn:aws:acm:us-east-2:000000000000:certificate/00000000-0000-0000-0000-000000000000',
        remoteState: { bucket: 'acme-dr', region: 'us-east-2', key: 'homebrew-bottles-sync/staging/standby.tfstate' },
      });
    });

    test('with a hosted zone and no DR certificate, the standby requests its own', () => {
      expect(loadEnvironmentConfig('prod', { HBS_PROD_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ' }).standby!.certificateArn).toBeUndefined();
    });

    test('bad standby settings are one line naming the variable', () => {
      expect(() => loadEnvironmentConfig('prod', { HBS_PROD_STANDBY: 'yes' })).toThrow(new ConfigurationError('HBS_PROD_STANDBY="yes" must be true or false'));
      expect(() => loadEnvironmentConfig('prod', { HBS_PROD_DR_AVAILABILITY_ZONES: 'us-east-1a,us-east-1b,us-east-1c' })).toThrow(
        /HBS_PROD_DR_AVAILABILITY_ZONES must list exactly three zones of us-west-2/,
      );
      expect(() => loadEnvironmentConfig('prod', { HBS_PROD_DR_CERTIFICATE_ARN: 'cert-1' })).toThrow(/HBS_PROD_DR_CERTIFICATE_ARN="cert-1" is not a valid ACM certificate ARN/);
      // Route 53 health checks cannot reach an internal ALB, so a failover domain needs an internet-facing one.
      expect(() => loadEnvironmentConfig('prod', { HBS_PROD_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ', HBS_PROD_ALB_SCHEME: 'internal' })).toThrow(
        /HBS_PROD_STANDBY with HBS_PROD_HOSTED_ZONE_ID needs an internet-facing ALB/,
      );
    });
  });
});

