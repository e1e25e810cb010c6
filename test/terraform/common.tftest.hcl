# Assertions that hold in every environment. Concatenated after mocks.tftest.hcl
# and before <env>.tftest.hcl by scripts/terraform-check.sh.

run "plan" {
  command = plan

  assert {
    condition     = aws_cloudwatch_event_rule.schedule_rule.schedule_expression == "cron(0 3 ? * SUN *)"
    error_message = "The sync must run every Sunday at 03:00 UTC"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.schedule_freshness_rule.schedule_expression == "rate(1 hour)" && jsondecode(aws_cloudwatch_event_target.schedule_freshness_target.input).action == "report-freshness"
    error_message = "The orchestrator reports freshness hourly, so the freshness alarm has data between weekly runs"
  }
  assert {
    condition     = aws_cloudwatch_event_target.schedule_target.retry_policy[0].maximum_retry_attempts > 0 && length(aws_cloudwatch_event_target.schedule_target.dead_letter_config) == 1
    error_message = "The schedule target needs a retry policy and a dead-letter queue"
  }
  assert {
    condition     = aws_dynamodb_table.state_table_table.point_in_time_recovery[0].enabled && aws_dynamodb_table.state_table_table.deletion_protection_enabled
    error_message = "The state table needs PITR and deletion protection"
  }
  assert {
    condition     = aws_dynamodb_table.state_table_table.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.state_table_table.stream_enabled
    error_message = "The state table must be on-demand with a stream (global tables need it)"
  }
  assert {
    condition     = aws_dynamodb_table.state_table_table.server_side_encryption[0].enabled && aws_dynamodb_table.state_table_table.ttl[0].enabled
    error_message = "The state table needs CMK encryption and a TTL attribute"
  }
  assert {
    condition     = length([for r in aws_dynamodb_table.state_table_table.replica : r if r.region_name == "us-west-2" && r.point_in_time_recovery]) == 1
    error_message = "The state table needs one PITR-enabled replica in us-west-2"
  }
  assert {
    condition     = aws_elasticache_replication_group.cache_group.multi_az_enabled && aws_elasticache_replication_group.cache_group.automatic_failover_enabled
    error_message = "The cache must be Multi-AZ with automatic failover"
  }
  assert {
    condition     = aws_elasticache_replication_group.cache_group.num_cache_clusters >= 2 && aws_elasticache_replication_group.cache_group.snapshot_retention_limit >= 7
    error_message = "The cache needs at least 2 nodes and 7 days of snapshots"
  }
  assert {
    condition     = aws_elasticache_replication_group.cache_group.transit_encryption_enabled && aws_elasticache_replication_group.cache_group.at_rest_encryption_enabled == "true"
    error_message = "The cache must encrypt in transit and at rest"
  }
  assert {
    condition     = aws_elasticache_replication_group.cache_group.auth_token == null && length(aws_elasticache_replication_group.cache_group.user_group_ids) == 1
    error_message = "The cache authenticates through an RBAC/IAM user group, never a password"
  }
  assert {
    condition     = aws_elasticache_user.cache_user_sync.authentication_mode[0].type == "iam" && aws_elasticache_user.cache_user_mirror.authentication_mode[0].type == "iam"
    error_message = "Cache users authenticate with IAM"
  }
  assert {
    condition     = one(aws_backup_plan.backup_plan.rule).schedule == "cron(0 5 * * ? *)"
    error_message = "Backups run daily at 05:00 UTC"
  }
  assert {
    condition     = one(one(aws_backup_plan.backup_plan.rule).lifecycle).cold_storage_after == 30 && one(one(aws_backup_plan.backup_plan.rule).lifecycle).delete_after == 120
    error_message = "Backups go cold after 30 days and are deleted after 120"
  }
  assert {
    condition     = aws_lambda_function.orchestrator_function.memory_size == 512 && aws_lambda_function.sync_worker_function.memory_size == 3008
    error_message = "Orchestrator gets 512 MB, worker 3008 MB"
  }
  assert {
    condition     = alltrue([for f in [aws_lambda_function.orchestrator_function, aws_lambda_function.sync_worker_function] : f.runtime == "nodejs22.x" && f.architectures[0] == "arm64" && length(f.architectures) == 1 && f.tracing_config[0].mode == "Active" && f.logging_config[0].log_format == "JSON"])
    error_message = "Lambdas run nodejs22.x on arm64 with X-Ray and JSON logs"
  }
  assert {
    condition     = aws_cloudwatch_log_group.orchestrator_logs.retention_in_days == 30 && aws_cloudwatch_log_group.sync_worker_logs.retention_in_days == 30
    error_message = "Lambda log groups keep 30 days"
  }
  assert {
    condition     = aws_ecs_task_definition.sync_task_task.cpu == "2048" && aws_ecs_task_definition.sync_task_task.memory == "8192"
    error_message = "The Fargate sync task has 2048 CPU units and 8192 MB"
  }
  assert {
    condition     = aws_ecr_repository.sync_repo_repo.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.sync_repo_repo.image_scanning_configuration[0].scan_on_push
    error_message = "ECR tags are immutable and scanned on push"
  }
  assert {
    condition     = length([for r in aws_s3_bucket_lifecycle_configuration.bottle_store_store_lifecycle.rule : r if(try(length(r.filter[0].tag), 0) == 1 ? try(r.expiration[0].days, 0) == 90 : false)]) == 1
    error_message = "Orphan-tagged bottles expire after 90 days"
  }
  assert {
    condition     = aws_lb_listener.load_balancer_https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06" && aws_lb.load_balancer_alb.drop_invalid_header_fields
    error_message = "HTTPS uses the TLS 1.3 policy and the ALB drops invalid headers"
  }
  assert {
    condition     = aws_lb_listener.load_balancer_http_redirect.default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "HTTP redirects to HTTPS"
  }
  assert {
    condition     = aws_lb_target_group.load_balancer_targets.health_check[0].path == "/health"
    error_message = "Target health checks hit /health"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_sync_freshness.threshold == 691200 && aws_cloudwatch_metric_alarm.monitoring_alarm_sync_freshness.period * aws_cloudwatch_metric_alarm.monitoring_alarm_sync_freshness.evaluation_periods < 604800
    error_message = "Freshness fires after 8 days of no publish, on a window shorter than the weekly cycle"
  }
  assert {
    condition     = aws_cloudtrail.audit_trail_trail.is_multi_region_trail && aws_cloudtrail.audit_trail_trail.enable_log_file_validation
    error_message = "CloudTrail is multi-region with log file validation"
  }
}

