# prod's standby with a Route 53 zone: the secondary failover record, checked like the primary.

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
}
