# staging: same pieces as prod, sized down, on Spot with a single NAT and looser alarms.

run "staging_plan" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_errors.threshold == 5
    error_message = "staging tolerates more orchestrator errors than prod (5 vs 3)"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_duration.threshold == 300000
    error_message = "staging alarms on orchestrator runs over 5 minutes"
  }
  assert {
    condition     = aws_ecs_cluster_capacity_providers.cluster_capacity.capacity_providers == toset(["FARGATE", "FARGATE_SPOT"])
    error_message = "staging may use Fargate Spot"
  }
  assert {
    condition     = [for s in aws_ecs_service.mirror_service_service.capacity_provider_strategy : s.capacity_provider] == ["FARGATE_SPOT"]
    error_message = "staging mirror service runs on Spot"
  }
  assert {
    condition     = length(one(aws_backup_plan.backup_plan.rule).copy_action) == 0
    error_message = "staging does not copy backups across regions"
  }
}

run "staging_apply" {
  command = apply

  assert {
    condition     = output.environment_config.nat_gateways == 1 && output.environment_config.fargate_spot
    error_message = "staging uses a single NAT and Spot"
  }
}