run "apply" {
  command = apply

  assert {
    condition = alltrue([for metric in ["BucketSizeBytes", "NumberOfObjects", "ConcurrentExecutions", "CPUUtilization", "MemoryUtilization", "RunningTaskCount", "BlockedRequests", "TargetResponseTime", "ReplicationLatency", "BytesTransferred"] : strcontains(aws_cloudwatch_dashboard.monitoring_dashboard.dashboard_body, "\"${metric}\"")])
    error_message = "The dashboard graphs sync, serving and data metrics"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.monitoring_dashboard.dashboard_body, "\"start\":\"-PT3H\"") && strcontains(aws_cloudwatch_dashboard.monitoring_dashboard.dashboard_body, "\"start\":\"-P30D\"")
    error_message = "Dashboard widgets carry time ranges that fit them"
  }

  assert {
    condition     = anytrue([for r in aws_s3_bucket_lifecycle_configuration.trail_replica_bucket_lifecycle.rule : r.id == "archive-audit-logs" ? try(r.expiration[0].days, 0) == 2555 : false]) && anytrue([for r in aws_s3_bucket_lifecycle_configuration.log_archive_replica_bucket_lifecycle.rule : r.id == "expire-access-logs"])
    error_message = "The DR copies of audit evidence expire as their sources do (S3 does not replicate lifecycle deletes)"
  }
  assert {
    condition     = length(aws_backup_selection.backup_selection.resources) == 1
    error_message = "The backup selection covers the state table; the bottle store is replicated instead"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.sync_task_task.container_definitions)[0].readonlyRootFilesystem && jsondecode(aws_ecs_task_definition.sync_task_task.container_definitions)[0].user != "root"
    error_message = "The sync container runs read-only and not as root"
  }

  assert {
    condition     = output.backup_plan_name == aws_backup_plan.backup_plan.name && output.backup_vault_name == aws_backup_vault.backup_vault.name
    error_message = "Backup outputs name the real plan and vault"
  }
  assert {
    condition     = output.error_alarm_name == aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_errors.alarm_name
    error_message = "error_alarm_name names the orchestrator error alarm"
  }
  assert {
    condition     = output.duration_alarm_name == aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_duration.alarm_name
    error_message = "duration_alarm_name names the orchestrator duration alarm"
  }
  assert {
    condition     = output.availability_alarm_name == aws_cloudwatch_metric_alarm.monitoring_alarm_alb_5xx_rate.alarm_name
    error_message = "availability_alarm_name names the ALB 5xx alarm"
  }
  assert {
    condition     = startswith(output.mirror_url, "https://") && strcontains(output.dashboard_url, "#dashboards:name=")
    error_message = "mirror_url and dashboard_url are usable URLs"
  }
  assert {
    condition     = output.security_config.cache_auth == "iam" && output.security_config.tls_policy == aws_lb_listener.load_balancer_https.ssl_policy
    error_message = "security_config reports the real cache auth and TLS policy"
  }
}
