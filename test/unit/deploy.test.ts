import { loadEnvironmentConfig } from '../../config/load-environment';
import { DeployClients, DeployDeps, DeployError, deploy } from '../../scripts/deploy/deploy';
import { coversDomain, preflight } from '../../scripts/deploy/preflight';
import { CommandResult, RunOptions } from '../../scripts/deploy/runner';

/*
 * The deploy's control-plane steps have no local peer: AWS clients are
 * recorded (every request asserted), commands are recorded as argument lists
 * (docker, terraform, git), and HTTP is a stub.
 */
const CERT = 'arn:aws:acm:us-east-1:111122223333:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
const DR_CERT = 'arn:aws:acm:us-west-2:111122223333:certificate/1f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
const ready = {
  HBS_PROD_DOMAIN_NAME: 'bottles.acme.dev',
  HBS_PROD_CERTIFICATE_ARN: CERT,
  HBS_PROD_ALARM_EMAIL: 'oncall@acme.dev',
  HBS_PROD_STATE_BUCKET: 'acme-tfstate',
  HBS_PROD_ALLOWED_CIDRS: '0.0.0.0/0',
};
/** prod without its standby: the primary's flow alone. */
const config = loadEnvironmentConfig('prod', { ...ready, HBS_PROD_STANDBY: 'false' });
/** prod as shipped, with its standby in us-west-2. */
const standbyConfig = loadEnvironmentConfig('prod', { ...ready, HBS_PROD_DR_CERTIFICATE_ARN: DR_CERT, HBS_PROD_DR_STATE_BUCKET: 'acme-tfstate-dr' });

type Responder = (input: Record<string, unknown>) => unknown;

/** A client answering by command name and recording `[CommandName, input]`. */
function client(sent: [string, unknown][], answers: Record<string, Responder>) {
  return {
    send: async (command: object) => {
      const name = command.constructor.name;
      const input = (command as { input: Record<string, unknown> }).input;
      sent.push([name, input]);
      const answer = answers[name];
      if (!answer) throw new Error(`unexpected ${name}`);
      return answer(input);
    },
  };
}

interface World {
  sent: [string, unknown][];
  commands: { command: string; args: readonly string[]; options?: RunOptions }[];
  clients: DeployClients;
  results: Map<string, CommandResult>;
}

function world(overrides: Partial<Record<string, Responder>> = {}): World {
  const sent: [string, unknown][] = [];
  const answers: Record<string, Responder> = {
    GetCallerIdentityCommand: () => ({ Account: '111122223333', Arn: 'arn:aws:sts::111122223333:assumed-role/deployer/ci' }),
    GetAccountSettingsCommand: () => ({ AccountLimit: { ConcurrentExecutions: 1000 } }),
    ListMetricsCommand: () => ({ Metrics: [{ MetricName: 'EstimatedCharges' }] }),
    DescribeCertificateCommand: () => ({ Certificate: { Status: 'ISSUED', DomainName: '*.acme.dev', SubjectAlternativeNames: ['*.acme.dev'] } }),
    HeadBucketCommand: () => ({}),
    DescribeRegistryCommand: () => ({ registryId: '111122223333', replicationConfiguration: { rules: [] } }),
    GetAuthorizationTokenCommand: () => ({ authorizationData: [{ authorizationToken: Buffer.from('AWS:ecr-password').toString('base64') }] }),
    InvokeCommand: () => ({ StatusCode: 202 }),
    DescribeServicesCommand: () => ({ services: [{ runningCount: 3, desiredCount: 3, deployments: [{ rolloutState: 'COMPLETED' }] }] }),
    ...overrides,
  } as Record<string, Responder>;
  const c = client(sent, answers);
  return {
    sent,
    commands: [],
    clients: { sts: c, lambda: c, billingCloudWatch: c, acm: c, stateS3: c, ecr: c, ecs: c, standby: { acm: c, stateS3: c, registry: c }, standbyRuntime: { ecr: c, ecs: c } },
    results: new Map(),
  };
}

