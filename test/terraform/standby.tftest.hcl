# Assertions that hold for every standby stack (<env>-standby, stacks/standby-stack.ts).
# Concatenated after mocks.tftest.hcl and before <env>-standby.tftest.hcl.

run "standby_apply" {
  command = apply

  assert {
    condition     = jsondecode(aws_ecs_task_definition.mirror_task_task.container_definitions)[0].image == "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod-brew/mirror-service@sha256:0000000000000000000000000000000000000000000000000000000000000000"
    error_message = "The standby runs the primary's mirror image, replicated to the DR region, by digest"
  }
  assert {
    condition = alltrue([
      for e in jsondecode(aws_ecs_task_definition.mirror_task_task.container_definitions)[0].environment :
      contains(["HBS_ENVIRONMENT", "HBS_BOTTLE_BUCKET", "HBS_STATE_TABLE", "HBS_STANDBY", "HBS_METRICS_NAMESPACE", "HBS_PORT", "HBS_SERVE_MODE", "HBS_PUBLIC_URL", "HBS_BYTE_BUDGET_PER_HOUR"], e.name)
    ])
    error_message = "The standby mirror reads only the standby contract (no cache in the DR region)"
  }
  assert {
    condition     = [for e in jsondecode(aws_ecs_task_definition.mirror_task_task.container_definitions)[0].environment : e.value if e.name == "HBS_BOTTLE_BUCKET"][0] == "prod-brew-bottles-replica-mock" && [for e in jsondecode(aws_ecs_task_definition.mirror_task_task.container_definitions)[0].environment : e.value if e.name == "HBS_STANDBY"][0] == "true"
    error_message = "The standby serves the bottle-store replica named in the handoff parameter, with the completeness gate on"
  }
  assert {
    condition     = [for e in jsondecode(aws_ecs_task_definition.mirror_task_task.container_definitions)[0].environment : e.value if e.name == "HBS_PUBLIC_URL"][0] == "https://bottles.example.com"
    error_message = "The standby hands out the primary's domain in /brew.env: clients reach it by that name after a failover"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.mirror_task_task.container_definitions)[0].logConfiguration.options["awslogs-region"] == "us-west-2"
    error_message = "The standby's tasks log in the DR region"
  }
  assert {
    condition     = aws_lb_listener.load_balancer_https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06" && aws_lb.load_balancer_alb.drop_invalid_header_fields && aws_lb.load_balancer_alb.enable_deletion_protection
    error_message = "The standby's ALB has the primary's TLS policy, header hygiene and deletion protection"
  }
  assert {
    condition     = aws_wafv2_web_acl_association.load_balancer_waf_association.web_acl_arn == aws_wafv2_web_acl.load_balancer_waf.arn && aws_wafv2_web_acl.load_balancer_waf.scope == "REGIONAL"
    error_message = "WAF protects the standby's ALB"
  }
  assert {
    condition     = aws_ecs_service.mirror_service_service.desired_count >= 2 && aws_appautoscaling_target.mirror_service_scaling.min_capacity >= 2
    error_message = "The standby is warm: at least two tasks, one per AZ"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.alarm_serving_clients.metric_name == "RequestCount" && length(aws_cloudwatch_metric_alarm.alarm_serving_clients.alarm_actions) == 1
    error_message = "The standby alarms when clients have failed over to it"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.alarm_alb_5xx_rate.alarm_actions) == 1 && length(aws_cloudwatch_metric_alarm.alarm_alb_unhealthy_targets.alarm_actions) == 1
    error_message = "The standby has the serving alarms (5xx rate, unhealthy targets)"
  }
  assert {
    condition     = aws_cloudwatch_dashboard.dashboard.dashboard_name == "prod-brew-standby-homebrew-mirror" && strcontains(output.dashboard_url, "region=us-west-2")
    error_message = "The standby has its own dashboard in the DR region, and its URL is an output"
  }
  assert {
    condition     = data.aws_ssm_parameter.replicas_handoff.name == "/prod-brew/standby/replicas"
    error_message = "The standby finds the replicas through the primary's handoff parameter in the DR region"
  }
}
