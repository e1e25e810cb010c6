import { Construct } from 'constructs';
import { ITerraformDependable } from 'cdktf';
import { DataAwsEc2ManagedPrefixList } from '@cdktf/provider-aws/lib/data-aws-ec2-managed-prefix-list';
import type { AccessLogTarget } from './access-log-target';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { Lb } from '@cdktf/provider-aws/lib/lb';
import { LbListener } from '@cdktf/provider-aws/lib/lb-listener';
import { LbTargetGroup } from '@cdktf/provider-aws/lib/lb-target-group';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { Wafv2WebAcl } from '@cdktf/provider-aws/lib/wafv2-web-acl';
import { Wafv2WebAclAssociation } from '@cdktf/provider-aws/lib/wafv2-web-acl-association';
import { Wafv2WebAclLoggingConfiguration } from '@cdktf/provider-aws/lib/wafv2-web-acl-logging-configuration';
import { allow, securityGroup } from './firewall';
import { ctx } from './environment-context';
import { ALB_IDLE_TIMEOUT_SECONDS, HEALTH_PATH } from '../engine/runtime-config';

/** TLS 1.3 with TLS 1.2 fallback for older curl builds; no TLS 1.0/1.1, no CBC-only suites. */
export const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';

export interface LoadBalancerProps {
  readonly vpcId: string;
  /** Public subnets for `internet-facing`, private subnets for `internal`. */
  readonly subnetIds: string[];
  readonly scheme: 'internet-facing' | 'internal';
  /**
   * The VPC's internet gateway, which an `internet-facing` ALB is created
   * after (AWS refuses one in a VPC with no attached gateway: `InvalidSubnet`).
   * Required for `internet-facing`; ignored for `internal`.
   */
  readonly internetGateway?: ITerraformDependable;
  readonly allowedCidrs: readonly string[];
  readonly certificateArn: string;
  readonly targetPort: number;
  /** Where the ALB writes its access logs; it is created only after the target's policy (AWS checks at create time). */
  readonly accessLogs: AccessLogTarget;
  /** Requests per client IP per 5 minutes before WAF blocks it. */
  readonly rateLimitPer5Min: number;
  /** Default: true, except in a stack synthesized for `npm run destroy`. */
  readonly deletionProtection?: boolean;
  /**
   * Admit Route 53's health checkers on 443, by AWS's managed prefix list
   * (`com.amazonaws.<region>.route53-healthchecks`, 25 rules' weight), so a
   * health-checked endpoint stays checkable however closed `allowedCidrs` is.
   * @default false
   */
  readonly admitHealthCheckers?: boolean;
}

/**
 * The mirror's front door: an ALB with HTTPS (TLS 1.3 policy) and an
 * HTTP→HTTPS redirect, invalid headers dropped, access logs, deletion
 * protection, and a WAFv2 web ACL with a per-IP rate limit and the AWS
 * managed common and known-bad-inputs rule sets.
 */
export class LoadBalancer extends Construct {
  public readonly alb: Lb;
  public readonly targetGroup: LbTargetGroup;
  public readonly securityGroup: SecurityGroup;
  public readonly webAcl: Wafv2WebAcl;
  /** The listener that forwards to the target group; a service may register targets only once it exists. */
  public readonly httpsListener: LbListener;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    if (props.scheme === 'internet-facing' && !props.internetGateway) throw new Error('an internet-facing LoadBalancer needs the VPC\'s internetGateway to be created after');
    const context = ctx(this);
    const name = `${context.namePrefix}-mirror`;
    this.securityGroup = securityGroup(this, 'sg', `${name}-alb-sg`, 'Mirror ALB: HTTPS and redirecting HTTP from allowed clients', props.vpcId);
    props.allowedCidrs.forEach((cidr, i) => {
      for (const port of [443, 80]) {
        allow(this, `client-${port}-${i}`, { from: { cidr }, to: this.securityGroup, port, description: `Clients ${cidr} on ${port}` });
      }
    });
    if (props.admitHealthCheckers) {
      const checkers = new DataAwsEc2ManagedPrefixList(this, 'route53-health-checkers', { name: `com.amazonaws.${context.region}.route53-healthchecks` });
      allow(this, 'route53-health-checkers-443', { from: { prefixListId: checkers.id }, to: this.securityGroup, port: 443, description: 'Route 53 health checkers (AWS-managed prefix list)' });
    }