function runner(w: World) {
  return async (command: string, args: readonly string[], options?: RunOptions): Promise<CommandResult> => {
    w.commands.push({ command, args, options });
    const key = `${command} ${args.join(' ')}`;
    for (const [prefix, result] of w.results) if (key.startsWith(prefix)) return result;
    if (command === 'docker' && args[0] === 'version') return { code: 0, stdout: '27.3.1\n', stderr: '' };
    if (command === 'git' && args[0] === 'status') return { code: 0, stdout: '', stderr: '' };
    if (command === 'git' && args[0] === 'rev-parse') return { code: 0, stdout: '0123456789ab\n', stderr: '' };
    if (command === 'terraform' && args.includes('output') && args[0].endsWith('prod-standby')) {
      return {
        code: 0,
        stdout: JSON.stringify({
          alb_dns_name: { value: 'prod-brew-standby-mirror-alb-1.us-west-2.elb.amazonaws.com' },
          environment_config: { value: { ecs_cluster: 'prod-brew-standby-cluster', mirror_service: 'prod-brew-standby-mirror' } },
        }),
        stderr: '',
      };
    }
    if (command === 'terraform' && args.includes('output')) {
      return {
        code: 0,
        stdout: JSON.stringify({
          mirror_url: { value: 'https://bottles.acme.dev' },
          alb_dns_name: { value: 'prod-brew-mirror-alb-1.us-east-1.elb.amazonaws.com' },
          environment_config: { value: { ecs_cluster: 'prod-brew-cluster', mirror_service: 'prod-brew-mirror' } },
        }),
        stderr: '',
      };
    }
    return { code: 0, stdout: '', stderr: '' };
  };
}

const published = {
  '/health': { status: 200, body: '{"status":"ok"}' },
  '/status': { status: 200, body: JSON.stringify({ generation: { id: 'g1', files: ['formula.jws.json', 'internal/packages.arm64_sequoia.jws.json'] } }) },
  '/api/internal/packages.arm64_sequoia.jws.json': {
    status: 200,
    body: JSON.stringify({ payload: JSON.stringify({ formulae: { 'openssl@3': { bottle_checksum: 'a'.repeat(64) } } }), signatures: [] }),
  },
  ['/v2/homebrew/core/openssl/3/blobs/sha256:' + 'a'.repeat(64)]: { status: 302, body: '' },
};

function deps(w: World, pages: Record<string, { status: number; body: string }> = published): DeployDeps & { logged: string[]; fetched: string[]; synthesized: string[] } {
  const synthesized: string[] = [];
  const logged: string[] = [];
  const fetched: string[] = [];
  return {
    config,
    clients: w.clients,
    run: runner(w),
    synth: async (tag) => {
      synthesized.push(tag);
      return '/repo/cdktf.out/stacks/prod';
    },
    get: async (url, method = 'GET') => {
      fetched.push(`${method} ${url}`);
      return pages[new URL(url).pathname] ?? { status: 404, body: '' };
    },
    log: (line) => logged.push(line),
    sleep: async () => undefined,
    root: '/repo',
    autoApprove: true,
    logged,
    fetched,
    synthesized,
  };
}

