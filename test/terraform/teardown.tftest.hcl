# A stack synthesized for `npm run destroy` (HBS_<ENV>_TEARDOWN=true, issue #36
# fault 3): the provider accepts every lifted protection, and the plan carries them.

run "teardown_plan" {
  command = plan

  assert {
    condition     = aws_ecr_repository.sync_repo_repo.force_delete && aws_ecr_repository.mirror_repo_repo.force_delete
    error_message = "both image repositories may be deleted with their images"
  }
  assert {
    condition     = alltrue([for b in [aws_s3_bucket.bottle_store_store_bucket, aws_s3_bucket.log_archive_logs_bucket, aws_s3_bucket.audit_trail_bucket_bucket, aws_s3_bucket.code_signing_artifacts_bucket, aws_s3_bucket.log_archive_replica_bucket_bucket, aws_s3_bucket.trail_replica_bucket_bucket] : b.force_destroy])
    error_message = "every bucket may be deleted with its objects"
  }
  assert {
    condition     = !aws_lb.load_balancer_alb.enable_deletion_protection && !aws_dynamodb_table.state_table_table.deletion_protection_enabled
    error_message = "the ALB and the state table have no deletion protection"
  }
  assert {
    condition     = aws_backup_vault.backup_vault.force_destroy
    error_message = "the backup vault may be deleted with its recovery points"
  }
}
