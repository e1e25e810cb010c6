# prod with a Route 53 zone (scripts/terraform-check.sh synthesizes this variant): the domain fails over.

run "primary_failover_record" {
  command = apply

  assert {
    condition     = aws_route53_record.dns_a.failover_routing_policy[0].type == "PRIMARY" && aws_route53_record.dns_a.set_identifier == "bottles.acme.dev-primary"
    error_message = "The primary ALB is the PRIMARY failover record of the domain"
  }
  assert {
    condition     = aws_route53_record.dns_a.health_check_id == aws_route53_health_check.endpoint_health_check.id && aws_route53_record.dns_a.alias[0].evaluate_target_health
    error_message = "The primary record follows its health check and the ALB's target health"
  }
  assert {
    condition     = aws_route53_health_check.endpoint_health_check.type == "HTTPS" && aws_route53_health_check.endpoint_health_check.resource_path == "/health" && aws_route53_health_check.endpoint_health_check.fqdn == aws_lb.load_balancer_alb.dns_name
    error_message = "The primary health check asks the primary ALB's /health over HTTPS"
  }
  assert {
    condition     = aws_route53_health_check.endpoint_health_check.request_interval == 10 && aws_route53_health_check.endpoint_health_check.failure_threshold == 3
    error_message = "The health check fails the primary after 3 failed checks 10 s apart (the RTO's detection budget)"
  }
  assert {
    condition     = jsondecode(aws_ssm_parameter.standby_handoff_parameter.insecure_value).bucket_arn == aws_s3_bucket.bottle_store_replica_bucket_bucket.arn
    error_message = "The primary hands the replica bucket over to the standby in the DR region"
  }
}