describe('preflight', () => {
  test('a ready account: every check passes, with exactly these requests', async () => {
    const w = world();
    const result = await preflight(config, w.clients, runner(w));
    expect(result.problems).toEqual([]);
    expect(result.accountId).toBe('111122223333');
    expect(w.sent).toEqual([
      ['GetCallerIdentityCommand', {}],
      ['GetAccountSettingsCommand', {}],
      ['ListMetricsCommand', { Namespace: 'AWS/Billing', MetricName: 'EstimatedCharges' }],
      ['DescribeCertificateCommand', { CertificateArn: CERT }],
      ['HeadBucketCommand', { Bucket: 'acme-tfstate' }],
    ]);
    expect(w.commands.map((c) => [c.command, ...c.args])).toEqual([['docker', 'version', '--format', '{{.Server.Version}}']]);
  });

  test('a new account: the concurrency quota, billing metrics, the certificate, the state bucket and Docker are each named with what to do', async () => {
    const w = world({
      GetAccountSettingsCommand: () => ({ AccountLimit: { ConcurrentExecutions: 50 } }),
      ListMetricsCommand: () => ({ Metrics: [] }),
      DescribeCertificateCommand: () => ({ Certificate: { Status: 'PENDING_VALIDATION', DomainName: 'bottles.acme.dev' } }),
      HeadBucketCommand: () => {
        throw Object.assign(new Error('Not Found'), { name: 'NotFound' });
      },
    });
    w.results.set('docker version', { code: 127, stdout: '', stderr: 'spawn docker ENOENT' });
    const { problems } = await preflight(config, w.clients, runner(w));
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/allows 50 concurrent executions; this environment reserves 51 and AWS keeps 100 unreserved, so it needs at least 151.*L-B99A9384/);
    expect(problems[1]).toMatch(/no AWS\/Billing EstimatedCharges metric in us-east-1.*Receive Billing Alerts/);
    expect(problems[2]).toMatch(/is PENDING_VALIDATION, not ISSUED/);
    expect(problems[3]).toMatch(/cannot reach bucket acme-tfstate in us-east-1 \(NotFound\)/);
    expect(problems[4]).toMatch(/^docker: no Docker engine answers \(spawn docker ENOENT\)/); // a missing engine is an error, never a skip
  });

  test('a certificate for another name, or from another region, is refused', async () => {
    const w = world({ DescribeCertificateCommand: () => ({ Certificate: { Status: 'ISSUED', DomainName: 'www.acme.dev' } }) });
    expect((await preflight(config, w.clients, runner(w))).problems).toEqual([`certificate: ${CERT} covers www.acme.dev, not bottles.acme.dev`]);
    const elsewhere = { ...config, certificateArn: CERT.replace('us-east-1', 'eu-west-1') };
    expect((await preflight(elsewhere, world().clients, runner(world()))).problems[0]).toMatch(/is in eu-west-1; the ALB in us-east-1 needs one from us-east-1/);
  });

  test('example values stop it before any AWS call', async () => {
    const w = world();
    const { problems } = await preflight(loadEnvironmentConfig('prod', {}), w.clients, runner(w));
    expect(problems.join('\n')).toMatch(/HBS_PROD_DOMAIN_NAME is the placeholder/);
    expect(w.sent).toEqual([]);
    expect(w.commands).toEqual([]);
  });

  test('wildcard certificates cover one label', () => {
    expect(coversDomain('*.acme.dev', 'bottles.acme.dev')).toBe(true);
    expect(coversDomain('*.acme.dev', 'a.b.acme.dev')).toBe(false);
    expect(coversDomain('bottles.acme.dev', 'BOTTLES.acme.dev')).toBe(true);
    expect(coversDomain('acme.dev', 'bottles.acme.dev')).toBe(false);
  });
});

