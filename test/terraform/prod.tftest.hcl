# prod: on-demand only, one NAT per AZ, strict alarms.

run "prod_plan" {
  command = plan

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
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_monthly_cost.threshold == 1000 && aws_cloudwatch_metric_alarm.monitoring_alarm_monthly_cost.metric_name == "EstimatedCharges"
    error_message = "prod alarms on $1000 of estimated charges"
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
    condition     = output.environment_config.nat_gateways == 3 && !output.environment_config.fargate_spot
    error_message = "prod has one NAT per AZ and no Spot"
  }
}
