import { Construct } from 'constructs';
import { TerraformProvider } from 'cdktf';
import { BackupPlan } from '@cdktf/provider-aws/lib/backup-plan';
import { BackupRegionSettings } from '@cdktf/provider-aws/lib/backup-region-settings';
import { BackupSelection } from '@cdktf/provider-aws/lib/backup-selection';
import { BackupVault } from '@cdktf/provider-aws/lib/backup-vault';
import { ServiceRole } from './service-role';
import { ctx } from './environment-context';

/** Daily at 05:00 UTC: after the Sunday 03:00 sync has had two hours to publish. */
export const BACKUP_SCHEDULE = 'cron(0 5 * * ? *)';
export const BACKUP_COLD_STORAGE_AFTER_DAYS = 30;
/** AWS Backup keeps cold-stored recovery points for at least 90 days, so 30 + 90. */
export const BACKUP_DELETE_AFTER_DAYS = 120;

export interface BackupProps {
  readonly kmsKeyArn: string;
  /** ARNs to back up: the state table and the bottle bucket. */
  readonly resourceArns: string[];
  /** Copy every recovery point to a vault in the DR region. Default: off. */
  readonly crossRegionCopy?: { readonly provider: TerraformProvider; readonly kmsKeyArn: string };
  /**
   * Manage the account's AWS Backup Region settings in the stack's region and in these others (the DR
   * region): every resource type in both maps (`BACKUP_OPT_IN`, `BACKUP_MANAGEMENT`), including full management of DynamoDB (the "advanced
   * features" that cold storage and cross-region copies of table backups need). They are account-wide
   * per Region, so exactly one stack per account and Region may manage them. Default: not managed.
   */
  readonly regionSettings?: { readonly otherRegions: TerraformProvider[] };
}

/**
 * The whole Region-settings maps. AWS returns every resource type and the provider reads the whole map
 * back, so a map naming only the types this plan needs never shows a clean plan. Every type is opted in:
 * an opt-in backs up nothing by itself (only a plan's selection does), and turning one off would stop
 * another team's backups in a shared account. DynamoDB and S3 are the ones this plan uses.
 */
export const BACKUP_OPT_IN: Record<string, boolean> = Object.fromEntries(
  ['Aurora', 'CloudFormation', 'DocumentDB', 'DSQL', 'DynamoDB', 'EBS', 'EC2', 'EFS', 'FSx', 'Neptune', 'RDS', 'Redshift', 'Redshift Serverless', 'S3', 'SAP HANA on Amazon EC2', 'Storage Gateway', 'VirtualMachine'].map((type) => [type, true]),
);
/**
 * Full AWS Backup management, for every type that has it: DynamoDB's is what cold storage and
 * cross-region copies of table recovery points need; the others keep AWS's own default (on).
 */
export const BACKUP_MANAGEMENT: Record<string, boolean> = { CloudFormation: true, DSQL: true, DynamoDB: true, EFS: true };

/**
 * AWS Backup for the mirror's durable state: a CMK-encrypted vault, a daily
 * plan (cold storage after 30 days, deletion after 120), a selection naming
 * the table and the bucket, and optionally a copy to a DR-region vault.
 */
export class Backup extends Construct {
  public readonly vault: BackupVault;
  public readonly plan: BackupPlan;
  public readonly drVault?: BackupVault;

  constructor(scope: Construct, id: string, props: BackupProps) {
    super(scope, id);
    const context = ctx(this);
    const lifecycle = { coldStorageAfter: BACKUP_COLD_STORAGE_AFTER_DAYS, deleteAfter: BACKUP_DELETE_AFTER_DAYS };
    // Recovery points stop a vault's deletion; only `npm run destroy` deletes them with it.
    this.vault = new BackupVault(this, 'vault', { name: `${context.namePrefix}-backup-vault`, kmsKeyArn: props.kmsKeyArn, forceDestroy: context.teardown });
    if (props.crossRegionCopy) {
      this.drVault = new BackupVault(this, 'dr-vault', {
        name: `${context.namePrefix}-backup-vault-dr`,
        kmsKeyArn: props.crossRegionCopy.kmsKeyArn,
        forceDestroy: context.teardown,
        provider: props.crossRegionCopy.provider,
      });
    }

    this.plan = new BackupPlan(this, 'plan', {
      name: `${context.namePrefix}-daily-backup`,
      rule: [
        {
          ruleName: 'daily-0500-utc',
          targetVaultName: this.vault.name,
          schedule: BACKUP_SCHEDULE,
          scheduleExpressionTimezone: 'Etc/UTC',
          startWindow: 60,
          completionWindow: 360,
          lifecycle,
          copyAction: this.drVault ? [{ destinationVaultArn: this.drVault.arn, lifecycle }] : undefined,
        },
      ],
    });

    if (props.regionSettings) {
      new BackupRegionSettings(this, 'region-settings', { resourceTypeOptInPreference: BACKUP_OPT_IN, resourceTypeManagementPreference: BACKUP_MANAGEMENT });
      props.regionSettings.otherRegions.forEach((provider, i) => {
        new BackupRegionSettings(this, `region-settings-${i + 1}`, {
          resourceTypeOptInPreference: BACKUP_OPT_IN,
          resourceTypeManagementPreference: BACKUP_MANAGEMENT,
          provider,
        });
      });
    }

    const role = new ServiceRole(this, 'role', {
      name: `${context.namePrefix}-backup`,
      description: 'Lets AWS Backup snapshot and restore the state table and the bottle bucket',
      servicePrincipal: 'backup.amazonaws.com',
      inlinePolicy: false,
      managedPolicyArns: [
        `arn:${context.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup`,
        `arn:${context.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores`,
        `arn:${context.partition}:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup`,
        `arn:${context.partition}:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore`,
      ],
    });
    new BackupSelection(this, 'selection', {
      name: `${context.namePrefix}-state-and-bottles`,
      planId: this.plan.id,
      iamRoleArn: role.role.arn,
      resources: props.resourceArns,
    });
  }
}
