# prod's standby in us-west-2: two warm tasks, scaling to prod's maximum on failover.

run "prod_standby_plan" {
  command = plan

  assert {
    condition     = aws_appautoscaling_target.mirror_service_scaling.min_capacity == 2 && aws_appautoscaling_target.mirror_service_scaling.max_capacity == 12
    error_message = "prod's standby keeps 2 warm tasks and scales to 12, as the primary"
  }
  assert {
    condition     = aws_vpc.network_vpc.cidr_block == "10.31.0.0/16" && length(aws_nat_gateway.network_nat_0[*]) == 1
    error_message = "prod's standby VPC is 10.31.0.0/16 with a single NAT gateway"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.alarm_serving_clients.threshold == 2000
    error_message = "prod's standby calls 2,000 requests per 5 minutes a failover"
  }
}
