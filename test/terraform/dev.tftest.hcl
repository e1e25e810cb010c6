# dev: smallest sizes, internal ALB, Spot, single NAT, loosest alarms.

run "dev_plan" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.monitoring_alarm_orchestrator_errors.threshold == 10
    error_message = "dev tolerates 10 orchestrator errors"
  }
  assert {
    condition     = aws_lb.load_balancer_alb.internal
    error_message = "dev's ALB is internal"
  }
  assert {
    condition     = [for s in aws_ecs_service.mirror_service_service.capacity_provider_strategy : s.capacity_provider] == ["FARGATE_SPOT"]
    error_message = "dev mirror service runs on Spot"
  }
  assert {
    condition     = aws_appautoscaling_scheduled_action.mirror_service_end_of_day.scalable_target_action[0].max_capacity == "0" && aws_appautoscaling_scheduled_action.mirror_service_end_of_day.schedule == "cron(0 19 ? * MON-FRI *)"
    error_message = "dev scales the mirror to zero at the end of the working day"
  }
  assert {
    condition     = aws_appautoscaling_scheduled_action.mirror_service_start_of_day.scalable_target_action[0].min_capacity == "2"
    error_message = "dev scales the mirror back to its minimum in the morning"
  }
}

run "dev_apply" {
  command = apply

  assert {
    condition     = output.environment_config.nat_gateways == 1 && output.environment_config.fargate_spot
    error_message = "dev uses a single NAT and Spot"
  }
}
