# prod: on-demand only, one NAT per AZ, strict alarms.

run "prod_plan" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_store_egress.metric_name == "BytesDownloaded" && aws_cloudwatch_metric_alarm.monitoring_alarm_store_egress.dimensions["FilterId"] == aws_s3_bucket_metric.bottle_store_download_metrics.name && aws_cloudwatch_metric_alarm.monitoring_alarm_store_egress.period == 3600
    error_message = "an alarm watches the bytes clients download from the store per hour, from the bucket's request metrics (issue #25 fault 12)"
  }
  assert {
    condition     = aws_ecr_repository_creation_template.replica_repository_template_template.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository_creation_template.replica_repository_template_template.encryption_configuration[0].encryption_type == "KMS" && contains(aws_ecr_repository_creation_template.replica_repository_template_template.applied_for, "REPLICATION") && aws_ecr_repository_creation_template.replica_repository_template_template.prefix == "prod-brew"
    error_message = "repositories ECR replication creates in the DR region are immutable and KMS-encrypted (issue #25 fault 5)"
  }
  assert {
    condition     = aws_lambda_code_signing_config.code_signing_config.policies[0].untrusted_artifact_on_deployment == "Enforce" && aws_signer_signing_profile.code_signing_profile.platform_id == "AWSLambda-SHA384-ECDSA"
    error_message = "prod Lambdas run only code its signing profile signed"
  }
  assert {
    condition     = aws_lambda_function.orchestrator_function.code_signing_config_arn != null && aws_lambda_function.sync_worker_function.code_signing_config_arn != null
    error_message = "both prod functions are under the code-signing config"
  }
  assert {
    condition     = aws_s3_bucket_replication_configuration.trail_replica_replication.rule[0].status == "Enabled" && aws_s3_bucket_replication_configuration.log_archive_replica_replication.rule[0].status == "Enabled"
    error_message = "the trail bucket and the log archive replicate to the DR region"
  }
  assert {
    condition     = aws_cloudwatch_log_group.network_flow_logs.retention_in_days >= 365 && aws_cloudwatch_log_group.load_balancer_waf_logs.retention_in_days >= 365 && aws_cloudwatch_log_group.audit_trail_logs.retention_in_days >= 365
    error_message = "security logs are kept at least a year"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_errors.threshold == 3 && aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_errors.comparison_operator == "GreaterThanOrEqualToThreshold"
    error_message = "prod alarms on 3 or more orchestrator errors"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_duration.threshold == 180000
    error_message = "prod alarms when the orchestrator runs over 3 minutes"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_alb_p99_latency.threshold == 0.5 && aws_cloudwatch_metric_alarm.monitoring_alarm_alb_p99_latency.extended_statistic == "p99"
    error_message = "prod alarms on p99 latency over 500 ms"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_monthly_cost.threshold == 1200 && aws_cloudwatch_metric_alarm.monitoring_alarm_monthly_cost.metric_name == "EstimatedCharges"
    error_message = "prod alarms on $1200 of estimated charges (prod and its standby)"
  }
  assert {
    condition     = aws_vpc_endpoint.network_aws_apis_ecr_dkr.private_dns_enabled && length(aws_vpc_endpoint.network_aws_apis_ecr_dkr.subnet_ids) == 3 && aws_vpc_security_group_egress_rule.mirror_to_aws_apis_egress.referenced_security_group_id == aws_security_group.network_aws_apis_sg.id
    error_message = "prod's mirror tasks reach ECR through interface endpoints in all three AZs, by their security group (issue #24)"
  }
  assert {
    condition     = aws_ecs_cluster_capacity_providers.cluster_capacity.capacity_providers == toset(["FARGATE"])
    error_message = "prod runs on-demand Fargate only"
  }
  assert {
    condition     = [for s in aws_ecs_service.mirror_service_service.capacity_provider_strategy : s.capacity_provider] == ["FARGATE"] && aws_ecs_service.mirror_service_service.desired_count >= 2
    error_message = "prod mirror service: on-demand, at least 2 tasks"
  }
  assert {
    condition     = aws_elasticache_replication_group.cache_group.num_cache_clusters == 3
    error_message = "prod cache has a node in each AZ"
  }
  assert {
    condition     = aws_lb.load_balancer_alb.enable_deletion_protection && !aws_lb.load_balancer_alb.internal
    error_message = "prod ALB is internet-facing with deletion protection"
  }
  assert {
    condition     = length(one(aws_backup_plan.backup_plan.rule).copy_action) == 1
    error_message = "prod copies backups to the DR region"
  }
}

run "prod_apply" {
  command = apply

  assert {
    condition     = length(aws_backup_region_settings.backup_region_settings.resource_type_opt_in_preference) == 17 && alltrue(values(aws_backup_region_settings.backup_region_settings.resource_type_opt_in_preference)) && aws_backup_region_settings.backup_region_settings.resource_type_management_preference["DynamoDB"]
    error_message = "The Backup Region settings name every resource type (the provider reads the whole map back), all opted in, DynamoDB fully managed"
  }

  assert {
    condition     = aws_s3_bucket_replication_configuration.bottle_store_replica_replication.rule[0].destination[0].replication_time[0].status == "Enabled" && aws_s3_bucket_replication_configuration.bottle_store_replica_replication.rule[0].destination[0].metrics[0].status == "Enabled"
    error_message = "the bottle store replicates to the DR region with Replication Time Control and its metrics (the replication alarms read them)"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_store_replication_latency.threshold == 300 && aws_cloudwatch_metric_alarm.monitoring_alarm_store_replication_latency.dimensions.DestinationBucket == aws_s3_bucket.bottle_store_replica_bucket_bucket.bucket
    error_message = "prod alarms when bottle-store replication takes longer than the 5-minute RPO budget"
  }
  assert {
    condition     = aws_ssm_parameter.standby_handoff_parameter.name == "/prod-brew/standby/replicas" && jsondecode(aws_ssm_parameter.standby_handoff_parameter.insecure_value).table == aws_dynamodb_table.state_table_table.name
    error_message = "prod hands its replicas over to the standby in the DR region"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_endpoint_unhealthy.dimensions.HealthCheckId == aws_route53_health_check.endpoint_health_check.id && aws_route53_health_check.endpoint_health_check.fqdn == aws_lb.load_balancer_alb.dns_name
    error_message = "prod alarms when Route 53 health checkers fail its ALB's /health"
  }

  assert {
    condition     = output.environment_config.nat_gateways == 3 && !output.environment_config.fargate_spot
    error_message = "prod has one NAT per AZ and no Spot"
  }
}
