import { Construct } from 'constructs';
import type { AccessLogTarget } from './access-log-target';
import { TerraformAsset } from 'cdktf';
import { LambdaCodeSigningConfig } from '@cdktf/provider-aws/lib/lambda-code-signing-config';
import { S3Object } from '@cdktf/provider-aws/lib/s3-object';
import { SignerSigningJob } from '@cdktf/provider-aws/lib/signer-signing-job';
import { SignerSigningProfile } from '@cdktf/provider-aws/lib/signer-signing-profile';
import { ctx } from './environment-context';
import { SecureBucket } from './secure-bucket';

/** What Lambda does with code the profile did not sign: refuse it, or accept it and log a warning. */
export type UntrustedArtifacts = 'Enforce' | 'Warn';

export interface CodeSigningProps {
  /** @default 'Enforce' */
  readonly untrustedArtifacts?: UntrustedArtifacts;
  /** Key of the artifact bucket. */
  readonly kmsKeyArn: string;
  /** Where the artifact bucket's access logs go. */
  readonly accessLogs: AccessLogTarget;
}

/**
 * Lambda code signing with AWS Signer: every bundle is uploaded to a
 * versioned artifact bucket, signed by a signing job under this
 * environment's profile, and deployed from the signed object; the code
 * signing config tells Lambda to refuse (or, outside prod, warn about) code
 * that profile did not sign, such as a zip uploaded by hand.
 */
export class CodeSigning extends Construct {
  public readonly profile: SignerSigningProfile;
  public readonly config: LambdaCodeSigningConfig;
  public readonly artifacts: SecureBucket;

  constructor(scope: Construct, id: string, props: CodeSigningProps) {
    super(scope, id);
    const context = ctx(this);
    this.artifacts = new SecureBucket(this, 'artifacts', {
      namePrefix: context.name('lambda-artifacts'),
      kmsKeyArn: props.kmsKeyArn,
      accessLogs: props.accessLogs,
      // Old bundles and signatures are only kept for a rollback.
      noncurrentVersionExpirationDays: 30,
    });
    // Profile names allow letters, digits and underscores only.
    this.profile = new SignerSigningProfile(this, 'profile', {
      namePrefix: `${context.namePrefix.replace(/[^A-Za-z0-9]/g, '_')}_lambda_`,
      platformId: 'AWSLambda-SHA384-ECDSA',
    });
    this.config = new LambdaCodeSigningConfig(this, 'config', {
      description: `${context.namePrefix}: code signed by ${context.namePrefix}'s signing profile`,
      allowedPublishers: { signingProfileVersionArns: [this.profile.versionArn] },
      policies: { untrustedArtifactOnDeployment: props.untrustedArtifacts ?? 'Enforce' },
    });
  }

  /** Uploads `bundle` (of function `name`), signs it, and returns the signed object the function deploys from. */
  sign(scope: Construct, id: string, name: string, bundle: TerraformAsset): { readonly s3Bucket: string; readonly s3Key: string } {
    const unsigned = new S3Object(scope, `${id}-unsigned`, {
      bucket: this.artifacts.bucket.id,
      key: `unsigned/${name}/${bundle.assetHash}.zip`,
      source: bundle.path,
      sourceHash: bundle.assetHash,
      // Uploaded before versioning is on, the object has no version id, and StartSigningJob needs one.
      dependsOn: [this.artifacts.versioning],
    });
    const job = new SignerSigningJob(scope, `${id}-signing`, {
      profileName: this.profile.name,
      source: { s3: { bucket: this.artifacts.bucket.id, key: unsigned.key, version: unsigned.versionId } },
      destination: { s3: { bucket: this.artifacts.bucket.id, prefix: `signed/${name}/` } },
      ignoreSigningJobFailure: false,
    });
    const signed = job.signedObject.get(0).s3.get(0);
    return { s3Bucket: signed.bucket, s3Key: signed.key };
  }
}
