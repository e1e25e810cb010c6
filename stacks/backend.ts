import { LocalBackend, S3Backend, TerraformStack } from 'cdktf';
import { RemoteStateConfig } from '../config/environment-config';

/** Remote state in S3 with S3-native locking, or a local state file when none is configured (synthesis on any machine). */
export function useBackend(stack: TerraformStack, remoteState: RemoteStateConfig | undefined, localPath: string): void {
  if (!remoteState) {
    new LocalBackend(stack, { path: localPath });
    return;
  }
  const backend = new S3Backend(stack, { bucket: remoteState.bucket, key: remoteState.key, region: remoteState.region, encrypt: true });
  // S3-native locking (Terraform ≥ 1.10); `dynamodb_table` is deprecated in 1.11. cdktf 0.21 has no typed option for it.
  backend.addOverride('use_lockfile', true);
}
