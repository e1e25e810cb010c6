import { Construct } from 'constructs';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';

/** A peer: another security group, an IPv4 CIDR, or a managed prefix list (e.g. the S3 gateway). */
export type Peer = { securityGroupId: string } | { cidr: string } | { prefixListId: string };

/** A security group with no rules. Flows are added one by one with `allow`. */
export function securityGroup(scope: Construct, id: string, name: string, description: string, vpcId: string): SecurityGroup {
  return new SecurityGroup(scope, id, { name, description, vpcId, tags: { Name: name } });
}

/**
 * Opens one TCP port from `from` to `to`. When both ends are security groups,
 * both the egress and the matching ingress rule are written, so that every
 * flow is visible on both sides.
 */
export function allow(
  scope: Construct,
  id: string,
  flow: { from: SecurityGroup | Peer; to: SecurityGroup | Peer; port: number; description: string },
): void {
  const peer = (p: Peer) =>
    'securityGroupId' in p
      ? { referencedSecurityGroupId: p.securityGroupId }
      : 'cidr' in p
        ? { cidrIpv4: p.cidr }
        : { prefixListId: p.prefixListId };
  const asPeer = (x: SecurityGroup | Peer): Peer => (x instanceof SecurityGroup ? { securityGroupId: x.id } : x);
  const common = { ipProtocol: 'tcp', fromPort: flow.port, toPort: flow.port, description: flow.description };
  if (flow.from instanceof SecurityGroup) {
    new VpcSecurityGroupEgressRule(scope, `${id}-egress`, { ...common, securityGroupId: flow.from.id, ...peer(asPeer(flow.to)) });
  }
  if (flow.to instanceof SecurityGroup) {
    new VpcSecurityGroupIngressRule(scope, `${id}-ingress`, { ...common, securityGroupId: flow.to.id, ...peer(asPeer(flow.from)) });
  }
}
