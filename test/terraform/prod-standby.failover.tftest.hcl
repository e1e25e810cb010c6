# prod's standby with a Route 53 zone and promoted to writer (scripts/terraform-check.sh
# synthesizes this variant): the secondary failover record, and the promoted sync.

run "secondary_failover_record" {
  command = apply

  assert {
    condition     = aws_route53_record.dns_a.failover_routing_policy[0].type == "SECONDARY" && aws_route53_record.dns_a.name == "bottles.acme.dev" && aws_route53_record.dns_a.set_identifier == "bottles.acme.dev-secondary"
    error_message = "The standby's ALB is the SECONDARY failover record of the same name"
  }
  assert {
    condition     = aws_route53_record.dns_a.health_check_id == aws_route53_health_check.endpoint_health_check.id && aws_route53_health_check.endpoint_health_check.resource_path == "/health" && aws_route53_health_check.endpoint_health_check.fqdn == aws_lb.load_balancer_alb.dns_name
    error_message = "The secondary record has its own health check on the standby ALB's /health"
  }
  assert {
    condition     = aws_lb_listener.load_balancer_https.certificate_arn == "arn:aws:acm:us-west-2:123456789012:certificate/1f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    error_message = "The standby's listener uses the DR region's certificate"
  }
  assert {
    condition     = [for e in jsondecode(aws_ecs_task_definition.promoted_sync_task_task.container_definitions)[0].environment : e.value if e.name == "HBS_WRITER_ROLE"][0] == "promoted" && [for e in jsondecode(aws_ecs_task_definition.promoted_sync_task_task.container_definitions)[0].environment : e.value if e.name == "HBS_BOTTLE_BUCKET"][0] == "prod-brew-bottles-replica-mock"
    error_message = "The promoted sync runs in its promoted role against the bottle-store replica"
  }
  assert {
    condition     = aws_cloudwatch_event_rule.promoted_sync_schedule.schedule_expression == "cron(0 3 ? * SUN *)" && aws_cloudwatch_event_target.promoted_sync_target.ecs_target[0].task_definition_arn == aws_ecs_task_definition.promoted_sync_task_task.arn && aws_cloudwatch_event_target.promoted_sync_target.ecs_target[0].launch_type == "FARGATE"
    error_message = "EventBridge starts the promoted sync weekly, as the primary's schedule"
  }
}