describe('npm run deploy -- prod', () => {
  test('the staged flow: repositories, images (linux/amd64, commit tag), the rest, first sync, health, smoke, settings', async () => {
    const w = world();
    const d = deps(w);
    await expect(deploy(d)).resolves.toEqual({ imageTag: 'git-0123456789ab', mirrorUrl: 'https://bottles.acme.dev' });
    expect(d.synthesized).toEqual(['git-0123456789ab']); // the task definitions name the image just pushed
    const registry = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
    expect(w.commands.map((c) => [c.command, ...c.args])).toEqual([
      ['docker', 'version', '--format', '{{.Server.Version}}'],
      ['git', 'status', '--porcelain'],
      ['git', 'rev-parse', '--short=12', 'HEAD'],
      ['terraform', '-chdir=/repo/cdktf.out/stacks/prod', 'init', '-input=false'],
      ['terraform', '-chdir=/repo/cdktf.out/stacks/prod', 'apply', '-input=false', '-auto-approve', '-target=aws_ecr_repository.sync_repo_repo', '-target=aws_ecr_repository.mirror_repo_repo'],
      ['docker', 'login', '--username', 'AWS', '--password-stdin', registry],
      ['docker', 'build', '--platform', 'linux/amd64', '-f', 'containers/Dockerfile', '--build-arg', 'SERVICE=sync-task', '-t', `${registry}/prod-brew/sync-task:git-0123456789ab`, '.'],
      ['docker', 'push', `${registry}/prod-brew/sync-task:git-0123456789ab`],
      ['docker', 'build', '--platform', 'linux/amd64', '-f', 'containers/Dockerfile', '--build-arg', 'SERVICE=mirror-service', '-t', `${registry}/prod-brew/mirror-service:git-0123456789ab`, '.'],
      ['docker', 'push', `${registry}/prod-brew/mirror-service:git-0123456789ab`],
      ['terraform', '-chdir=/repo/cdktf.out/stacks/prod', 'apply', '-input=false', '-auto-approve'],
      ['terraform', '-chdir=/repo/cdktf.out/stacks/prod', 'output', '-json'],
    ]);
    // The registry password goes through stdin, never the argument list.
    expect(w.commands.find((c) => c.args[0] === 'login')!.options).toEqual({ input: 'ecr-password' });
    expect(w.commands.find((c) => c.args[0] === 'build')!.options).toMatchObject({ cwd: '/repo' });
    const control = w.sent.slice(5).map(([name, input]) => [name, name === 'InvokeCommand' ? { ...(input as object), Payload: JSON.parse(Buffer.from((input as { Payload: Uint8Array }).Payload).toString()) } : input]);
    expect(control).toEqual([
      ['GetAuthorizationTokenCommand', {}],
      ['InvokeCommand', { FunctionName: 'prod-brew-orchestrator', InvocationType: 'Event', Payload: { source: 'deploy', trigger: 'git-0123456789ab' } }],
      ['DescribeServicesCommand', { cluster: 'prod-brew-cluster', services: ['prod-brew-mirror'] }],
    ]);
    expect(d.fetched).toEqual([
      'GET https://bottles.acme.dev/health',
      'GET https://bottles.acme.dev/status',
      'GET https://bottles.acme.dev/api/internal/packages.arm64_sequoia.jws.json',
      `HEAD https://bottles.acme.dev/v2/homebrew/core/openssl/3/blobs/sha256:${'a'.repeat(64)}`,
    ]);
    expect(d.logged.slice(-7)).toEqual([
      '  export HOMEBREW_API_DOMAIN=https://bottles.acme.dev/api',
      '  export HOMEBREW_BOTTLE_DOMAIN=https://bottles.acme.dev/bottles',
      '  export HOMEBREW_ARTIFACT_DOMAIN=https://bottles.acme.dev',
      '  export HOMEBREW_ARTIFACT_DOMAIN_NO_FALLBACK=1',
      '  export HOMEBREW_NO_ANALYTICS=1',
      'or ship https://bottles.acme.dev/brew.env to every machine as /etc/homebrew/brew.env.',
      'The first sync is running; `npm run smoke -- prod` passes once it has published.',
    ]);
  });

  test('without --yes Terraform asks before each apply', async () => {
    const w = world();
    await deploy({ ...deps(w), autoApprove: false });
    expect(w.commands.filter((c) => c.args[1] === 'apply').every((c) => !c.args.includes('-auto-approve'))).toBe(true);
  });

  test('stops at the first problem: preflight, a dirty tree, a failed repository apply, a failed rollout', async () => {
    const noDocker = world();
    noDocker.results.set('docker version', { code: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon' });
    await expect(deploy(deps(noDocker))).rejects.toThrow(/preflight found 1 problem\(s\):\n  - docker: no Docker engine answers \(Cannot connect to the Docker daemon\)/);
    expect(noDocker.commands.map((c) => c.command)).toEqual(['docker']);

    const dirty = world();
    dirty.results.set('git status', { code: 0, stdout: ' M README.md\n', stderr: '' });
    await expect(deploy(deps(dirty))).rejects.toThrow(/uncommitted changes/);
    expect(dirty.commands.some((c) => c.command === 'terraform')).toBe(false);

    const repos = world();
    repos.results.set('terraform -chdir=/repo/cdktf.out/stacks/prod apply -input=false -auto-approve -target', { code: 1, stdout: '', stderr: 'Error: creating ECR Repository: AccessDenied' });
    await expect(deploy(deps(repos))).rejects.toThrow(new DeployError('terraform apply failed (exit 1):\n    Error: creating ECR Repository: AccessDenied'));
    expect(repos.commands.some((c) => c.command === 'docker' && c.args[0] === 'build')).toBe(false);

    const rollout = world({ DescribeServicesCommand: () => ({ services: [{ runningCount: 0, desiredCount: 3, deployments: [{ rolloutState: 'FAILED', rolloutStateReason: 'tasks failed to start' }] }] }) });
    await expect(deploy(deps(rollout))).rejects.toThrow(/deployment failed: tasks failed to start/);
  });

  test('a deployed stack the public URL does not reach says where the domain must point', async () => {
    const w = world();
    await expect(deploy(deps(w, {}))).rejects.toThrow(/bottles\.acme\.dev\/health: 404[\s\S]*is bottles\.acme\.dev pointing at prod-brew-mirror-alb-1\.us-east-1\.elb\.amazonaws\.com\?/);
  });
});

describe('npm run deploy -- prod, with its standby in the DR region', () => {
  test('preflight also checks the standby certificate (in us-west-2) and the standby state bucket, with exactly these requests', async () => {
    const w = world();
    const result = await preflight(standbyConfig, w.clients, runner(w));
    expect(result.problems).toEqual([]);
    expect(w.sent.slice(3)).toEqual([
      ['DescribeCertificateCommand', { CertificateArn: CERT }],
      ['HeadBucketCommand', { Bucket: 'acme-tfstate' }],
      ['DescribeCertificateCommand', { CertificateArn: DR_CERT }],
      ['HeadBucketCommand', { Bucket: 'acme-tfstate-dr' }],
      ['DescribeRegistryCommand', {}],
    ]);
    expect(result.ok).toContain('standby state: s3://acme-tfstate-dr/homebrew-bottles-sync/prod/standby.tfstate');
    expect(result.ok).toContain('registry replication: ECR in us-east-1 has no other rule');
  });

  test('issue #25 fault 4: a registry that already replicates another environment is refused, since this apply would replace its rule', async () => {
    const rules = (...filters: string[]) => () => ({ replicationConfiguration: { rules: [{ destinations: [{ region: 'us-west-2' }], repositoryFilters: filters.map((filter) => ({ filter, filterType: 'PREFIX_MATCH' })) }] } });
    const shared = world({ DescribeRegistryCommand: rules('staging-brew/') });
    expect((await preflight(standbyConfig, shared.clients, runner(shared))).problems).toEqual([
      "registry replication: ECR in us-east-1 already replicates staging-brew/; this environment's apply would replace that whole configuration (one per account and region). Deploy one environment with a standby per account and region, or remove the other rule first",
    ]);
    const everything = world({ DescribeRegistryCommand: () => ({ replicationConfiguration: { rules: [{ destinations: [{ region: 'eu-west-1' }] }] } }) });
    expect((await preflight(standbyConfig, everything.clients, runner(everything))).problems).toEqual([expect.stringMatching(/already replicates \(every repository\)/)]);
    // Its own rule, from an earlier apply, is what the apply writes again.
    const again = world({ DescribeRegistryCommand: rules('prod-brew/') });
    const result = await preflight(standbyConfig, again.clients, runner(again));
    expect(result.problems).toEqual([]);
    expect(result.ok).toContain('registry replication: ECR in us-east-1 replicates only prod-brew/');
  });

  test('a standby certificate from the primary region, or no standby state bucket, is named with what to do', async () => {
    const misplaced = loadEnvironmentConfig('prod', { ...ready, HBS_PROD_DR_CERTIFICATE_ARN: CERT, HBS_PROD_DR_STATE_BUCKET: 'acme-tfstate-dr' });
    expect((await preflight(misplaced, world().clients, runner(world()))).problems).toEqual([
      `standby certificate: ${CERT} is in us-east-1; the ALB in us-west-2 needs one from us-west-2`,
    ]);
    const stateless = loadEnvironmentConfig('prod', { ...ready, HBS_PROD_DR_CERTIFICATE_ARN: DR_CERT });
    expect((await preflight(stateless, world().clients, runner(world()))).problems).toEqual([
      "HBS_PROD_DR_STATE_BUCKET is not set; the standby's state must live in a bucket in us-west-2, reachable while us-east-1 is down",
    ]);
  });

  test('after the primary serves: wait for the image in us-west-2, apply the standby stack, wait until its tasks are healthy', async () => {
    let notYet = 2;
    const w = world({
      DescribeImagesCommand: () => {
        if (notYet-- > 0) throw Object.assign(new Error('not replicated yet'), { name: 'ImageNotFoundException' });
        return { imageDetails: [{ imageTags: ['git-0123456789ab'] }] };
      },
    });
    const d = { ...deps(w), config: standbyConfig };
    await expect(deploy(d)).resolves.toEqual({ imageTag: 'git-0123456789ab', mirrorUrl: 'https://bottles.acme.dev' });
    const terraform = w.commands.filter((c) => c.command === 'terraform').map((c) => c.args.join(' '));
    expect(terraform.slice(-3)).toEqual([
      '-chdir=/repo/cdktf.out/stacks/prod-standby init -input=false',
      '-chdir=/repo/cdktf.out/stacks/prod-standby apply -input=false -auto-approve',
      '-chdir=/repo/cdktf.out/stacks/prod-standby output -json',
    ]);
    const afterSmoke = w.sent.slice(w.sent.findIndex(([name]) => name === 'DescribeServicesCommand') + 1);
    const describeImages = ['DescribeImagesCommand', { repositoryName: 'prod-brew/mirror-service', imageIds: [{ imageTag: 'git-0123456789ab' }] }];
    expect(afterSmoke).toEqual([
      describeImages,
      describeImages,
      describeImages,
      ['DescribeServicesCommand', { cluster: 'prod-brew-standby-cluster', services: ['prod-brew-standby-mirror'] }],
    ]);
    expect(d.logged).toContain('  ok  standby ALB prod-brew-standby-mirror-alb-1.us-west-2.elb.amazonaws.com');
    // The standby is applied only after the primary answered its smoke check.
    expect(d.logged.indexOf('== smoke check')).toBeLessThan(d.logged.indexOf('== apply the standby (prod-standby, us-west-2)'));
  });

  test('an image that never replicates stops the deploy before the standby apply, naming the replication rule', async () => {
    const w = world({
      DescribeImagesCommand: () => {
        throw Object.assign(new Error('no such repository'), { name: 'RepositoryNotFoundException' });
      },
    });
    await expect(deploy({ ...deps(w), config: standbyConfig, replicationTimeoutMs: -1 })).rejects.toThrow(
      /prod-brew\/mirror-service:git-0123456789ab has not replicated to us-west-2; check the registry's replication rule \(aws_ecr_replication_configuration\.image_replication\)/,
    );
    expect(w.commands.some((c) => c.args[0] === '-chdir=/repo/cdktf.out/stacks/prod-standby')).toBe(false);
  });
});
