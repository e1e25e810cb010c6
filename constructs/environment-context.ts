import { Construct, IConstruct } from 'constructs';
import { TerraformStack } from 'cdktf';

/**
 * What every construct of one environment shares: its name prefix, account,
 * region and partition, and the logs key and retention every log group uses.
 * The stack provides it once; constructs read it from their scope instead of
 * taking a dozen repeated props.
 */
export interface EnvironmentContextProps {
  /** `dev`, `staging` or `prod`. */
  readonly environment: string;
  /** Prefix of every resource name, `<env>-brew`. */
  readonly namePrefix: string;
  readonly accountId: string;
  /** The stack's region. */
  readonly region: string;
  /** `aws`, `aws-us-gov` or `aws-cn`: ARNs are spelled with it, never with a literal `arn:aws:`. */
  readonly partition: string;
  /** Retention of operational log groups (security logs keep their own, longer, retention). */
  readonly logRetentionDays: number;
  /** Retention of security logs (flow, WAF, CloudTrail). @default 365; less is refused. */
  readonly securityLogRetentionDays?: number;
  /**
   * Synthesized for `npm run destroy`: constructs lift what would stop
   * `terraform destroy` halfway (non-empty buckets and repositories, deletion
   * protection, recovery points). @default false
   */
  readonly teardown?: boolean;
}

/** Security logs are kept at least a year. */
export const MIN_SECURITY_LOG_RETENTION_DAYS = 365;

const CONTEXTS = new WeakMap<TerraformStack, EnvironmentContext>();

export class EnvironmentContext {
  private logsKey?: string;

  private constructor(private readonly props: EnvironmentContextProps) {}

  get environment(): string {
    return this.props.environment;
  }
  get namePrefix(): string {
    return this.props.namePrefix;
  }
  get accountId(): string {
    return this.props.accountId;
  }
  get region(): string {
    return this.props.region;
  }
  get partition(): string {
    return this.props.partition;
  }
  /** True only in a stack synthesized for `npm run destroy`. */
  get teardown(): boolean {
    return this.props.teardown ?? false;
  }
  get logRetentionDays(): number {
    return this.props.logRetentionDays;
  }
  get securityLogRetentionDays(): number {
    const days = this.props.securityLogRetentionDays ?? MIN_SECURITY_LOG_RETENTION_DAYS;
    if (days < MIN_SECURITY_LOG_RETENTION_DAYS) throw new Error(`securityLogRetentionDays must be at least ${MIN_SECURITY_LOG_RETENTION_DAYS}, not ${days}`);
    return days;
  }

  /** Makes `props` the context of every construct in `stack`. */
  static provide(stack: TerraformStack, props: EnvironmentContextProps): EnvironmentContext {
    const context = new EnvironmentContext(props);
    CONTEXTS.set(stack, context);
    return context;
  }

  static of(scope: IConstruct): EnvironmentContext {
    const context = CONTEXTS.get(TerraformStack.of(scope));
    if (!context) throw new Error(`${scope.node.path}: no EnvironmentContext; the stack must provide one before building constructs`);
    return context;
  }

  /** The KMS key of every log group; set once by the foundation tier. */
  get logsKeyArn(): string {
    if (!this.logsKey) throw new Error('the logs key is not created yet: build the foundation tier first');
    return this.logsKey;
  }

  useLogsKey(arn: string): void {
    if (this.logsKey) throw new Error('the logs key is already set');
    this.logsKey = arn;
  }

  /** `arn:<partition>:<service>:<region>:<account>:<resource>`; pass `region: ''` for global services (IAM). */
  arn(service: string, resource: string, options: { region?: string; account?: string } = {}): string {
    return `arn:${this.partition}:${service}:${options.region ?? this.region}:${options.account ?? this.accountId}:${resource}`;
  }

  /** A name with the environment prefix: `<env>-brew-<suffix>`. */
  name(suffix: string): string {
    return `${this.namePrefix}-${suffix}`;
  }
}

/** Shorthand for constructs: `ctx(this).arn(…)`. */
export const ctx = (scope: Construct): EnvironmentContext => EnvironmentContext.of(scope);
