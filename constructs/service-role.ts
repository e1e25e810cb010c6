import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { Statement, policyDocument } from './policy-document';

export interface ServiceRoleProps {
  /** Full role name; callers prefix it with the environment. */
  readonly name: string;
  /** Service principal allowed to assume the role, e.g. `lambda.amazonaws.com`. */
  readonly servicePrincipal: string;
  readonly description: string;
  /** The role's own baseline (logs, tracing); resources add theirs with their grant methods. Default: none. */
  readonly statements?: Statement[];
  /**
   * Restricts the trust policy to this account (confused-deputy protection).
   * Set it only for services documented to send `aws:SourceAccount` on AssumeRole.
   */
  readonly accountId?: string;
  /** AWS-managed policies to attach (only where AWS publishes the exact permission set). */
  readonly managedPolicyArns?: string[];
  /** Whether the role has an inline policy for grants. Default: true; false for roles that only attach managed policies. */
  readonly inlinePolicy?: boolean;
}

/** Something a resource's grant method can give permissions to (aws-cdk-lib's `IGrantable`). */
export interface Grantable {
  /** Adds statements; a statement id may appear only once per role. */
  addToPolicy(...statements: Statement[]): void;
  /**
   * Lets the role use a KMS key. Every grant on the same key merges into one
   * statement, so a role granted a bucket and a table under one key names it once.
   */
  addKeyActions(keyArn: string, keyName: string, actions: readonly string[]): void;
}

/**
 * One IAM role for one workload: a trust policy for a single service and one
 * inline policy that resources extend through their grant methods
 * (`bottleStore.grantSync(role)`, `stateTable.grantStateStore(role)`).
 * Shared roles are not offered on purpose.
 */
export class ServiceRole extends Construct implements Grantable {
  public readonly role: IamRole;
  /** The inline policy (absent for managed-only roles); workloads depend on it so they never start without their permissions. */
  public readonly policy?: IamRolePolicy;
  private readonly statements: Statement[] = [];
  private readonly keys = new Map<string, { sid: string; actions: Set<string> }>();
  private readonly permissions?: DataAwsIamPolicyDocument;

  constructor(scope: Construct, id: string, props: ServiceRoleProps) {
    super(scope, id);
    const trust = policyDocument(this, 'trust', [
      {
        effect: 'Allow',
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'Service', identifiers: [props.servicePrincipal] }],
        condition: props.accountId ? [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [props.accountId] }] : undefined,
      },
    ]);
    this.role = new IamRole(this, 'role', {
      name: props.name,
      description: props.description,
      assumeRolePolicy: trust.json,
    });
    (props.managedPolicyArns ?? []).forEach((policyArn, index) => {
      new IamRolePolicyAttachment(this, `managed-${index}`, { role: this.role.name, policyArn });
    });
    if (props.inlinePolicy === false) return;
    this.permissions = policyDocument(this, 'permissions', []);
    this.policy = new IamRolePolicy(this, 'policy', { name: `${props.name}-permissions`, role: this.role.id, policy: this.permissions.json });
    this.addToPolicy(...(props.statements ?? []));
    // An inline policy without statements is refused at apply time; say so at synthesis.
    this.node.addValidation({ validate: () => (this.statements.length + this.keys.size === 0 ? [`role ${props.name} has no permissions`] : []) });
  }

  addToPolicy(...statements: Statement[]): void {
    if (!this.permissions) throw new Error(`${this.node.path}: this role takes managed policies only`);
    for (const statement of statements) {
      if (statement.sid && this.statements.some((s) => s.sid === statement.sid)) {
        throw new Error(`${this.node.path}: statement ${statement.sid} is granted twice`);
      }
      this.statements.push(statement);
    }
    this.render();
  }

  addKeyActions(keyArn: string, keyName: string, actions: readonly string[]): void {
    if (!this.permissions) throw new Error(`${this.node.path}: this role takes managed policies only`);
    const grant = this.keys.get(keyArn) ?? { sid: `Use${keyName}Key`, actions: new Set<string>() };
    actions.forEach((a) => grant.actions.add(a));
    this.keys.set(keyArn, grant);
    this.render();
  }

  private render(): void {
    const keyStatements = [...this.keys].map(([keyArn, grant]): Statement => ({ sid: grant.sid, actions: [...grant.actions].sort(), resources: [keyArn] }));
    this.permissions?.putStatement([...this.statements, ...keyStatements]);
  }
}