    this.alb = new Lb(this, 'alb', {
      name: `${name}-alb`.slice(0, 32),
      loadBalancerType: 'application',
      internal: props.scheme === 'internal',
      subnets: props.subnetIds,
      securityGroups: [this.securityGroup.id],
      dropInvalidHeaderFields: true,
      enableDeletionProtection: props.deletionProtection ?? !context.teardown,
      desyncMitigationMode: 'strictest',
      idleTimeout: ALB_IDLE_TIMEOUT_SECONDS,
      // The ALB appends the address it saw to X-Forwarded-For; the mirror rate-limits on that last entry.
      xffHeaderProcessingMode: 'append',
      accessLogs: { bucket: props.accessLogs.bucket, prefix: props.accessLogs.prefix, enabled: true },
      dependsOn: [...props.accessLogs.readyAfter, ...(props.scheme === 'internet-facing' ? [props.internetGateway!] : [])],
    });

    this.targetGroup = new LbTargetGroup(this, 'targets', {
      name: `${name}-tg`.slice(0, 32),
      port: props.targetPort,
      protocol: 'HTTP',
      targetType: 'ip',
      vpcId: props.vpcId,
      deregistrationDelay: '120', // let in-flight downloads finish on scale-in
      healthCheck: {
        path: HEALTH_PATH,
        matcher: '200',
        interval: 15,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
      },
    });

    this.httpsListener = new LbListener(this, 'https', {
      loadBalancerArn: this.alb.arn,
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: TLS_POLICY,
      certificateArn: props.certificateArn,
      defaultAction: [{ type: 'forward', targetGroupArn: this.targetGroup.arn }],
    });
    new LbListener(this, 'http-redirect', {
      loadBalancerArn: this.alb.arn,
      port: 80,
      protocol: 'HTTP',
      defaultAction: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }],
    });

    this.webAcl = this.webFirewall(name, props.rateLimitPer5Min);
  }

  /** WAF in front of the ALB: a per-IP rate limit and AWS's managed rule groups, logged to its own group. */
  private webFirewall(name: string, rateLimitPer5Min: number): Wafv2WebAcl {
    const context = ctx(this);
    const visibility = (metricName: string) => ({
      cloudwatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const managedRule = (ruleName: string, priority: number) => ({
      name: ruleName,
      priority,
      overrideAction: { none: {} },
      statement: { managed_rule_group_statement: { vendor_name: 'AWS', name: ruleName } },
      visibilityConfig: visibility(`${name}-${ruleName}`),
    });
    const webAcl = new Wafv2WebAcl(this, 'waf', {
      name: `${name}-waf`,
      description: 'Per-IP rate limit and AWS managed protections for the mirror ALB',
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      rule: [
        {
          name: 'per-ip-rate-limit',
          priority: 0,
          action: { block: { customResponse: { responseCode: 429 } } },
          statement: { rate_based_statement: { limit: rateLimitPer5Min, aggregate_key_type: 'IP' } },
          visibilityConfig: visibility(`${name}-rate-limit`),
        },
        managedRule('AWSManagedRulesCommonRuleSet', 1),
        managedRule('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
      visibilityConfig: visibility(`${name}-waf`),
    });
    new Wafv2WebAclAssociation(this, 'waf-association', { resourceArn: this.alb.arn, webAclArn: webAcl.arn });

    // WAF only delivers to log groups whose name starts with aws-waf-logs-.
    const wafLogs = new CloudwatchLogGroup(this, 'waf-logs', {
      name: `aws-waf-logs-${name}`,
      retentionInDays: context.securityLogRetentionDays,
      kmsKeyId: context.logsKeyArn,
    });
    new Wafv2WebAclLoggingConfiguration(this, 'waf-logging', {
      resourceArn: webAcl.arn,
      logDestinationConfigs: [wafLogs.arn],
    });
    return webAcl;
  }
}
