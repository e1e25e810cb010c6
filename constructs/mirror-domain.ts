import { Construct } from 'constructs';
import { AcmCertificate } from '@cdktf/provider-aws/lib/acm-certificate';
import { AcmCertificateValidation } from '@cdktf/provider-aws/lib/acm-certificate-validation';
import { Lb } from '@cdktf/provider-aws/lib/lb';
import { Route53Record } from '@cdktf/provider-aws/lib/route53-record';

export interface ManagedCertificateProps {
  readonly domainName: string;
  /** Public hosted zone of the domain, where the validation record is written. */
  readonly hostedZoneId: string;
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
    // One domain, one validation record (ACM names it per domain).
    const option = certificate.domainValidationOptions.get(0);
    const record = new Route53Record(this, 'validation', {
      zoneId: props.hostedZoneId,
      name: option.resourceRecordName,
      type: option.resourceRecordType,
      records: [option.resourceRecordValue],
      ttl: 300,
      allowOverwrite: true,
    });
    this.certificateArn = new AcmCertificateValidation(this, 'validated', {
      certificateArn: certificate.arn,
      validationRecordFqdns: [record.fqdn],
    }).certificateArn;
  }
}

export interface DnsAliasProps {
  readonly domainName: string;
  readonly hostedZoneId: string;
  readonly alb: Lb;
}

/** The mirror's domain as a Route 53 alias record to the ALB (which answers IPv4). */
export class DnsAlias extends Construct {
  public readonly fqdn: string;

  constructor(scope: Construct, id: string, props: DnsAliasProps) {
    super(scope, id);
    const alias = { name: props.alb.dnsName, zoneId: props.alb.zoneId, evaluateTargetHealth: true };
    this.fqdn = new Route53Record(this, 'a', { zoneId: props.hostedZoneId, name: props.domainName, type: 'A', alias }).fqdn;
  }
}
