import { Construct } from 'constructs';
import { AcmCertificate } from '@cdktf/provider-aws/lib/acm-certificate';
import { AcmCertificateValidation } from '@cdktf/provider-aws/lib/acm-certificate-validation';
import { Lb } from '@cdktf/provider-aws/lib/lb';
import { Route53HealthCheck } from '@cdktf/provider-aws/lib/route53-health-check';
import { Route53Record } from '@cdktf/provider-aws/lib/route53-record';
import { HEALTH_PATH } from '../engine/runtime-config';

export interface ManagedCertificateProps {
  readonly domainName: string;
  /** Public hosted zone of the domain, where the validation record is written. */
  readonly hostedZoneId: string;
  /**
   * Write the DNS validation record. ACM uses one validation CNAME per domain and account in every region,
   * so of two stacks certifying one domain (a primary and its standby) exactly one may own it: the other
   * only waits for issuance, which that record brings about. @default true
   */
  readonly ownsValidationRecord?: boolean;
}

/**
 * An ACM certificate for the mirror's domain, validated through DNS in its
 * Route 53 zone. `certificateArn` is the validated certificate: a listener
 * using it is created only once ACM has issued it.
 */
export class ManagedCertificate extends Construct {
  public readonly certificateArn: string;

  constructor(scope: Construct, id: string, props: ManagedCertificateProps) {
    super(scope, id);
    const certificate = new AcmCertificate(this, 'certificate', {
      domainName: props.domainName,
      validationMethod: 'DNS',
      lifecycle: { createBeforeDestroy: true },
    });
    // One domain, one validation record (ACM names it per domain, the same in every region).
    const option = certificate.domainValidationOptions.get(0);
    const record =
      props.ownsValidationRecord === false
        ? undefined
        : new Route53Record(this, 'validation', {
            zoneId: props.hostedZoneId,
            name: option.resourceRecordName,
            type: option.resourceRecordType,
            records: [option.resourceRecordValue],
            ttl: 300,
            allowOverwrite: true,
          });
    this.certificateArn = new AcmCertificateValidation(this, 'validated', {
      certificateArn: certificate.arn,
      ...(record ? { validationRecordFqdns: [record.fqdn] } : {}),
    }).certificateArn;
  }
}

/** Route 53 health checks: every 10 s from every checker region, unhealthy after 3 failures in a row. */
export const FAILOVER_HEALTH_CHECK = { requestInterval: 10, failureThreshold: 3 } as const;

/**
 * A Route 53 health check of one ALB's `/health` over HTTPS, by the ALB's own
 * name: it follows this region's endpoint whatever the domain resolves to.
 * Route 53 does not validate the certificate, so the ALB's certificate for
 * the domain is fine. The ALB must be internet-facing.
 */
export class EndpointHealthCheck extends Construct {
  public readonly healthCheck: Route53HealthCheck;

  constructor(scope: Construct, id: string, props: { readonly alb: Lb; readonly label: string }) {
    super(scope, id);
    this.healthCheck = new Route53HealthCheck(this, 'check', {
      type: 'HTTPS',
      fqdn: props.alb.dnsName,
      port: 443,
      resourcePath: HEALTH_PATH,
      enableSni: true,
      ...FAILOVER_HEALTH_CHECK,
      tags: { Name: props.label },
    });
  }
}

export interface DnsAliasProps {
  readonly domainName: string;
  readonly hostedZoneId: string;
  readonly alb: Lb;
  /**
   * This ALB's role when the name fails over between regions (issue #15),
   * with the health check Route 53 follows: it answers with the secondary
   * while the primary fails its check. Each stack writes its own record.
   * @default a plain alias, no failover
   */
  readonly failover?: { readonly role: 'PRIMARY' | 'SECONDARY'; readonly healthCheck: Route53HealthCheck };
}

/** The mirror's domain as a Route 53 alias record to the ALB (which answers IPv4). */
export class DnsAlias extends Construct {
  public readonly fqdn: string;

  constructor(scope: Construct, id: string, props: DnsAliasProps) {
    super(scope, id);
    const alias = { name: props.alb.dnsName, zoneId: props.alb.zoneId, evaluateTargetHealth: true };
    const failover = props.failover;
    this.fqdn = new Route53Record(this, 'a', {
      zoneId: props.hostedZoneId,
      name: props.domainName,
      type: 'A',
      alias,
      ...(failover
        ? {
            setIdentifier: `${props.domainName}-${failover.role.toLowerCase()}`,
            failoverRoutingPolicy: { type: failover.role },
            healthCheckId: failover.healthCheck.id,
          }
        : {}),
    }).fqdn;
  }
}
